"""The kiosk loop: frames -> recognition -> smoothing -> events, recording, display, heartbeat."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.draw import annotate
from fer_edge.errors import FerEdgeError, OutputError
from fer_edge.files import append_line, open_append
from fer_edge.recognizer import Recognizer
from fer_edge.tracking import SmoothingTracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KioskOptions:
    """What the loop does besides recognizing.

    Attributes:
        max_fps: process at most this many frames per second (0: as fast as possible).
        smoothing: average each tracked face over this many frames (0 or 1: off).
        jsonl: append one JSON line per frame here.
        record: write the annotated video here (.mp4).
        display: show the annotated video in a window (needs OpenCV with GUI support).
        heartbeat: touch this file at most once a second (for health checks).
        max_frames: stop after this many frames (0: until the source ends or a stop signal).
    """

    max_fps: float = 0.0
    smoothing: int = 5
    jsonl: Path | None = None
    record: Path | None = None
    display: bool = False
    heartbeat: Path | None = None
    max_frames: int = 0


@dataclass(frozen=True)
class KioskSummary:
    """What a run did."""

    frames: int
    faces: int
    corrupt_frames: int
    reopens: int
    seconds: float

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class VideoRecorder:
    """An .mp4 writer opened at the first frame's size."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self._writer = Path(path), fps or 15.0, None

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame."""
        import cv2

        if self._writer is None:
            height, width = frame_rgb.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._writer.isOpened():
                raise FerEdgeError(f"cannot write video {self.path}")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()


class Window:
    """An OpenCV window; fails clearly when OpenCV was built without GUI support (headless wheel)."""

    name = "fer-edge"

    def __init__(self):
        import cv2

        self._cv2 = cv2
        try:
            cv2.namedWindow(self.name, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise FerEdgeError(
                "--display needs OpenCV with GUI support, and opencv-python-headless has none: "
                'pip uninstall opencv-python-headless && pip install "fer-edge[display]"') from exc

    def show(self, frame_rgb: np.ndarray) -> bool:
        """Show a frame; False when the user pressed q or Esc."""
        self._cv2.imshow(self.name, self._cv2.cvtColor(frame_rgb, self._cv2.COLOR_RGB2BGR))
        return self._cv2.waitKey(1) & 0xFF not in (ord("q"), 27)

    def close(self) -> None:
        """Close the window."""
        self._cv2.destroyWindow(self.name)


def frame_event(index: int, faces) -> dict:
    """The JSON-lines record of one frame."""
    return {"frame": index, "time": round(time.time(), 3),
            "faces": [{"track": track, **face.to_dict()} for track, face in faces]}


def _open_outputs(stack: contextlib.ExitStack, options: KioskOptions, fps: float):
    events = stack.enter_context(open_append(options.jsonl)) if options.jsonl else None
    _touch(options.heartbeat, float("-inf"))  # an unwritable heartbeat file fails before the first frame
    recorder = window = None
    if options.record:
        recorder = VideoRecorder(options.record, options.max_fps or fps)
        stack.callback(recorder.close)
    if options.display:
        window = Window()
        stack.callback(window.close)
    return events, recorder, window


class _Pacer:
    """Keeps the loop at or under max_fps and measures the recent frame rate."""

    def __init__(self, max_fps: float):
        self.interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.fps, self._last = 0.0, time.perf_counter()

    def tick(self) -> None:
        elapsed = time.perf_counter() - self._last
        if elapsed < self.interval:
            time.sleep(self.interval - elapsed)
        now = time.perf_counter()
        rate = 1.0 / max(now - self._last, 1e-6)
        self.fps = rate if self.fps == 0 else 0.9 * self.fps + 0.1 * rate
        self._last = now


def _touch(path: Path | None, last: float) -> float:
    now = time.monotonic()
    if path is not None and now - last >= 1.0:
        try:
            path.touch()
        except OSError as exc:
            raise OutputError(f"cannot write the heartbeat file {path}: {exc.strerror or exc}") from exc
        return now
    return last


def run_kiosk(source, recognizer: Recognizer, options: KioskOptions = KioskOptions(),
              stop: threading.Event | None = None) -> KioskSummary:
    """Recognize every frame of `source` until it ends, `stop` is set, or `max_frames` is reached.

    Output files are flushed every frame and closed on the way out, whatever ends the loop.
    """
    stop = stop or threading.Event()
    tracker = SmoothingTracker(window=max(1, options.smoothing))
    pacer, start, faces_seen, beat, index = _Pacer(options.max_fps), time.perf_counter(), 0, 0.0, 0
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        events, recorder, window = _open_outputs(stack, options, getattr(source, "fps", 0.0))
        for index, frame in enumerate(source.frames(), start=1):
            faces = tracker.update(recognizer.recognize_rgb(frame))
            faces_seen += len(faces)
            if events:
                append_line(events, json.dumps(frame_event(index, faces)))
            if recorder or window:
                annotated = annotate(frame, [face for _, face in faces], pacer.fps)
                if recorder:
                    recorder.write(annotated)
                if window and not window.show(annotated):
                    break
            beat = _touch(options.heartbeat, beat)
            pacer.tick()
            if stop.is_set() or (options.max_frames and index >= options.max_frames):
                break
    stats = source.stats
    return KioskSummary(index, faces_seen, stats.corrupt, stats.reopens, time.perf_counter() - start)
