"""Frame sources: cameras, video files, streams and the Pi camera, all yielding RGB frames.

BGR frames from OpenCV (and Picamera2's "RGB888", which is BGR in memory) are converted to
RGB here, once, at the camera boundary.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from fer_edge.checks import require_numbers, require_whole_numbers
from fer_edge.errors import FerEdgeError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOptions:
    """How live sources are opened and kept alive.

    Attributes:
        width: requested capture width (cameras), 0 for the device default.
        height: requested capture height.
        reopen_attempts: reopen tries after a live source drops, before giving up.
        backoff_s: first wait before reopening; doubles each try up to `max_backoff_s`.
        max_backoff_s: longest wait between tries.
        read_timeout_s: a stream (URL) that sends nothing this long counts as dropped; opening it
            waits at most this long too.
        reconnect_budget_s: give up on a dropped live source after this many seconds of reopening,
            even with tries left.
    """

    width: int = 640
    height: int = 480
    reopen_attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    read_timeout_s: float = 5.0
    reconnect_budget_s: float = 30.0

    def __post_init__(self) -> None:
        require_whole_numbers("source options", width=self.width, height=self.height,
                              reopen_attempts=self.reopen_attempts)
        require_numbers("source options", read_timeout_s=self.read_timeout_s,
                        reconnect_budget_s=self.reconnect_budget_s, backoff_s=self.backoff_s,
                        max_backoff_s=self.max_backoff_s)
        times = (self.read_timeout_s, self.reconnect_budget_s, self.backoff_s, self.max_backoff_s)
        if not all(math.isfinite(t) for t in times) or self.read_timeout_s <= 0 or min(times) < 0:
            raise FerEdgeError("read timeout must be positive; reconnect budget and backoff at least 0; all finite "
                               f"(got {times[0]}, {times[1]}, {times[2]}, {times[3]} s)")


@dataclass
class SourceStats:
    """Counters a source keeps while it runs."""

    frames: int = 0
    corrupt: int = 0
    reopens: int = 0


def _valid(frame) -> bool:
    return isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.size > 0


POLL_S = 0.1
"""How often a waiting loop looks at the stop event: stop signals are honoured within this."""
_END = object()


def open_failure(spec: str, timeout_s: float) -> str:
    """Why OpenCV could not open `spec`, in the words of what it looks like: camera, stream or file."""
    if spec.isdigit():
        return (f"cannot open camera {spec!r}; check that it is connected (ls /dev/video*) and that this "
                "user is in the video group")
    if "://" in spec:
        return (f"cannot open stream {spec!r} (no answer within {timeout_s:g} s); check the URL, "
                "the credentials in it and that the camera or server is up")
    if not Path(spec).exists():
        return (f"cannot open video source {spec!r}: no such file, and not a camera index (0), a URL "
                "or picamera")
    return (f"cannot open video file {spec!r}: OpenCV cannot decode it (damaged, not a video, or a codec "
            "this OpenCV build lacks)")


class OpenCVSource:
    """A camera index ("0"), a video file, or an RTSP/HTTP URL, through `cv2.VideoCapture`.

    Video files end at their last frame. Live sources are read on a worker thread, so a stalled
    stream or a reconnect backoff never delays `stop`; a live source that drops is reopened with
    backoff, within `SourceOptions.reopen_attempts` and `reconnect_budget_s`.
    """

    def __init__(self, spec: str, options: SourceOptions = SourceOptions(),
                 capture_factory: Callable | None = None, sleep: Callable[[float], object] | None = None,
                 stop: threading.Event | None = None):
        import cv2

        self.spec = spec
        self.options = options
        self.live = spec.isdigit() or "://" in spec
        self.stats = SourceStats()
        self._cv2 = cv2
        self._factory = capture_factory or cv2.VideoCapture
        self._stop = stop or threading.Event()
        self._done = threading.Event()  # frames() ended or close(): the worker stops too
        self._sleep = sleep or self._stop.wait
        self._worker: threading.Thread | None = None
        self._capture = self._open()

    def _halted(self) -> bool:
        return self._stop.is_set() or self._done.is_set()

    def _open(self):
        target = int(self.spec) if self.spec.isdigit() else self.spec
        if not self.live and Path(self.spec).exists() and not Path(self.spec).is_file():
            raise FerEdgeError(f"cannot open video source {self.spec!r}: not a regular file (a folder, FIFO or device)")
        if "://" in self.spec:  # bounded open and reads for network streams (FFmpeg backend)
            timeout_ms = int(self.options.read_timeout_s * 1000)
            capture = self._factory(target, self._cv2.CAP_ANY, [self._cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                                self._cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])
        else:
            capture = self._factory(target)
        if not capture.isOpened():
            capture.release()
            raise FerEdgeError(open_failure(self.spec, self.options.read_timeout_s))
        if self.spec.isdigit() and self.options.width:
            capture.set(self._cv2.CAP_PROP_FRAME_WIDTH, self.options.width)
            capture.set(self._cv2.CAP_PROP_FRAME_HEIGHT, self.options.height)
        return capture

    @property
    def fps(self) -> float:
        """Frame rate the source reports (0 when unknown)."""
        return float(self._capture.get(self._cv2.CAP_PROP_FPS) or 0.0)

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames until the file ends, `stop` is set, or a live source cannot be reopened.

        Raises:
            FerEdgeError: a live source dropped and could not be reopened, or a file opened but gave no frame.
        """
        if not self.live:
            yield from self._frames_from_capture()
            if not self._halted() and not (self.stats.frames or self.stats.corrupt):
                raise FerEdgeError(f"no frame could be read from {self.spec!r}: a damaged, empty or unsupported "
                                   "video or image file")
            return
        frames: queue.Queue = queue.Queue(maxsize=2)
        self._done.clear()
        self._worker = threading.Thread(target=self._pump, args=(frames,), name=f"source {self.spec}", daemon=True)
        self._worker.start()
        try:
            while not self._halted():
                try:
                    item = frames.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, FerEdgeError):
                    raise item
                yield item
        finally:
            self._done.set()

    def _frames_from_capture(self) -> Iterator[np.ndarray]:
        while not self._halted():
            ok, frame = self._capture.read()
            if ok and _valid(frame):
                self.stats.frames += 1
                yield self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)
            elif ok:
                self.stats.corrupt += 1
            elif not self.live or not self._reopen():
                return

    def _pump(self, frames: queue.Queue) -> None:
        """Worker thread: read (and reopen) the live source, hand frames over until stopped."""
        try:
            for frame in self._frames_from_capture():
                self._hand_over(frames, frame)
            self._hand_over(frames, _END)
        except FerEdgeError as exc:
            self._hand_over(frames, exc)
        finally:
            if self._halted():
                self._capture.release()

    def _hand_over(self, frames: queue.Queue, item) -> None:
        while not self._halted():
            try:
                frames.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def _reopen(self) -> bool:
        """Reopen a dropped live source with backoff; False when stopped meanwhile.

        Raises:
            FerEdgeError: every try failed, or the reconnect budget is spent.
        """
        self._capture.release()
        delay, deadline = self.options.backoff_s, time.monotonic() + self.options.reconnect_budget_s
        for attempt in range(1, self.options.reopen_attempts + 1):
            if time.monotonic() + delay > deadline:
                break
            logger.warning("%s dropped; reopening in %.1f s (try %d/%d)", self.spec, delay, attempt,
                           self.options.reopen_attempts)
            if self._sleep(delay) or self._halted():
                return False
            try:
                self._capture = self._open()
            except FerEdgeError:
                delay = min(delay * 2, self.options.max_backoff_s)
                continue
            self.stats.reopens += 1
            return True
        raise FerEdgeError(f"lost {self.spec!r} and could not reopen it after {attempt} tries "
                           f"({self.options.reconnect_budget_s:g} s reconnect budget)")

    def close(self) -> None:
        """Stop reading and release the capture (a worker still inside a read releases it when that returns)."""
        self._done.set()
        worker = self._worker
        if worker is not None and worker.is_alive():
            worker.join(timeout=5 * POLL_S)
            if worker.is_alive():
                logger.info("%s: a read is still blocked; its capture is released when the read returns", self.spec)
                return
        self._capture.release()


