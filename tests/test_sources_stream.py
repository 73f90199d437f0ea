"""A real MJPEG-over-HTTP stream that stalls: `fer-edge run` gives up on time and stops on SIGTERM at once."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and sockets as on a Pi")


class StallingStream:
    """Serves `frames` JPEG frames per connection (the first connection only, with `first_only`), then stalls."""

    def __init__(self, frames: int = 20, first_only: bool = False):
        self.frames, self.first_only, self.connections = frames, first_only, 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._closed = threading.Event()
        ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
        self._jpeg = jpeg.tobytes()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/stream.mjpg"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            conn.recv(65536)
            if self.first_only and number > 1:
                self._closed.wait(60)  # accepted, never answered
                return
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(self._jpeg)
            for _ in range(self.frames):
                conn.sendall(part + self._jpeg + b"\r\n")
                time.sleep(0.03)
            self._closed.wait(60)  # the stall

    def close(self) -> None:
        self._closed.set()
        self._server.close()


@pytest.fixture
def stream():
    server = StallingStream(first_only=True)
    yield server
    server.close()


def start_run(url: str, jsonl, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fer_edge", "run", "--source", url, "--jsonl", str(jsonl),
                             "--smoothing", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def frame_lines(path) -> int:
    """Per-frame lines of a `run --jsonl` file (besides them: run, session and summary events)."""
    return sum('"type": "frame"' in line for line in path.read_text().splitlines()) if path.exists() else 0


def wait_for_lines(path, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if frame_lines(path) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {count} frame lines")


def test_sigterm_during_a_stall_stops_run_within_a_second(stream, tmp_path):
    jsonl = tmp_path / "events.jsonl"
    process = start_run(stream.url, jsonl, "--read-timeout", "30", "--reconnect-budget", "60")
    wait_for_lines(jsonl, stream.frames)
    time.sleep(0.5)  # now inside a read that would block for 30 s
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert time.monotonic() - sent < 1.0, err
    assert process.returncode == 0 and "frames 20," in out and "Traceback" not in err
    assert frame_lines(jsonl) == 20


def test_sigterm_during_reconnect_stops_run_within_a_second(stream, tmp_path):
    jsonl = tmp_path / "events.jsonl"
    process = start_run(stream.url, jsonl, "--read-timeout", "0.5", "--reconnect-budget", "60")
    wait_for_lines(jsonl, stream.frames)
    deadline = time.monotonic() + 10
    while stream.connections < 2 and time.monotonic() < deadline:  # dropped after 0.5 s of silence: reopening
        time.sleep(0.05)
    time.sleep(0.2)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert stream.connections >= 2 and time.monotonic() - sent < 1.0, err
    assert process.returncode == 0 and "Traceback" not in err


def test_a_stream_that_never_comes_back_ends_with_a_clean_error_on_time(stream, tmp_path):
    jsonl = tmp_path / "events.jsonl"
    start = time.monotonic()
    process = start_run(stream.url, jsonl, "--read-timeout", "0.5", "--reconnect-budget", "2")
    out, err = process.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert process.returncode == 1 and lines and "could not reopen" in lines[0] and "Traceback" not in err
    assert frame_lines(jsonl) == 20
    assert time.monotonic() - start < 20  # model load + 20 frames + 0.5 s stall + 2 s budget, not minutes


def frame_count(path) -> int:
    capture, frames = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        frames += 1
    return frames


@pytest.mark.parametrize("record, segment", [("rec.avi", "0"), ("rec.mp4", "1")])
def test_a_recording_survives_sigkill(stream, tmp_path, record, segment):
    jsonl = tmp_path / "events.jsonl"
    process = start_run(stream.url, jsonl, "--record", str(tmp_path / record), "--record-segment", segment,
                        "--max-fps", "10", "--read-timeout", "30")
    wait_for_lines(jsonl, stream.frames)
    time.sleep(0.5)
    process.kill()
    process.communicate(timeout=20)
    if record.endswith(".avi"):
        assert frame_count(tmp_path / record) >= 10  # playable, up to the last frames OpenCV had buffered
    else:  # 10 frames a segment at 10 FPS: the first is finished, the second was open at the kill
        assert frame_count(tmp_path / "rec-0001.mp4") == 10
