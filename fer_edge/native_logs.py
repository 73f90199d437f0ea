"""Native-library log lines (TensorFlow, absl, oneDNN, LiteRT's XNNPACK notice) kept out of normal runs."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

logger = logging.getLogger(__name__)

NATIVE_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "OPENCV_LOG_LEVEL": "SILENT",
                "OPENCV_FFMPEG_LOGLEVEL": "-8"}
"""TensorFlow's C++ logs off, errors too: TensorFlow 2.21 logs a harmless "E0000 ... NodeDef mentions
attribute use_unbounded_threadpool" error line whenever Keras iterates a parallel-map tf.data pipeline,
and real failures reach Python as exceptions anyway; oneDNN off (its notice, and run-to-run float noise); OpenCV's
own lines off, errors too, and FFmpeg's (AV_LOG_QUIET): an image, camera or video that cannot be read is reported
by fer-edge's own error, not by `[ERROR:0@0.079] global grfmt_png.cpp`, `[ WARN` or `[png @ 0x...]` lines."""


def quiet_native_libraries() -> None:
    """Ask TensorFlow and OpenCV (imported later) to log errors only; settings the user made are kept."""
    for name, value in NATIVE_QUIET.items():
        os.environ.setdefault(name, value)
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and os.environ["OPENCV_LOG_LEVEL"] == "SILENT":  # already imported: it read the variable
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null for the duration.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" from C++ with no switch to
    turn it off; Python exceptions still propagate. Not silenced when `enabled` is false or
    this module's logger shows debug messages (`fer-edge -vv`).
    """
    if not enabled or logger.isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
