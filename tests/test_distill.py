"""Knowledge distillation: teachers' probabilities on the training faces, blended into both heads' targets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.dataset import Split
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import ModelMetadata
from fer_edge.preprocess import Preprocessing, normalize
from fer_edge.train.distill import (TeacherOutputs, class_projection, distill_targets, soften, teacher_outputs)
from fer_edge.train.heads import AUX_HEAD, HEAD, with_aux_head
from fer_edge.train.keras_io import save_keras_model
from fer_edge.train.models import build_model
from fer_edge.train.targets import AuxTargets
from fer_edge.train.training import TrainOptions, train
from fer_edge.votes import EMOTIONS
from helpers import TINY
from test_targets import fer2013_copy
from test_votes import write_vote_folder

# Models built on a model take bare arrays without Keras's "structure of inputs" warning (train/heads.py).
pytestmark = pytest.mark.filterwarnings("error::UserWarning")

GRAY48 = Preprocessing((48, 48), "grayscale")
FER2013 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def test_class_projection_matches_names_and_names_the_classes_a_teacher_lacks(caplog):
    projection = class_projection(FER2013, EMOTIONS, "teacher t")
    assert projection.shape == (7, 8) and projection.sum() == 7
    assert projection[FER2013.index("angry"), EMOTIONS.index("anger")] == 1
    assert "teacher t has no class ['contempt']" in caplog.text
    with pytest.raises(FerEdgeError, match="share no class"):
        class_projection(("bored", "sleepy"), EMOTIONS, "teacher t")


def test_soften_spreads_probability_with_temperature():
    p = np.array([[0.8, 0.15, 0.05]])
    np.testing.assert_array_equal(soften(p, 1.0), p)
    expected = np.sqrt(p) / np.sqrt(p).sum()  # T = 2: p^(1/2), renormalized
    np.testing.assert_allclose(soften(p, 2.0), expected, atol=1e-9)
    assert soften(p, 2.0)[0, 0] < 0.8


def test_distill_targets_blend_both_heads_and_leave_unlabelled_aux_rows_alone():
    split = Split(np.zeros((2, 4, 4, 1), np.uint8), np.array([0, 1]), ("a", "b"))
    teacher = TeacherOutputs(np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]], np.float32),
                             np.array([[0.9, 0.1], [0.3, 0.7]], np.float32))
    aux = AuxTargets(("x", "y"), np.array([[0.0, 1.0], [0.0, 0.0]], np.float32), np.array([1.0, 0.0], np.float32))
    student, student_aux = distill_targets(split, 3, teacher, 0.25, aux=aux)
    np.testing.assert_allclose(student.targets, [[0.875, 0.125, 0.0], [0.0, 0.8, 0.2]], atol=1e-6)
    assert student.labels.tolist() == [0, 1]  # the dataset's own labels still stratify and weight
    np.testing.assert_allclose(student_aux.targets, [[0.225, 0.775], [0.0, 0.0]], atol=1e-6)
    np.testing.assert_array_equal(student_aux.weights, aux.weights)
    with pytest.raises(FerEdgeError, match="teacher-weight"):
        distill_targets(split, 3, teacher, 0.0)
    with pytest.raises(FerEdgeError, match="temperature"):
        distill_targets(split, 3, teacher, 0.5, temperature=0.0)


def save_teacher(path, labels, prep, aux_labels=(), seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(TINY, len(labels), prep.input_shape)
    extra = {}
    if aux_labels:
        model, extra = with_aux_head(model, len(aux_labels)), {"aux_labels": list(aux_labels)}
    save_keras_model(model, ModelMetadata(tuple(labels), prep, TINY, extra), path)
    return model


def test_teacher_outputs_are_the_mirror_mean_in_the_students_class_order(tmp_path):
    order = FER2013[::-1]  # another class order than the student's
    model = save_teacher(tmp_path / "t.keras", order, GRAY48)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)
    taught = teacher_outputs((str(tmp_path / "t.keras"),), faces, GRAY48, FER2013)
    views = [np.asarray(model(normalize(v, GRAY48), training=False)) for v in (faces, faces[:, :, ::-1])]
    expected = np.mean(views, axis=0)[:, ::-1]
    np.testing.assert_allclose(taught.probabilities, expected, atol=1e-5)
    assert taught.aux_probabilities is None


def test_a_two_head_teacher_in_another_input_format_teaches_both_heads(tmp_path):
    rgb32 = Preprocessing((32, 32), "rgb")
    model = save_teacher(tmp_path / "h.keras", EMOTIONS, rgb32, aux_labels=FER2013)
    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    taught = teacher_outputs((str(tmp_path / "h.keras"),), faces, GRAY48, EMOTIONS, aux_classes=FER2013[:3],
                             mirror=False)
    import cv2

    rgb = np.stack([np.repeat(cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA)[..., None], 3, -1) for f in faces])
    outputs = model(normalize(rgb, rgb32), training=False)
    np.testing.assert_allclose(taught.probabilities, np.asarray(outputs[HEAD]), atol=1e-5)
    aux = np.asarray(outputs[AUX_HEAD])[:, :3]  # the student's second head has 3 of the teacher's 7 classes
    np.testing.assert_allclose(taught.aux_probabilities, aux / aux.sum(axis=1, keepdims=True), atol=1e-5)


def test_distill_targets_teach_only_the_heads_asked_for():
    split = Split(np.zeros((2, 4, 4, 1), np.uint8), np.array([0, 1]), ("a", "b"))
    teacher = TeacherOutputs(np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]], np.float32),
                             np.array([[0.9, 0.1], [0.3, 0.7]], np.float32))
    aux = AuxTargets(("x", "y"), np.array([[0.0, 1.0], [0.0, 0.0]], np.float32), np.array([1.0, 0.0], np.float32))
    student, student_aux = distill_targets(split, 3, teacher, 0.25, aux=aux, heads="second")
    assert student is split  # the first head keeps its own targets
    np.testing.assert_allclose(student_aux.targets, [[0.225, 0.775], [0.0, 0.0]], atol=1e-6)
    student, student_aux = distill_targets(split, 3, teacher, 0.25, aux=aux, heads="primary")
    np.testing.assert_allclose(student.targets, [[0.875, 0.125, 0.0], [0.0, 0.8, 0.2]], atol=1e-6)
    assert student_aux is aux  # the second head keeps its own labels
    with pytest.raises(FerEdgeError, match="teacher-heads"):
        distill_targets(split, 3, teacher, 0.5, aux=aux, heads="aux")


@pytest.mark.parametrize("kwargs, message", [({"teacher_heads": "aux"}, "--teacher-heads must be one of"),
                                             ({"teacher_heads": "second"}, "needs --teacher MODEL and --aux-labels"),
                                             ({"teacher_heads": "second", "teacher": ["t.keras"]}, "--aux-labels")])
def test_teacher_heads_are_checked_with_the_options(kwargs, message):
    with pytest.raises(FerEdgeError, match=message):
        TrainOptions(**kwargs)


@pytest.fixture(scope="module")
def vote_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    write_vote_folder(root / "ferplus" / "train")
    write_vote_folder(root / "ferplus" / "valid")
    labels = {"fer0.png": "happy", "fer1.png": "happy", "fer4.png": "angry", "fer6.png": "fear"}
    fer2013_copy(root / "fer2013" / "train", labels, root / "ferplus" / "train")
    fer2013_copy(root / "fer2013" / "val", labels, root / "ferplus" / "valid")
    save_teacher(root / "heads.keras", EMOTIONS, GRAY48, aux_labels=("angry", "fear", "happy"), seed=3)
    return root


def distilled_run(vote_data, run, monkeypatch, **changes) -> dict:
    """Train one epoch with the vote data's two-head teacher; the targets before and after distillation."""
    import fer_edge.train.training as training

    seen = {}
    distill = training._distill

    def spy(dataset, options, aux):
        seen["before"], seen["aux_before"] = dataset.splits["train"], aux["train"]
        seen["val"], seen["aux_val"] = dataset.splits["val"], aux["val"]
        seen["after"], seen["aux_after"] = distill(dataset, options, aux)
        return seen["after"], seen["aux_after"]

    monkeypatch.setattr(training, "_distill", spy)
    options = TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(vote_data / "fer2013"),
                           teacher=[str(vote_data / "heads.keras")], teacher_weight=0.5, **changes)
    train(vote_data / "ferplus", run, options)
    return seen


