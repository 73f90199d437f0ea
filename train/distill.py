"""Knowledge distillation: a teacher's (or several teachers') probabilities on the training faces become targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from fer_edge.dataset import Split
from fer_edge.errors import FerEdgeError
from fer_edge.labels import canonical_label
from fer_edge.preprocess import Preprocessing, normalize
from fer_edge.train.heads import AUX_HEAD, HEAD
from fer_edge.train.options import TEACHER_HEADS
from fer_edge.train.targets import AuxTargets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherOutputs:
    """The teachers' mean probabilities on every training face, in the student's class order.

    Attributes:
        probabilities: float32 (N, classes) for the student's (primary) head.
        aux_probabilities: float32 (N, aux classes) for the student's second head, or None when
            the student has no second head or no teacher has one.
    """

    probabilities: np.ndarray
    aux_probabilities: np.ndarray | None


def class_projection(source: tuple[str, ...], target: tuple[str, ...], what: str) -> np.ndarray:
    """(source, target) 0/1 matrix matching classes by name; classes only one side has stay unmatched.

    Raises:
        FerEdgeError: the two label sets share no class.
    """
    names = [canonical_label(name) for name in target]
    projection = np.zeros((len(source), len(target)), np.float64)
    for i, name in enumerate(source):
        if canonical_label(name) in names:
            projection[i, names.index(canonical_label(name))] = 1.0
    if not projection.any():
        raise FerEdgeError(f"{what} labels {list(source)} share no class with the student's {list(target)}")
    lacking = [target[j] for j in np.flatnonzero(projection.sum(axis=0) == 0)]
    if lacking:
        logger.warning("%s has no class %s: the teacher gives it no probability", what, lacking)
    return projection


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): T > 1 spreads the teacher's probability over the runner-up classes."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _project(probabilities: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """Probabilities onto the student's classes; mass on classes the student lacks is dropped, rows renormalized."""
    projected = probabilities @ projection
    return projected / np.clip(projected.sum(axis=1, keepdims=True), 1e-12, None)


def _teacher_pixels(pixels: np.ndarray, student: Preprocessing, teacher: Preprocessing) -> np.ndarray:
    """The student's uint8 model pixels in the teacher's input size and colour mode."""
    import cv2

    if (teacher.input_size, teacher.color_mode) == (student.input_size, student.color_mode):
        return pixels
    height, width = teacher.input_size
    faces = [cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA) for face in pixels]
    faces = [face[..., None] if face.ndim == 2 else face for face in faces]
    if teacher.channels == 1 and student.channels == 3:
        faces = [cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)[..., None] for face in faces]
    elif teacher.channels == 3 and student.channels == 1:
        faces = [np.repeat(face, 3, axis=-1) for face in faces]
    return np.stack(faces)


def _head_probabilities(model: keras.Model, inputs: np.ndarray, batch_size: int) -> tuple[np.ndarray, ...]:
    """Softmax outputs of a one-head model (one array) or of a two-head model (primary, aux)."""
    outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    if isinstance(outputs, dict):  # a two-head model's outputs are keyed by head
        return tuple(np.asarray(outputs[name], np.float64) for name in (HEAD, AUX_HEAD))
    return (np.asarray(outputs, np.float64),)


def _one_teacher(path: Path, pixels: np.ndarray, student: Preprocessing, classes: tuple[str, ...],
                 aux_classes: tuple[str, ...] | None, mirror: bool, batch_size: int):
    from fer_edge.train.keras_io import load_keras_model

    model, metadata = load_keras_model(path)
    faces = _teacher_pixels(pixels, student, metadata.preprocessing)
    views = [faces] + ([faces[:, :, ::-1]] if mirror else [])
    outputs = [_head_probabilities(model, normalize(view, metadata.preprocessing), batch_size) for view in views]
    heads = [np.mean([output[i] for output in outputs], axis=0) for i in range(len(outputs[0]))]
    primary = _project(heads[0], class_projection(metadata.labels, classes, f"teacher {path}"))
    aux = None
    teacher_aux = tuple(metadata.extra.get("aux_labels", ()))
    if aux_classes and len(heads) > 1 and teacher_aux:
        aux = _project(heads[1], class_projection(teacher_aux, aux_classes, f"teacher {path} second head"))
    return primary, aux


def teacher_outputs(paths: tuple[str, ...], pixels: np.ndarray, student: Preprocessing, classes: tuple[str, ...],
                    aux_classes: tuple[str, ...] | None = None, mirror: bool = True,
                    batch_size: int = 256) -> TeacherOutputs:
    """Mean probabilities of the `.keras` teachers at `paths` on the student's training faces.

    Each teacher sees the faces in its own input size and colour mode, and (with `mirror`) their
    mirror images too. Classes are matched by name. A two-head teacher (`heads.keras`) also
    teaches the student's second head when the student has one (`aux_classes`).

    Raises:
        FerEdgeError, ModelError: a teacher cannot be loaded or shares no class with the student.
    """
    results = [_one_teacher(Path(path), pixels, student, classes, aux_classes, mirror, batch_size) for path in paths]
    primary = np.mean([result[0] for result in results], axis=0).astype(np.float32)
    auxes = [result[1] for result in results if result[1] is not None]
    if aux_classes and not auxes:
        logger.warning("no teacher has a second head: the student's second head learns from its labels only")
    aux = np.mean(auxes, axis=0).astype(np.float32) if auxes else None
    return TeacherOutputs(primary, aux)


def distill_targets(split: Split, num_classes: int, teacher: TeacherOutputs, weight: float,
                    temperature: float = 1.0, aux: AuxTargets | None = None,
                    heads: str = "both") -> tuple[Split, AuxTargets | None]:
    """target = (1 - weight) * own target + weight * softened teacher probabilities, for the heads in `heads`.

    `heads` is "both", "primary" (the second head keeps its own labels) or "second" (the first head does).
    The second head's targets change only for faces that have a label there (weight 1).
    """
    if not 0.0 < weight <= 1.0:
        raise FerEdgeError(f"--teacher-weight must be in (0, 1], got {weight}")
    if temperature <= 0:
        raise FerEdgeError(f"--teacher-temperature must be positive, got {temperature}")
    if heads not in TEACHER_HEADS:
        raise FerEdgeError(f"--teacher-heads must be one of {TEACHER_HEADS}, got {heads!r}")
    student = split
    if heads != "second":
        own = split.target_matrix(num_classes)
        targets = (1.0 - weight) * own + weight * soften(teacher.probabilities, temperature)
        student = Split(split.pixels, split.labels, split.paths, targets.astype(np.float32))
    if aux is None or teacher.aux_probabilities is None or heads == "primary":
        return student, aux
    labelled = aux.weights[:, None] > 0
    taught = (1.0 - weight) * aux.targets + weight * soften(teacher.aux_probabilities, temperature)
    return student, AuxTargets(aux.classes, np.where(labelled, taught, aux.targets).astype(np.float32), aux.weights)
