"""Temporal smoothing: follow faces across frames by box overlap and average their probabilities."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from fer_edge.checks import require_numbers, require_whole_numbers
from fer_edge.errors import FerEdgeError
from fer_edge.recognizer import FaceResult
from fer_edge.results import ClassProbabilities


@dataclass
class _Track:
    track_id: int
    box: object
    history: deque
    missed: int = 0
    last_seen: float = 0.0


@dataclass
class SmoothingTracker:
    """Greedy IoU tracker that replaces each face's probabilities by the mean of its last `window` frames.

    Attributes:
        window: frames to average over (1 disables smoothing but keeps track ids).
        min_iou: overlap needed to continue a track.
        max_missed: frames a track survives without a match.
        max_missed_s: when above 0, a track survives this many seconds without a match instead
            (by the times given to `update`), so that a visitor's session outlives a short gap.
    """

    window: int = 5
    min_iou: float = 0.3
    max_missed: int = 5
    max_missed_s: float = 0.0
    _tracks: list = field(default_factory=list)
    _next_id: int = 0

    def __post_init__(self) -> None:
        require_whole_numbers("smoothing", window=self.window, max_missed=self.max_missed)
        require_numbers("smoothing", min_iou=self.min_iou, max_missed_s=self.max_missed_s)
        if self.window < 1 or self.max_missed < 0:
            raise FerEdgeError(f"smoothing window must be at least 1 and max_missed at least 0, "
                               f"got {self.window} and {self.max_missed}")
        if not 0.0 <= self.min_iou <= 1.0 or not 0.0 <= self.max_missed_s < math.inf:
            raise FerEdgeError(f"min_iou must be within [0, 1] and max_missed_s a finite number of seconds >= 0, "
                               f"got {self.min_iou} and {self.max_missed_s}")

    def update(self, faces: list[FaceResult], now: float = 0.0) -> list[tuple[int, FaceResult]]:
        """(track id, smoothed face) for each face of the new frame, seen at time `now` (seconds)."""
        unmatched = list(self._tracks)
        out = []
        for face in faces:
            track = max(unmatched, key=lambda t: t.box.iou(face.box), default=None)
            if track is None or track.box.iou(face.box) < self.min_iou:
                track = _Track(self._next_id, face.box, deque(maxlen=self.window))
                self._next_id += 1
                self._tracks.append(track)
            else:
                unmatched.remove(track)
            track.box, track.missed, track.last_seen = face.box, 0, now
            track.history.append(np.array(face.expression.probabilities))
            mean = tuple(float(p) for p in np.mean(track.history, axis=0))
            out.append((track.track_id, FaceResult(face.box, ClassProbabilities(face.expression.labels, mean))))
        for track in unmatched:
            track.missed += 1
        if self.max_missed_s > 0:
            self._tracks = [t for t in self._tracks if now - t.last_seen <= self.max_missed_s]
        else:
            self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return out