def test_train_with_a_teacher_records_it_and_its_targets_move_toward_the_teacher(vote_data, tmp_path, monkeypatch):
    seen = distilled_run(vote_data, tmp_path / "run", monkeypatch)
    teacher = str(vote_data / "heads.keras")
    before, own = seen["before"], seen["aux_before"]
    taught = teacher_outputs((teacher,), before.pixels, GRAY48, EMOTIONS, ("angry", "fear", "happy"))
    np.testing.assert_allclose(seen["after"].splits["train"].targets,
                               0.5 * before.targets + 0.5 * taught.probabilities, atol=1e-5)
    labelled = own.weights[:, None] > 0
    expected = np.where(labelled, 0.5 * own.targets + 0.5 * taught.aux_probabilities, 0.0)
    np.testing.assert_allclose(seen["aux_after"]["train"].targets, expected, atol=1e-5)
    assert labelled.sum() >= 1 and not np.array_equal(seen["aux_after"]["train"].targets, own.targets)
    assert seen["aux_after"]["val"] is seen["aux_val"]  # validation keeps its own labels
    assert seen["after"].splits["val"] is seen["val"]
    saved = json.loads((tmp_path / "run" / "options.json").read_text())
    assert saved["teacher"] == [teacher] and saved["teacher_weight"] == 0.5


