"""Visitor sessions: tracked faces over time become session and summary events (schema 1)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

import numpy as np

from fer_edge.checks import require_numbers
from fer_edge.errors import FerEdgeError

SCHEMA = 1
"""Version of the event records; bumped when a field changes meaning or goes away."""


@dataclass(frozen=True)
class SessionOptions:
    """When a tracked face counts as a visitor, and how often to summarize.

    Attributes:
        timeout_s: a session ends when its face has not been seen for this long.
        min_duration_s: a face seen for less than this is not a visitor (no events at all).
        summary_every_s: seconds between summary events (0: none).
        kiosk_id: written into every event, so that several kiosks' files can be told apart.
    """

    timeout_s: float = 2.0
    min_duration_s: float = 0.5
    summary_every_s: float = 60.0
    kiosk_id: str = "kiosk"

    def __post_init__(self) -> None:
        require_numbers("session options", timeout_s=self.timeout_s, min_duration_s=self.min_duration_s,
                        summary_every_s=self.summary_every_s)
        kiosk_id = self.kiosk_id
        if (not isinstance(kiosk_id, str) or not kiosk_id or any(c in kiosk_id for c in "/+#")
                or not kiosk_id.isprintable()):
            raise FerEdgeError(f"kiosk id {self.kiosk_id!r}: use a non-empty name without /, + or # "
                               "(it becomes part of MQTT topics)")
        times = (self.timeout_s, self.min_duration_s, self.summary_every_s)
        if not all(math.isfinite(t) for t in times) or self.timeout_s <= 0 or min(times) < 0:
            raise FerEdgeError("session timeout must be positive; minimum session and summary interval at least 0; "
                               f"all finite (got {times[0]}, {times[1]}, {times[2]} s)")


@dataclass
class _Session:
    track: int
    start: float
    last_seen: float
    labels: tuple[str, ...]
    sums: np.ndarray
    top_counts: np.ndarray
    peaks: list = field(default_factory=list)  # per label: (probability, time)
    frames: int = 0
    started: bool = False

    def add(self, now: float, probabilities: tuple[float, ...]) -> None:
        values = np.asarray(probabilities, dtype=np.float64)
        self.sums += values
        self.top_counts[int(np.argmax(values))] += 1
        self.frames += 1
        self.last_seen = now
        if not self.peaks:
            self.peaks = [(0.0, now)] * len(values)
        self.peaks = [(p, now) if p > best else (best, when)
                      for p, (best, when) in zip(values.tolist(), self.peaks)]


def _rounded(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


class SessionTracker:
    """Turns (time, tracked faces) per frame into `session_start`, `session_end` and `summary` events.

    Every event is a JSON-ready dict with `schema`, `type`, `id` (unique: this run's id and a
    sequence number, for de-duplication downstream), `kiosk` and `time` (Unix seconds).

    Args:
        options: timeouts, summary interval and kiosk id.
        run_id: identifies this run in event ids (default: random).
    """

    def __init__(self, options: SessionOptions = SessionOptions(), run_id: str | None = None):
        self.options = options
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._open: dict[int, _Session] = {}
        self._sequence = 0
        self._window: _Window | None = None
        self._labels: tuple[str, ...] = ()

    def event(self, kind: str, now: float, **fields) -> dict:
        """A new event of this run: `schema`, `type`, `id`, `kiosk`, `time` and `fields`."""
        self._sequence += 1
        return {"schema": SCHEMA, "type": kind, "id": f"{self.run_id}-{self._sequence}",
                "kiosk": self.options.kiosk_id, "time": round(now, 3), **fields}

    def update(self, now: float, faces) -> list[dict]:
        """Events caused by one frame: `faces` are (track id, FaceResult) pairs seen at `now`."""
        events = []
        for track in [t for t, s in self._open.items() if now - s.last_seen > self.options.timeout_s]:
            events += self._end(track, "lost")  # ended before `now`: in the window they belong to
        window = self._summary_window(now, events)
        for track, face in faces:
            session = self._open.get(track)
            if session is None:
                labels = face.expression.labels
                session = _Session(track, now, now, labels, np.zeros(len(labels)), np.zeros(len(labels), int))
                self._open[track] = session
            session.add(now, face.expression.probabilities)
            self._labels = face.expression.labels
            window.face_frames = window.face_frames + np.asarray(face.expression.probabilities)
            if not session.started and now - session.start >= self.options.min_duration_s:
                session.started = True
                window.visitors.add(track)
                events.append(self.event("session_start", session.start, session=self._name(track)))
            elif session.started:
                window.visitors.add(track)
        return events

    def close(self, now: float) -> list[dict]:
        """End every open session (the run is stopping) and emit the last summary."""
        events = []
        for track in list(self._open):
            events += self._end(track, "stopped")
        if self._window is not None and self.options.summary_every_s > 0:
            events.append(self._summary(now))
        return events

    def _name(self, track: int) -> str:
        return f"{self.run_id}-{track}"

    def _end(self, track: int, reason: str) -> list[dict]:
        session = self._open.pop(track)
        if not session.started:
            return []
        mean = session.sums / session.frames
        dominant = int(np.argmax(mean))
        dwell = session.last_seen - session.start
        if self._window is not None:
            self._window.ended.append(dwell)
        return [self.event(
            "session_end", session.last_seen, session=self._name(track), reason=reason,
            start=round(session.start, 3), end=round(session.last_seen, 3), dwell_s=_rounded(dwell, 3),
            frames=session.frames, mean={label: _rounded(p) for label, p in zip(session.labels, mean)},
            dominant=session.labels[dominant], dominant_share=_rounded(session.top_counts[dominant] / session.frames),
            peaks={label: {"probability": _rounded(p), "time": round(when, 3)}
                   for label, (p, when) in zip(session.labels, session.peaks)})]

    def _summary_window(self, now: float, events: list[dict]) -> "_Window":
        every = self.options.summary_every_s
        if self._window is not None and every > 0 and now - self._window.start >= every:
            events.append(self._summary(now))
        if self._window is None:
            self._window = _Window(now)
        return self._window

    def _summary(self, now: float) -> dict:
        window = self._window
        total = float(np.sum(window.face_frames))
        shares = ({label: _rounded(v / total) for label, v in zip(self._labels, window.face_frames)}
                  if total > 0 else {})
        ended = window.ended
        event = self.event("summary", now, start=round(window.start, 3), interval_s=_rounded(now - window.start, 3),
                            visitors=len(window.visitors), sessions_ended=len(ended),
                            mean_dwell_s=_rounded(np.mean(ended), 3) if ended else None, shares=shares)
        self._window = _Window(now, {t for t, s in self._open.items() if s.started})
        return event


@dataclass
class _Window:
    """What one summary interval saw."""

    start: float
    visitors: set = field(default_factory=set)
    ended: list = field(default_factory=list)
    face_frames: object = 0.0  # sum of every face's probabilities per label
