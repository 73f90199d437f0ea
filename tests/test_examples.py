"""The README's examples run: the OpenCV webcam loop on a video, the Picamera2 loop against a fake camera."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FACE_PHOTO, write_video

ROOT = Path(__file__).resolve().parent.parent
LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "anger", "contempt", "happiness",
          "sadness")

FAKE_PICAMERA2 = '''
"""A stand-in for picamera2: two streams of one astronaut photo; it records how it was configured."""
import json, os
import cv2
import numpy as np

class _Request:
    def __init__(self, main_bgr, lores_yuv):
        self.arrays = {"main": main_bgr, "lores": lores_yuv}
    def make_array(self, name):
        return self.arrays[name].copy()
    def release(self):
        pass

class Picamera2:
    def create_video_configuration(self, main, lores):
        return {"main": main, "lores": lores}
    def configure(self, config):
        self.config = config
        with open(os.environ["FAKE_CAMERA_LOG"], "w") as out:
            json.dump(config, out)
    def start(self):
        rgb = np.zeros((480, 640, 3), np.uint8)
        photo = cv2.cvtColor(cv2.imread(os.environ["FAKE_CAMERA_PHOTO"]), cv2.COLOR_BGR2RGB)
        rgb[40:440, 120:520] = cv2.resize(photo, (400, 400))
        lores = cv2.resize(rgb, tuple(self.config["lores"]["size"]), interpolation=cv2.INTER_AREA)
        self.request = _Request(np.ascontiguousarray(rgb[..., ::-1]), cv2.cvtColor(lores, cv2.COLOR_RGB2YUV_I420))
    def capture_request(self):
        return self.request
    def stop(self):
        pass
'''


def run_example(name: str, *args: str, env: dict | None = None) -> list[str]:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                            timeout=300, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def assert_faces_found(lines: list[str], frames: int) -> None:
    assert len(lines) == frames
    for number, line in enumerate(lines, start=1):
        prefix, _, rest = line.partition(": ")
        label, confidence = rest.split(", ")[0].split()
        assert prefix == f"frame {number}" and label in LABELS and 0 < float(confidence) <= 1


@pytest.mark.subprocess
def test_webcam_example_on_a_video(tmp_path):
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[40:440, 120:520] = cv2.resize(cv2.imread(str(FACE_PHOTO)), (400, 400))
    video = write_video(tmp_path / "face.mp4", [frame] * 4)
    assert_faces_found(run_example("webcam.py", "--source", str(video), "--no-window", "--frames", "3"), 3)


@pytest.mark.subprocess
def test_picamera2_example_detects_on_lores_and_crops_main(tmp_path):
    fakes = tmp_path / "fakes" / "picamera2"
    fakes.mkdir(parents=True)
    (fakes / "__init__.py").write_text(textwrap.dedent(FAKE_PICAMERA2))
    log = tmp_path / "camera.json"
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "fakes"), os.environ.get("PYTHONPATH", "")]),
           "FAKE_CAMERA_LOG": str(log), "FAKE_CAMERA_PHOTO": str(FACE_PHOTO)}
    assert_faces_found(run_example("picamera2_kiosk.py", "--frames", "2", env=env), 2)
    config = log.read_text()
    assert '"format": "RGB888"' in config and '"format": "YUV420"' in config and "[320, 240]" in config
