"""The kiosk loop: frames -> recognition -> smoothing -> events, recording, display, heartbeat."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_edge.checks import require_numbers, require_whole_numbers
from fer_edge.draw import annotate
from fer_edge.errors import FerEdgeError, OutputError
from fer_edge.files import append_line, open_append
from fer_edge.follow import FollowingDetector
from fer_edge.recognizer import Recognizer
from fer_edge.service import Watchdog, notify
from fer_edge.sessions import SCHEMA, SessionOptions, SessionTracker
from fer_edge.tracking import SmoothingTracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KioskOptions:
    """What the loop does besides recognizing.

    Attributes:
        max_fps: process at most this many frames per second (0: as fast as possible).
        smoothing: average each tracked face over this many frames (0 or 1: off).
        jsonl: append events here, one JSON line each (schema in the README): sessions, summaries
            and, when `frames` is on, one line per frame.
        frames: write per-frame lines too (off: session and summary events only).
        sessions: when a face becomes a visitor's session, and the summary interval.
        detect_every: run the face detector on every k-th frame and follow faces in between.
        sinks: more event consumers, each with `publish(event: dict)` (an MQTT publisher, say);
            they get session, summary and run events, and frames too if their `frames` is true.
        record: write the annotated video here (.mp4 in segments, or .avi; see `VideoRecorder`).
        record_segment_s: seconds of video per .mp4 segment (0: one file, which a kill leaves unplayable).
        display: show the annotated video in a window (needs OpenCV with GUI support).
        heartbeat: touch this file at most once a second (for health checks).
        max_frames: stop after this many frames (0: until the source ends or a stop signal).
    """

    max_fps: float = 0.0
    smoothing: int = 5
    jsonl: Path | None = None
    record: Path | None = None
    record_segment_s: float = 60.0
    display: bool = False
    heartbeat: Path | None = None
    max_frames: int = 0
    frames: bool = True
    sessions: SessionOptions = SessionOptions()
    detect_every: int = 1
    sinks: tuple = ()

    def __post_init__(self) -> None:
        require_numbers("kiosk options", max_fps=self.max_fps, record_segment_s=self.record_segment_s)
        require_whole_numbers("kiosk options", smoothing=self.smoothing, max_frames=self.max_frames,
                              detect_every=self.detect_every)
        rates = {"max_fps": self.max_fps, "record_segment_s": self.record_segment_s}
        for name, value in rates.items():
            if not math.isfinite(value) or value < 0:
                raise FerEdgeError(f"{name} must be a finite number at least 0 (0: off), got {value}")
        if self.smoothing < 0 or self.max_frames < 0 or self.detect_every < 1:
            raise FerEdgeError(f"smoothing and max_frames must be at least 0 and detect_every at least 1, got "
                               f"{self.smoothing}, {self.max_frames}, {self.detect_every}")


@dataclass(frozen=True)
class KioskSummary:
    """What a run did."""

    frames: int
    faces: int
    corrupt_frames: int
    reopens: int
    seconds: float
    sessions: int = 0
    detections: int = 0

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


RECORD_SUFFIXES = (".mp4", ".avi")


def segment_path(path: Path, index: int) -> Path:
    """The file of the `index`-th (1-based) segment of a segmented recording: `NAME-0001.mp4`."""
    return path.with_name(f"{path.stem}-{index:04d}{path.suffix}")


class VideoRecorder:
    """Annotated video, opened at the first frame's size, written so that a kill loses little.

    `.avi` is Motion-JPEG through OpenCV's own writer: frames reach the file as they come, and a
    file cut by a kill still plays up to there. `.mp4` (MPEG-4 Part 2) is compact but unplayable
    until closed, so it is written in segments `NAME-0001.mp4`, `NAME-0002.mp4`, ... of
    `segment_s` seconds of video, each finished before the next starts: a kill loses only the
    open segment. `segment_s` 0 writes the one file `path` instead.

    Raises:
        FerEdgeError: another suffix than .mp4 or .avi, or a file OpenCV cannot open for writing.
    """

    def __init__(self, path: Path, fps: float, segment_s: float = 60.0):
        self.path, self.fps = Path(path), fps or 15.0
        if self.path.suffix.lower() not in RECORD_SUFFIXES:
            raise FerEdgeError(f"--record {self.path}: use a .mp4 (segmented) or .avi (Motion-JPEG) file name")
        segmented = segment_s > 0 and self.path.suffix.lower() == ".mp4"
        self._per_segment = max(1, round(self.fps * segment_s)) if segmented else 0
        self._writer, self._frames, self.files = None, 0, []

    def _open(self, size: tuple[int, int]):
        import cv2

        index = len(self.files) + 1
        path = segment_path(self.path, index) if self._per_segment else self.path
        if self.path.suffix.lower() == ".avi":
            writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), self.fps, size)
        else:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
        if not writer.isOpened():
            raise FerEdgeError(f"cannot write video {path}: check the folder exists and is writable")
        self.files.append(path)
        return writer

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one RGB frame (starting a new segment when the open one is full)."""
        import cv2

        if self._writer is not None and self._per_segment and self._frames % self._per_segment == 0:
            self._writer.release()
            self._writer = None
        if self._writer is None:
            height, width = frame_rgb.shape[:2]
            self._writer = self._open((width, height))
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        self._frames += 1

    def close(self) -> None:
        """Finish the open file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None


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


def frame_event(index: int, faces, now: float | None = None, kiosk_id: str = "kiosk") -> dict:
    """The JSON-lines record of one frame."""
    return {"schema": SCHEMA, "type": "frame", "kiosk": kiosk_id, "frame": index,
            "time": round(time.time() if now is None else now, 3),
            "faces": [{"track": track, **face.to_dict()} for track, face in faces]}


class _EventLog:
    """Writes events, whole lines, to the JSON-lines file and hands non-frame events to the sinks."""

    def __init__(self, handle, sinks: tuple):
        self._handle, self._sinks = handle, sinks

    def write(self, event: dict) -> None:
        if self._handle is not None:
            append_line(self._handle, json.dumps(event))
        for sink in self._sinks:
            if event["type"] != "frame" or getattr(sink, "frames", False):
                sink.publish(event)


def _clock(source):
    """Time of each frame: the wall clock for live sources; for a video file its own timeline."""
    fps = getattr(source, "fps", 0.0)
    if getattr(source, "live", True) or not fps:
        return lambda index: time.time()
    start = time.time()
    return lambda index: start + (index - 1) / fps


def _refuse_overwriting(spec: str | None, options: KioskOptions) -> None:
    """An output path that is the source video itself would destroy the input."""
    source = Path(spec) if spec and Path(spec).is_file() else None
    for output in (options.jsonl, options.record, options.heartbeat):
        if source is not None and output is not None and output.exists() and output.samefile(source):
            raise OutputError(f"{output} is the source video: choose another output file")


def _open_outputs(stack: contextlib.ExitStack, options: KioskOptions, fps: float, spec: str | None = None):
    _refuse_overwriting(spec, options)
    handle = stack.enter_context(open_append(options.jsonl)) if options.jsonl else None
    events = _EventLog(handle, options.sinks)
    _touch(options.heartbeat, float("-inf"))  # an unwritable heartbeat file fails before the first frame
    recorder = window = None
    if options.record:
        recorder = VideoRecorder(options.record, options.max_fps or fps, options.record_segment_s)
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

    def tick(self, stop: threading.Event) -> None:
        elapsed = time.perf_counter() - self._last
        if elapsed < self.interval:
            stop.wait(self.interval - elapsed)
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

    Output files are flushed every frame and closed on the way out, whatever ends the loop; open
    visitor sessions end then too (reason "stopped"). Under systemd (`Type=notify`) it reports
    READY=1 once its outputs are open, pings the watchdog while frames flow and reports
    STOPPING=1 on the way out.
    """
    stop = stop or threading.Event()
    finder = FollowingDetector(recognizer.detector, options.detect_every)
    tracker = SmoothingTracker(window=max(1, options.smoothing), max_missed_s=options.sessions.timeout_s)
    sessions, clock = SessionTracker(options.sessions), _clock(source)
    frames_wanted = _wants_frames(options)
    pacer, start, counts, beat, index = _Pacer(options.max_fps), time.perf_counter(), [0, 0], 0.0, 0
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        events, recorder, window = _open_outputs(stack, options, getattr(source, "fps", 0.0),
                                                 getattr(source, "spec", None))
        watchdog = Watchdog()
        notify("READY=1")
        stack.callback(notify, "STOPPING=1")
        events.write(_run_event("run_start", sessions, clock(1), labels=list(recognizer.labels),
                                detector=finder.name, detect_every=options.detect_every))
        stack.callback(lambda: _finish(events, sessions, clock(max(index, 1)), counts))
        for index, frame in enumerate(source.frames(), start=1):
            now = clock(index)
            faces = tracker.update(recognizer.classify(frame, finder.detect(frame)), now)
            counts[0] += len(faces)
            counts[1] += _record(events, sessions, index, faces, now, options.sessions.kiosk_id, frames_wanted)
            if not _show(frame, faces, recorder, window, pacer.fps):
                break
            beat = _touch(options.heartbeat, beat)
            watchdog.ping(index, pacer.fps)
            pacer.tick(stop)
            if stop.is_set() or (options.max_frames and index >= options.max_frames):
                break
    stats = source.stats
    return KioskSummary(index, counts[0], stats.corrupt, stats.reopens, time.perf_counter() - start,
                        counts[1], finder.detections)


