"""Training options and results: everything that decides a run, and what a finished run produced."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from fer_edge.errors import FerEdgeError
from fer_edge.preprocess import Preprocessing
from fer_edge.train.heads import HEAD
from fer_edge.train.models import model_names
from fer_edge.train.pipeline import AUGMENT_MODES

DISTRIBUTE_MODES = ("none", "mirrored", "multiworker")
LR_SCHEDULES = ("constant", "cosine")
MONITOR = "val_accuracy"
TWO_HEAD_MONITOR = f"val_{HEAD}_accuracy"
"""With a second head, the best epoch is chosen by the primary head's val accuracy..."""
HEADS_MONITOR = "val_heads_accuracy"
"""...or, with `best_by="heads"`, by the mean of both heads' val accuracies (logged under this name)."""
BEST_BY = ("primary", "heads")
TEACHER_HEADS = ("both", "primary", "second")
"""Which of the student's heads `--teacher` teaches."""


def augment_mode(value: str | bool) -> str:
    """`augment` as today's options hold it: runs saved before "flip" existed have True ("full") or False ("none")."""
    if isinstance(value, bool):
        return "full" if value else "none"
    return value


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides a training run (saved to `options.json` in the run folder)."""

    arch: str = "paper_cnn"
    epochs: int = 30
    batch_size: int = 32
    """Global batch size; with --distribute each replica gets batch_size / replicas."""
    image_size: int = 64
    color_mode: str = "rgb"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    """constant, or cosine: decays to 1% of the learning rate over all epochs."""
    seed: int = 42
    augment: str = "full"
    """One of `AUGMENT_MODES`: "full" (flip, shift, rotation, zoom, brightness), "flip" alone, or "none"; a saved
    run's True/False reads as "full"/"none"."""
    class_weights: bool = False
    label_smoothing: float = 0.0
    early_stopping: int = 0
    """Stop after this many epochs without val_accuracy improvement; 0 disables."""
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    max_per_class: int = 0
    """Read at most this many training images per class (0 = all); for quick runs."""
    label_mode: str = "majority"
    """Vote-labelled data (FER+): train on majority labels or on the vote shares ("probability")."""
    blend_labels: str = ""
    """An ImageFolder of the same faces (e.g. FER2013) whose labels are blended into the targets."""
    blend_weight: float = 0.4
    """Weight of the `blend_labels` one-hot label in the target."""
    aux_labels: str = ""
    """A dataset of the same faces (e.g. FER2013, with train/ and val/) whose labels train a second head."""
    aux_loss_weight: float = 1.0
    """Weight of the second head's loss."""
    aux_class_weights: float = 0.0
    """Weight each training face's second-head loss by (inverse frequency of its label) ** this power: 0 off, 1
    balanced, 0.5 halfway (in log terms)."""
    teacher: tuple[str, ...] = ()
    """`.keras` teachers (several: their mean) whose probabilities on the training faces are distilled."""
    teacher_weight: float = 0.5
    """Weight of the teacher's probabilities in each training target (of the heads `teacher_heads` names)."""
    teacher_temperature: float = 1.0
    """Softening of the teacher's probabilities: softmax(log p / T)."""
    teacher_heads: str = "both"
    """Which heads the teachers teach: both, the first ("primary") or the second alone ("second")."""
    distribute: str = "none"
    init_from: str = ""
    """Start from the weights of this .keras model (same architecture and labels): fine-tuning."""
    ema: float = 0.0
    """Momentum of an exponential moving average of the weights, validated and saved instead (0 disables)."""
    mixup: float = 0.0
    """Alpha of mixup's Beta(alpha, alpha) mixing of training faces and targets (0 disables; 0.2 is usual)."""
    erasing: float = 0.0
    """Probability that random erasing hides a rectangle of a training face under noise (0 disables; 0.5 is usual)."""
    best_by: str = "primary"
    """What picks a two-head run's best epoch: the first head's val accuracy, or the mean of both heads' ("heads")."""
    workers: int = 4
    verbose: int = 1

    def __post_init__(self) -> None:
        if self.arch not in model_names():  # before any data is read
            raise FerEdgeError(f"unknown architecture {self.arch!r}; choose one of: {', '.join(model_names())}")
        if self.epochs < 1 or self.batch_size < 1:
            raise FerEdgeError("epochs and batch size must be at least 1")
        if self.learning_rate <= 0:
            raise FerEdgeError(f"learning rate must be positive, got {self.learning_rate}")
        object.__setattr__(self, "augment", augment_mode(self.augment))
        if self.augment not in AUGMENT_MODES:
            raise FerEdgeError(f"--augment must be one of {AUGMENT_MODES}, got {self.augment!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise FerEdgeError(f"--lr-schedule must be one of {LR_SCHEDULES}")
        if self.distribute not in DISTRIBUTE_MODES:
            raise FerEdgeError(f"--distribute must be one of {DISTRIBUTE_MODES}")
        if not 0.0 < self.teacher_weight <= 1.0 or self.teacher_temperature <= 0:
            raise FerEdgeError("--teacher-weight must be in (0, 1] and --teacher-temperature positive")
        if self.teacher_heads not in TEACHER_HEADS:
            raise FerEdgeError(f"--teacher-heads must be one of {TEACHER_HEADS}, got {self.teacher_heads!r}")
        if self.teacher_heads == "second" and not (self.teacher and self.aux_labels):
            raise FerEdgeError("--teacher-heads second teaches the second head: it needs --teacher MODEL and "
                               "--aux-labels DATA")
        if not 0.0 <= self.mixup <= 10.0:
            raise FerEdgeError(f"--mixup must be in [0, 10] (0 disables it; 0.2 is usual), got {self.mixup}")
        if not 0.0 <= self.erasing <= 1.0:
            raise FerEdgeError(f"--erasing is a probability in [0, 1] (0 disables it; 0.5 is usual), "
                               f"got {self.erasing}")
        if not 0.0 <= self.ema < 1.0:
            raise FerEdgeError(f"--ema must be in [0, 1) (0 disables it; 0.999 averages about 1,000 steps), got {self.ema}")
        if self.best_by not in BEST_BY:
            raise FerEdgeError(f"--best-by must be one of {BEST_BY}, got {self.best_by!r}")
        if self.best_by == "heads" and not self.aux_labels:
            raise FerEdgeError("--best-by heads needs a second head: add --aux-labels DATA, or use --best-by primary")
        if not (math.isfinite(self.aux_class_weights) and 0 <= self.aux_class_weights <= 2):
            raise FerEdgeError(f"--aux-class-weights is a power in [0, 2] (1: balanced), got {self.aux_class_weights}")
        if self.aux_class_weights and not self.aux_labels:
            raise FerEdgeError("--aux-class-weights weights a second head's loss: give its labels with --aux-labels")
        object.__setattr__(self, "teacher", tuple(str(path) for path in self.teacher))

    @property
    def preprocessing(self) -> Preprocessing:
        """Preprocessing of the model this run trains."""
        return Preprocessing((self.image_size, self.image_size), self.color_mode)

    @property
    def monitor(self) -> str:
        """The history metric that picks the best epoch."""
        if not self.aux_labels:
            return MONITOR
        return HEADS_MONITOR if self.best_by == "heads" else TWO_HEAD_MONITOR


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    run_dir: Path
    model_path: Path
    history: dict[str, list[float]]
    best_epoch: int
    best_val_accuracy: float
    train_images_per_second: float
    skipped_files: int
    replicas: int = 1
