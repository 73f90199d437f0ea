"""Native-library log lines (TensorFlow, absl, oneDNN, LiteRT's XNNPACK notice) kept out of normal runs."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

logger = logging.getLogger(__name__)

TENSORFLOW_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
"""TensorFlow's C++ logs: errors only; oneDNN off (its notice, and run-to-run float noise)."""


def quiet_tensorflow() -> None:
    """Ask TensorFlow (imported later) to log errors only; settings the user made are kept."""
    for name, value in TENSORFLOW_QUIET.items():
        os.environ.setdefault(name, value)


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
