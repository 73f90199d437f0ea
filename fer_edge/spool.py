"""A bounded on-disk queue of events waiting for delivery (SQLite, so a kill or power cut loses nothing stored)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from fer_edge.errors import OutputError

logger = logging.getLogger(__name__)


class Spool:
    """Events kept on disk, oldest first, until `remove` says they were delivered.

    At most `max_events` are kept: storing one more drops the oldest, counted in `dropped`
    with a warning. Safe to use from several threads.

    Args:
        path: the SQLite file (created, with its folder).
        max_events: bound on stored events.

    Raises:
        OutputError: the file cannot be created or is not a spool.
    """

    def __init__(self, path: str | Path, max_events: int = 10_000):
        self.path, self.max_events, self.dropped = Path(path), max_events, 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS events "
                             "(seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"cannot use {self.path} as the event spool: {exc}; "
                              "choose another file with --mqtt-spool") from exc

    def add(self, topic: str, payload: bytes) -> int:
        """Store one event; returns its sequence number."""
        with self._lock:
            seq = self._db.execute("INSERT INTO events (topic, payload) VALUES (?, ?)", (topic, payload)).lastrowid
            excess = self._count() - self.max_events
            if excess > 0:
                self._db.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                                 (excess,))
                self.dropped += excess
                logger.warning("event spool %s is full (%d events): dropped the oldest, %d so far",
                               self.path, self.max_events, self.dropped)
            return seq

    def pending(self, after: int = 0, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """(seq, topic, payload) of stored events after `after`, oldest first."""
        with self._lock:
            return self._db.execute("SELECT seq, topic, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after, limit)).fetchall()

    def remove(self, seq: int) -> None:
        """Forget a delivered event."""
        with self._lock:
            self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def close(self) -> None:
        """Close the file (stored events stay for the next run)."""
        with self._lock:
            self._db.close()
