"""Device runtime: recognizer, frame sources, smoothing and the kiosk loop, on generated video."""

from __future__ import annotations

import json
import sys
import threading
import types

import cv2
import numpy as np
import pytest

from fer_edge.dataset import load_labeled_folder
from fer_edge.errors import FerEdgeError
from fer_edge.faces import FaceBox, WholeImageDetector
from fer_edge.interpreter import TFLiteClassifier
from fer_edge.kiosk import KioskOptions, Window, run_kiosk
from fer_edge.recognizer import FaceResult, Recognizer
from fer_edge.results import ClassProbabilities
from fer_edge.sources import OpenCVSource, PicameraSource, SourceOptions
from fer_edge.tracking import SmoothingTracker


def write_video(path, frames_bgr, fps=10):
    height, width = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture()
def red_video(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    return write_video(tmp_path / "red.mp4", [frame] * 12)


@pytest.fixture(scope="module")
def recognizer(converted):
    return Recognizer(TFLiteClassifier(converted["int8"].path), WholeImageDetector())


def test_recognizer_matches_verification_on_the_same_crops(converted, trained):
    """Same crops, same probabilities as convert's verification: the preprocessing is shared."""
    _, data, _ = trained
    classifier = TFLiteClassifier(converted["int8"].path)
    _, split, _ = load_labeled_folder(data / "val", classifier.metadata.preprocessing)
    expected = classifier.predict_pixels(split.pixels[:6])
    recognizer = Recognizer(classifier, WholeImageDetector())
    for path, probabilities in zip(split.paths[:6], expected):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        face = recognizer.recognize(rgb)[0]
        np.testing.assert_allclose(face.expression.probabilities, probabilities, atol=1e-6)


def test_all_faces_of_a_frame_in_one_batch(recognizer):
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [FaceBox(10, 10, 40, 40), FaceBox(80, 20, 50, 60), FaceBox(-5, 70, 40, 40)]
    calls = []
    original = recognizer.classifier.predict_pixels
    recognizer.classifier.predict_pixels = lambda pixels: calls.append(len(pixels)) or original(pixels)
    try:
        batched = recognizer.classify(frame, boxes)
    finally:
        recognizer.classifier.predict_pixels = original
    assert calls == [3]
    one = [recognizer.classify(frame, [box])[0] for box in boxes]
    for a, b in zip(batched, one):
        np.testing.assert_allclose(a.expression.probabilities, b.expression.probabilities, atol=1e-6)
    assert recognizer.classify(frame, []) == []


def test_video_file_source_yields_rgb_and_ends(red_video):
    source = OpenCVSource(str(red_video))
    frames = list(source.frames())
    assert len(frames) == 12 and source.stats.frames == 12
    assert frames[0][..., 0].mean() > 200 and frames[0][..., 2].mean() < 50  # red stays red in RGB


def test_unopenable_sources(tmp_path):
    with pytest.raises(FerEdgeError, match="cannot open video source"):
        OpenCVSource(str(tmp_path / "missing.mp4"))
    with pytest.raises(FerEdgeError, match="cannot open camera '9'"):
        OpenCVSource("9", capture_factory=lambda target: FakeCapture([], opened=False))


class FakeCapture:
    """Scripted capture: a list of (ok, frame) reads; then read() fails."""

    def __init__(self, reads, opened=True):
        self.reads, self.opened = list(reads), opened

    def isOpened(self):
        return self.opened

    def read(self):
        return self.reads.pop(0) if self.reads else (False, None)

    def set(self, *args):
        return True

    def get(self, prop):
        return 0.0

    def release(self):
        pass


def test_dropped_camera_is_reopened_with_backoff_and_corrupt_frames_counted():
    good = (True, np.zeros((8, 8, 3), np.uint8))
    scripts = [[good, good, (True, None), good], None, [good, good]]  # drop; one failed reopen; recover
    sleeps = []

    def factory(target):
        script = scripts.pop(0) if scripts else None
        return FakeCapture(script or [], opened=script is not None)

    source = OpenCVSource("0", SourceOptions(reopen_attempts=3, backoff_s=0.1), factory, sleeps.append)
    frames = []
    with pytest.raises(FerEdgeError, match="could not reopen"):
        for frame in source.frames():
            frames.append(frame)
    assert len(frames) == 5
    assert source.stats.corrupt == 1 and source.stats.reopens == 1
    assert sleeps[:2] == [0.1, 0.2]  # backoff doubles after the failed try


def test_picamera_source_with_a_fake_module(monkeypatch):
    calls = []

    class FakePicamera2:
        def create_video_configuration(self, main):
            calls.append(main)
            return main

        def configure(self, config):
            pass

        def start(self):
            pass

        def capture_array(self):
            frame = np.zeros((4, 4, 3), np.uint8)
            frame[..., 0] = 255  # blue first: RGB888 is BGR in memory
            return frame

        def stop(self):
            calls.append("stop")

        def close(self):
            pass

    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    source = PicameraSource(SourceOptions(width=320, height=240))
    frame = next(source.frames())
    assert frame[0, 0].tolist() == [0, 0, 255]
    source.close()
    assert calls == [{"format": "RGB888", "size": (320, 240)}, "stop"]


def test_picamera_missing_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(FerEdgeError, match="python3-picamera2.*--system-site-packages"):
        PicameraSource()


def face(probabilities, box=FaceBox(0, 0, 10, 10)):
    return FaceResult(box, ClassProbabilities(("a", "b"), probabilities))


def test_smoothing_tracks_and_averages():
    tracker = SmoothingTracker(window=2)
    first = tracker.update([face((1.0, 0.0))])
    second = tracker.update([face((0.0, 1.0), FaceBox(1, 0, 10, 10)), face((0.5, 0.5), FaceBox(50, 50, 10, 10))])
    assert first[0][0] == 0 and second[0][0] == 0 and second[1][0] == 1
    assert second[0][1].expression.probabilities == (0.5, 0.5)
    assert second[1][1].expression.probabilities == (0.5, 0.5)


def test_kiosk_writes_events_video_and_heartbeat(recognizer, red_video, tmp_path):
    options = KioskOptions(jsonl=tmp_path / "events.jsonl", record=tmp_path / "out.mp4",
                           heartbeat=tmp_path / "alive", smoothing=3)
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, options)
    assert summary.frames == 12 and summary.faces == 12
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(1, 13))
    assert lines[0]["faces"][0]["track"] == 0 and lines[0]["faces"][0]["label"] in recognizer.classifier.metadata.labels
    assert (tmp_path / "alive").exists()
    assert cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT) == 12


def test_kiosk_stops_on_signal_and_max_frames(recognizer, red_video, tmp_path):
    stop = threading.Event()
    stop.set()
    assert run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(), stop).frames == 1
    summary = run_kiosk(OpenCVSource(str(red_video)), recognizer, KioskOptions(max_frames=5, max_fps=100))
    assert summary.frames == 5


def test_display_without_gui_support_is_a_clear_error():
    if "GUI:                           NONE" not in cv2.getBuildInformation().replace("\t", " "):
        gui = [line for line in cv2.getBuildInformation().splitlines() if "GUI" in line]
        if gui and "NONE" not in gui[0]:
            pytest.skip("this OpenCV has GUI support")
    with pytest.raises(FerEdgeError, match=r"fer-edge\[display\]"):
        Window()