class PicameraSource:
    """The Raspberry Pi CSI camera through libcamera's Picamera2 (Debian package python3-picamera2)."""

    live = True

    def __init__(self, options: SourceOptions = SourceOptions()):
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise FerEdgeError(
                "--source picamera needs Picamera2: `sudo apt install python3-picamera2` and a virtual "
                "environment made with `python3 -m venv --system-site-packages`") from exc
        self.options = options
        self.stats = SourceStats()
        self.fps = 0.0
        self._camera = Picamera2()
        size = (options.width or 640, options.height or 480)
        self._camera.configure(self._camera.create_video_configuration(main={"format": "RGB888", "size": size}))
        self._camera.start()

    def frames(self) -> Iterator[np.ndarray]:
        """RGB frames (Picamera2's RGB888 is BGR in memory, so channels are swapped here)."""
        while True:
            frame = self._camera.capture_array()
            if not _valid(frame):
                self.stats.corrupt += 1
                continue
            self.stats.frames += 1
            yield np.ascontiguousarray(frame[..., ::-1])

    def close(self) -> None:
        """Stop the camera."""
        self._camera.stop()
        self._camera.close()


def open_source(spec: str, options: SourceOptions = SourceOptions(), stop: threading.Event | None = None):
    """`picamera`, a camera index, a video file or a stream URL -> a frame source.

    Setting `stop` ends the source's frames within `POLL_S` seconds, even while a stream stalls
    or a reconnect waits.
    """
    if not spec.strip():
        raise FerEdgeError("the video source is empty; pass picamera, a camera index (0), a video file or a URL")
    if spec == "picamera":
        return PicameraSource(options)
    return OpenCVSource(spec, options, stop=stop)
