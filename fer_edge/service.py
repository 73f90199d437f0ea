"""systemd notifications (sd_notify): READY when the kiosk runs, watchdog pings while frames flow, STOPPING."""

from __future__ import annotations

import logging
import os
import socket
import time

logger = logging.getLogger(__name__)

PING_INTERVAL_S = 1.0
"""Watchdog pings are sent at most this often (WatchdogSec in fer-edge.service is 30 s)."""


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1") to the service manager; False when not run by systemd.

    A socket error is logged once per message and otherwise ignored: notifications never stop the kiosk.
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        logger.warning("cannot notify systemd at %s (%s): %s", os.environ["NOTIFY_SOCKET"], message, exc)
        return False
    return True


class Watchdog:
    """Pings systemd's watchdog (and reports the frame count as status) at most once a `PING_INTERVAL_S`."""

    def __init__(self):
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._last = float("-inf")

    def ping(self, frames: int, fps: float) -> None:
        """Tell systemd the loop is alive, with a short status line."""
        now = time.monotonic()
        if self.enabled and now - self._last >= PING_INTERVAL_S:
            self._last = now
            self.enabled = notify(f"WATCHDOG=1\nSTATUS={frames} frames, {fps:.1f} FPS")
