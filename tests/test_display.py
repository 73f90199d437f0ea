"""`fer-edge run --display` for real: OpenCV with GUI support, a virtual X screen (Xvfb), a real window."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xwininfo")), reason="apt-get install xvfb x11-utils"),
]


@pytest.fixture(scope="module")
def gui_opencv(tmp_path_factory):
    """The GUI build of the same OpenCV version, installed beside (not over) the headless one."""
    target = tmp_path_factory.mktemp("opencv-gui")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                             f"opencv-python=={version('opencv-python-headless')}"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot install opencv-python: {result.stderr[-300:]}")
    return target


@pytest.fixture()
def screen():
    display = f":{90 + os.getpid() % 9}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield display
    server.terminate()
    server.wait(timeout=10)


def windows(display: str) -> str:
    return subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True,
                          env={**os.environ, "DISPLAY": display}).stdout


def test_run_shows_a_window_on_a_virtual_screen(gui_opencv, screen, converted, tmp_path):
    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for _ in range(40):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    env = {**os.environ, "DISPLAY": screen, "PYTHONPATH": str(gui_opencv)}
    process = subprocess.Popen([sys.executable, "-m", "fer_edge", "run", "--source", str(video), "--model",
                                str(converted["int8"].path), "--detector", "none", "--display", "--max-fps", "10"],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = False
    for _ in range(40):
        if '"fer-edge"' in windows(screen):
            seen = True
            break
        time.sleep(0.1)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert seen, "no fer-edge window appeared"
    assert out.startswith("frames 40, faces 40")
