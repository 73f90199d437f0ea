"""Frame sources: video files, cameras that drop, corrupt frames, and Picamera2 (faked)."""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

from fer_edge.errors import FerEdgeError
from fer_edge.sources import OpenCVSource, PicameraSource, SourceOptions


def test_video_file_source_yields_rgb_and_ends(red_video):
    source = OpenCVSource(str(red_video))
    frames = list(source.frames())
    assert len(frames) == 12 and source.stats.frames == 12
    assert frames[0][..., 0].mean() > 200 and frames[0][..., 2].mean() < 50  # red stays red in RGB


def test_unopenable_sources(tmp_path):
    with pytest.raises(FerEdgeError, match=r"cannot open video source '.*missing\.mp4': no such file, and not a"):
        OpenCVSource(str(tmp_path / "missing.mp4"))
    (tmp_path / "junk.mp4").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(FerEdgeError, match=r"cannot open video file '.*junk\.mp4': OpenCV cannot decode it"):
        OpenCVSource(str(tmp_path / "junk.mp4"))
    with pytest.raises(FerEdgeError, match=r"cannot open camera '9'; check that it is connected \(ls /dev/video"):
        OpenCVSource("9", capture_factory=lambda target, *args: FakeCapture([], opened=False))
    with pytest.raises(FerEdgeError, match=r"cannot open stream 'rtsp://kiosk/live' \(no answer within 5 s\)"):
        OpenCVSource("rtsp://kiosk/live", SourceOptions(read_timeout_s=5.0),
                     capture_factory=lambda target, *args: FakeCapture([], opened=False))


@pytest.mark.parametrize("spec", ["", "  "])
def test_an_empty_source_is_named_as_such(spec):
    from fer_edge.sources import open_source

    with pytest.raises(FerEdgeError, match="^the video source is empty; pass picamera, a camera index"):
        open_source(spec)


@pytest.mark.parametrize("options", [{"read_timeout_s": float("nan")}, {"read_timeout_s": 0.0},
                                     {"reconnect_budget_s": float("inf")}, {"backoff_s": -1.0},
                                     {"max_backoff_s": float("nan")}])
def test_source_times_must_be_finite_and_in_range(options):
    with pytest.raises(FerEdgeError, match="read timeout must be positive.*all finite"):
        SourceOptions(**options)


def test_a_file_that_opens_but_gives_no_frame_is_an_error(tmp_path):
    unreadable = tmp_path / "text.png"
    unreadable.write_text("hello")  # FFmpeg opens it as an image sequence, then reads nothing
    source = OpenCVSource(str(unreadable))
    with pytest.raises(FerEdgeError, match=r"no frame could be read from .*text\.png.*damaged, empty or unsupported"):
        list(source.frames())
    faked = OpenCVSource("clip.mp4", capture_factory=lambda target: FakeCapture([]))
    with pytest.raises(FerEdgeError, match="no frame could be read from 'clip.mp4'"):
        list(faked.frames())


def test_a_file_of_corrupt_frames_only_ends_without_error_and_counts_them():
    source = OpenCVSource("clip.mp4", capture_factory=lambda target: FakeCapture([(True, None), (True, None)]))
    assert list(source.frames()) == [] and source.stats.corrupt == 2


def test_a_file_stopped_before_its_first_frame_is_no_error():
    stop = threading.Event()
    stop.set()
    source = OpenCVSource("clip.mp4", capture_factory=lambda target: FakeCapture([]), stop=stop)
    assert list(source.frames()) == []


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


class StallingCapture(FakeCapture):
    """Gives `frames` good frames, then blocks inside read() like a stream that stops sending."""

    def __init__(self, frames):
        super().__init__([(True, np.zeros((8, 8, 3), np.uint8))] * frames)
        self.unblock = threading.Event()

    def read(self):
        if self.reads:
            return self.reads.pop(0)
        self.unblock.wait(30)
        return False, None


def stop_after(stop, seconds):
    threading.Timer(seconds, stop.set).start()


def test_stop_ends_a_stalled_stream_within_a_second():
    capture, stop = StallingCapture(3), threading.Event()
    source = OpenCVSource("0", SourceOptions(), lambda target: capture, stop=stop)
    stop_after(stop, 0.3)
    start = time.monotonic()
    frames = list(source.frames())
    source.close()
    assert len(frames) == 3 and time.monotonic() - start < 1.0
    capture.unblock.set()


def test_stop_ends_a_reconnect_backoff_within_a_second():
    scripts = [[(True, np.zeros((8, 8, 3), np.uint8))]]
    stop = threading.Event()

    def factory(target):
        script = scripts.pop(0) if scripts else None
        return FakeCapture(script or [], opened=script is not None)

    source = OpenCVSource("0", SourceOptions(reopen_attempts=5, backoff_s=8.0), factory, stop=stop)
    stop_after(stop, 0.3)
    start = time.monotonic()
    assert len(list(source.frames())) == 1  # stopped while waiting 8 s to reopen: no error
    assert time.monotonic() - start < 1.0


def test_reconnect_budget_bounds_the_time_spent_reopening():
    scripts = [[(True, np.zeros((8, 8, 3), np.uint8))]]

    def factory(target):
        script = scripts.pop(0) if scripts else None
        return FakeCapture(script or [], opened=script is not None)

    options = SourceOptions(reopen_attempts=100, backoff_s=0.1, max_backoff_s=0.2, reconnect_budget_s=0.6)
    source = OpenCVSource("0", options, factory)
    start = time.monotonic()
    with pytest.raises(FerEdgeError, match=r"after \d tries \(0.6 s reconnect budget\)"):
        list(source.frames())
    assert 0.3 < time.monotonic() - start < 1.0


def test_bad_source_options_are_refused():
    with pytest.raises(FerEdgeError, match="read timeout"):
        SourceOptions(read_timeout_s=0)


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