def _wants_frames(options: KioskOptions) -> bool:
    """A per-frame record is built only for a consumer of it: the file, or a sink that asked for frames."""
    return options.frames and (options.jsonl is not None or any(getattr(sink, "frames", False)
                                                                for sink in options.sinks))


def _record(events, sessions: SessionTracker, index: int, faces: list, now: float, kiosk_id: str,
            frames_wanted: bool) -> int:
    """Write the frame's record (when wanted) and the session events it causes; return the sessions it ended."""
    if frames_wanted:
        events.write(frame_event(index, faces, now, kiosk_id))
    ended = 0
    for event in sessions.update(now, faces):
        ended += event["type"] == "session_end"
        events.write(event)
    return ended


def _show(frame, faces: list, recorder, window, fps: float) -> bool:
    """Write the annotated frame to the recording and the window, if any; False once the window is closed."""
    if not (recorder or window):
        return True
    annotated = annotate(frame, [face for _, face in faces], fps)
    if recorder:
        recorder.write(annotated)
    return not window or window.show(annotated)


def _run_event(kind: str, tracker: SessionTracker, now: float, **fields) -> dict:
    return tracker.event(kind, now, run=tracker.run_id, **fields)


def _finish(events: _EventLog, sessions: SessionTracker, now: float, counts: list) -> None:
    """On the way out, whatever ended the loop: end open sessions, last summary, run_end."""
    for event in sessions.close(now):
        counts[1] += event["type"] == "session_end"
        events.write(event)
    events.write(_run_event("run_end", sessions, now, faces=counts[0], sessions_ended=counts[1]))
