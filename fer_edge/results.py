"""Prediction results: class probabilities for one face, as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fer_edge.errors import FerEdgeError


@dataclass(frozen=True)
class ClassProbabilities:
    """Probabilities of every label for one face, in the model's label order.

    Attributes:
        labels: class names.
        probabilities: one probability per label.
    """

    labels: tuple[str, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.probabilities) or not self.labels:
            raise FerEdgeError(f"one probability per label: {len(self.labels)} labels, "
                               f"{len(self.probabilities)} probabilities")

    @property
    def label(self) -> str:
        """The most probable label."""
        return self.ranked()[0][0]

    @property
    def confidence(self) -> float:
        """Probability of the most probable label."""
        return self.ranked()[0][1]

    def ranked(self) -> list[tuple[str, float]]:
        """(label, probability) pairs, most probable first."""
        return sorted(zip(self.labels, self.probabilities), key=lambda pair: -pair[1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: top label, confidence and every label's probability, sorted."""
        return {
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": dict(self.ranked()),
        }