def test_a_teacher_of_the_second_head_alone_leaves_the_first_heads_targets(vote_data, tmp_path, monkeypatch):
    seen = distilled_run(vote_data, tmp_path / "run", monkeypatch, teacher_heads="second")
    np.testing.assert_array_equal(seen["after"].splits["train"].targets, seen["before"].targets)
    own = seen["aux_before"]
    taught = teacher_outputs((str(vote_data / "heads.keras"),), seen["before"].pixels, GRAY48, EMOTIONS,
                             ("angry", "fear", "happy"))
    labelled = own.weights[:, None] > 0
    np.testing.assert_allclose(seen["aux_after"]["train"].targets,
                               np.where(labelled, 0.5 * own.targets + 0.5 * taught.aux_probabilities, 0.0), atol=1e-5)
    assert json.loads((tmp_path / "run" / "options.json").read_text())["teacher_heads"] == "second"


def test_train_refuses_a_teacher_without_shared_classes_or_missing(vote_data, tmp_path):
    save_teacher(tmp_path / "odd.keras", ("bored", "sleepy"), GRAY48)
    args = ["train", str(vote_data / "ferplus"), "--arch", TINY, "--image-size", "48", "--color-mode", "grayscale",
            "--epochs", "1", "--label-mode", "probability"]
    out = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "a"), "--teacher", str(tmp_path / "odd.keras")])
    assert out.exit_code == 1 and "share no class" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "b"), "--teacher", str(tmp_path / "none.keras")])
    assert out.exit_code == 2 and "does not exist" in out.output


def test_resume_refuses_another_teacher(vote_data, tmp_path):
    options = TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", teacher=(str(vote_data / "heads.keras"),))
    run = tmp_path / "run"
    train(vote_data / "ferplus", run, options)
    (run / "backup").mkdir(exist_ok=True)
    other = TrainOptions(**{**options.__dict__, "teacher": (), "epochs": 2})
    with pytest.raises(FerEdgeError, match="--teacher"):
        train(vote_data / "ferplus", run, other, resume=True)
