"""Frame sources: cameras, video files, streams and the Pi camera, all yielding RGB frames.

BGR frames from OpenCV (and Picamera2's "RGB888", which is BGR in memory) are converted to
RGB here, once, at the camera boundary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

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
    """

    width: int = 640
    height: int = 480
    reopen_attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0


@dataclass
class SourceStats:
    """Counters a source keeps while it runs."""

    frames: int = 0
    corrupt: int = 0
    reopens: int = 0


def _valid(frame) -> bool:
    return isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.size > 0


class OpenCVSource:
    """A camera index ("0"), a video file, or an RTSP/HTTP URL, through `cv2.VideoCapture`.

    Video files end at their last frame; live sources that drop are reopened with backoff.
    """

    def __init__(self, spec: str, options: SourceOptions = SourceOptions(),
                 capture_factory: Callable | None = None, sleep: Callable[[float], None] = time.sleep):
        import cv2

        self.spec = spec
        self.options = options
        self.live = spec.isdigit() or "://" in spec
        self.stats = SourceStats()
        self._cv2 = cv2
        self._factory = capture_factory or cv2.VideoCapture
        self._sleep = sleep
        self._capture = self._open()

    def _open(self):
        target = int(self.spec) if self.spec.isdigit() else self.spec
        capture = self._factory(target)
        if not capture.isOpened():
            capture.release()
            kind = "camera" if self.spec.isdigit() else "video source"
            raise FerEdgeError(f"cannot open {kind} {self.spec!r}; check the device, path or URL "
                               "(cameras: is it connected and in the video group?)")
        if self.spec.isdigit() and self.options.width:
            capture.set(self._cv2.CAP_PROP_FRAME_WIDTH, self.options.width)
            capture.set(self._cv2.CAP_PROP_FRAME_HEIGHT, self.options.height)
        return capture

    @property
    def fps(self) -> float:
        """Frame rate the source reports (0 when unknown)."""
        return float(self._capture.get(self._cv2.CAP_PROP_FPS) or 0.0)

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames until the file ends or a live source cannot be reopened."""
        while True:
            ok, frame = self._capture.read()
            if ok and _valid(frame):
                self.stats.frames += 1
                yield self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)
            elif ok:
                self.stats.corrupt += 1
            elif not self.live:
                return
            else:
                self._reopen()

    def _reopen(self) -> None:
        self._capture.release()
        delay = self.options.backoff_s
        for attempt in range(1, self.options.reopen_attempts + 1):
            logger.warning("%s dropped; reopening in %.1f s (try %d/%d)", self.spec, delay, attempt,
                           self.options.reopen_attempts)
            self._sleep(delay)
            try:
                self._capture = self._open()
            except FerEdgeError:
                delay = min(delay * 2, self.options.max_backoff_s)
                continue
            self.stats.reopens += 1
            return
        raise FerEdgeError(f"lost {self.spec!r} and could not reopen it after {self.options.reopen_attempts} tries")

    def close(self) -> None:
        """Release the capture."""
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


def open_source(spec: str, options: SourceOptions = SourceOptions()):
    """`picamera`, a camera index, a video file or a stream URL -> a frame source."""
    if spec == "picamera":
        return PicameraSource(options)
    return OpenCVSource(spec, options)
