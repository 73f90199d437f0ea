"""Two heads on one trunk: training with a second label set, fusing the heads into one layer, choosing the fusion."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from fer_edge.cli import cli
from fer_edge.errors import FerEdgeError
from fer_edge.metadata import load_metadata
from fer_edge.preprocess import normalize
from fer_edge.train.heads import (AUX_HEAD, HEAD, Fusion, FusionGoal, HeadScores, choose_fusion, class_mapping,
                                  fuse_heads, fused_dense, fused_predictions, head_logits, mixture_model,
                                  with_aux_head)
from fer_edge.train.fuse import head_scores, load_members, member_tta
from fer_edge.train.keras_io import load_keras_model
from fer_edge.train.models import build_model
from fer_edge.train.training import TrainOptions, train
from fer_edge.votes import EMOTIONS
from helpers import TINY
from test_targets import fer2013_copy
from test_votes import write_vote_folder

# Models built on a model take bare arrays without Keras's "structure of inputs" warning (train/heads.py).
pytestmark = pytest.mark.filterwarnings("error::UserWarning")

FER2013 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_class_mapping_matches_names_and_refuses_unknown_ones():
    mapping = class_mapping(FER2013, EMOTIONS)
    assert mapping.shape == (7, 8) and mapping.sum() == 7 and mapping[:, EMOTIONS.index("contempt")].sum() == 0
    assert mapping[FER2013.index("angry"), EMOTIONS.index("anger")] == 1
    with pytest.raises(FerEdgeError, match="bored"):
        class_mapping(("bored", "happy"), EMOTIONS)


def test_fused_dense_is_the_weighted_sum_of_both_heads_logits():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 6))
    head = rng.normal(size=(6, 8)), rng.normal(size=8)
    aux = rng.normal(size=(6, 7)), rng.normal(size=7)
    mapping = class_mapping(FER2013, EMOTIONS)
    fusion = Fusion(0.3, tuple(np.linspace(-0.2, 0.5, 8)))
    kernel, bias = fused_dense(head, aux, mapping, fusion)
    primary = features @ head[0] + head[1]
    aux_logits = features @ aux[0] + aux[1]
    centred = aux_logits - aux_logits.mean(axis=1, keepdims=True)
    expected = 0.7 * primary + 0.3 * centred @ mapping + np.array(fusion.bias)
    np.testing.assert_allclose(features @ kernel + bias, expected, rtol=1e-5, atol=1e-5)
    contempt = EMOTIONS.index("contempt")  # only the primary head has it: its aux share is the aux mean, 0
    np.testing.assert_allclose(expected[:, contempt], 0.7 * primary[:, contempt] + fusion.bias[contempt])


def two_head_tiny(seed=0):
    keras.utils.set_random_seed(seed)
    heads = with_aux_head(build_model(TINY, 8, (32, 32, 1)), 7)
    for layer in (heads.get_layer(HEAD), heads.get_layer(AUX_HEAD)):  # heads far from their initial state
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel * 5, np.random.default_rng(seed).normal(size=bias.shape).astype("float32")])
    return heads


def test_fused_model_predicts_what_the_fused_heads_predict():
    heads = two_head_tiny()
    pixels = np.random.default_rng(1).uniform(0, 1, (6, 32, 32, 1)).astype("float32")
    mapping = class_mapping(FER2013, EMOTIONS)
    fusion = Fusion(0.4, tuple([0.0] * 5 + [0.8, 0.3, 0.0]), space="logit")
    single = fuse_heads(heads, build_model(TINY, 8, (32, 32, 1)), mapping, fusion)
    primary, aux = head_logits(heads, pixels)
    np.testing.assert_allclose(softmax(primary), np.asarray(heads(pixels)[HEAD]), atol=1e-5)
    expected = softmax(0.6 * primary + 0.4 * (aux - aux.mean(axis=1, keepdims=True)) @ mapping + fusion.bias)
    np.testing.assert_allclose(np.asarray(single(pixels)), expected, atol=1e-5)
    scores = HeadScores(((primary, aux),), np.zeros(6, int))
    np.testing.assert_array_equal(fused_predictions(scores, mapping, fusion), expected.argmax(axis=1))


def test_mixture_model_mixes_both_heads_probabilities(tmp_path):
    heads = two_head_tiny()
    pixels = np.random.default_rng(1).uniform(0, 1, (6, 32, 32, 1)).astype("float32")
    mapping = class_mapping(FER2013, EMOTIONS)
    bias = tuple([0.0] * 5 + [0.8, 0.3, 0.0])
    fusion = Fusion(0.4, bias, space="probability")
    mixed = mixture_model(heads, mapping, fusion)
    primary, aux = head_logits(heads, pixels)
    scores = 0.6 * softmax(primary) + (softmax(aux) @ mapping) * (0.4 + np.array(bias))
    expected = scores / scores.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(mixed(pixels)), expected, atol=1e-5)
    contempt = EMOTIONS.index("contempt")  # only the primary head has it: no aux probability
    np.testing.assert_allclose(expected[:, contempt] * scores.sum(axis=1), 0.6 * softmax(primary)[:, contempt])
    head_scores = HeadScores(((primary, aux),), np.zeros(6, int))
    np.testing.assert_array_equal(fused_predictions(head_scores, mapping, fusion), expected.argmax(axis=1))
    mixed.save(tmp_path / "mixed.keras")  # the mixture layer is registered: safe mode loads it
    again = keras.saving.load_model(tmp_path / "mixed.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(again(pixels)), expected, atol=1e-5)


def test_a_fusion_refuses_an_unknown_space():
    with pytest.raises(FerEdgeError, match="fusion space 'softmax'"):
        Fusion(0.5, space="softmax")


def disagreeing_heads():
    """Primary logits right on the primary labels, aux logits right on the aux labels (which differ)."""
    mapping = np.eye(3)
    primary_labels, aux_labels = np.array([0, 1, 2, 0, 1, 2]), np.array([1, 1, 2, 2, 0, 0])

    def scores(labels):
        return (np.eye(3)[primary_labels] * 2.0, np.eye(3)[aux_labels] * 1.0), labels

    primary = HeadScores((scores(primary_labels)[0],), primary_labels)
    aux = HeadScores((scores(aux_labels)[0],), aux_labels)
    return primary, aux, mapping


def test_choose_fusion_keeps_the_primary_head_without_a_goal():
    primary, aux, mapping = disagreeing_heads()
    fusion, sweep = choose_fusion(primary, aux, mapping, FusionGoal())
    assert fusion.aux_weight == 0.0 and len(sweep) == 41
    assert sweep[0]["primary_accuracy"] == 1.0 and sweep[0]["aux_accuracy"] == pytest.approx(2 / 6)


def test_choose_fusion_takes_the_least_aux_weight_that_meets_the_goal():
    primary, aux, mapping = disagreeing_heads()
    fusion, sweep = choose_fusion(primary, aux, mapping, FusionGoal(aux_min_accuracy=1.0), space="logit")
    # logits 2(1-w) for the primary class against 1w for the aux class: the aux class wins from w > 2/3
    assert fusion.aux_weight == pytest.approx(0.675) and fusion.space == "logit"
    chosen = next(row for row in sweep if row["fusion"]["aux_weight"] == fusion.aux_weight)
    assert chosen["aux_accuracy"] == 1.0 and chosen["meets_goal"] and chosen["primary_accuracy"] == pytest.approx(2 / 6)


def test_choose_fusion_in_probability_space_takes_the_least_weight_that_meets_the_goal():
    primary, aux, mapping = disagreeing_heads()
    fusion, _ = choose_fusion(primary, aux, mapping, FusionGoal(aux_min_accuracy=1.0))
    # probabilities softmax(2, 0, 0) and softmax(1, 0, 0): the aux class wins once
    # (1 - w)(p_right - p_other) < w (a_right - a_other)
    p = softmax(np.array([[2.0, 0.0, 0.0]]))[0]
    a = softmax(np.array([[1.0, 0.0, 0.0]]))[0]
    threshold = (p[0] - p[1]) / (p[0] - p[1] + a[0] - a[1])
    assert fusion.space == "probability" and threshold < fusion.aux_weight <= threshold + 0.025


def test_choose_fusion_raises_the_bias_of_a_class_below_the_recall_goal():
    labels = np.array([0, 0, 1, 1, 2, 2])
    logits = np.eye(3)[labels]
    logits[:2] = [0.87, 1.0, 0.0]  # class 0 always loses narrowly to class 1: a bias of 0.14 fixes it
    scores = HeadScores(((logits, logits),), labels)
    fusion, sweep = choose_fusion(scores, scores, np.eye(3), FusionGoal(aux_min_recall=0.5), weights=np.array([0.0]),
                                  space="logit")
    assert sweep[0]["aux_min_recall"] == 1.0 and sweep[0]["meets_goal"] and sweep[0]["primary_accuracy"] == 1.0
    assert fusion.bias[0] == pytest.approx(0.14) and fusion.bias[1:] == (0.0, 0.0)


def test_choose_fusion_without_a_feasible_choice_takes_the_best_sum(caplog):
    primary, aux, mapping = disagreeing_heads()
    impossible = FusionGoal(aux_min_accuracy=1.0, aux_min_recall=1.0)
    fusion, sweep = choose_fusion(primary, aux, mapping, impossible, weights=np.array([0.0, 0.5]), space="logit")
    assert not any(row["meets_goal"] for row in sweep) and "no fusion meets the goal" in caplog.text


def specialist_members():
    """Member A's primary head is right on the primary faces, member B's aux head on the aux faces; the rest
    is wrong (A) or uninformative (B). A shared weight below 0.5 keeps A's primary answers, above 0.5 B's aux ones."""
    labels = np.array([0, 1, 2])
    right, wrong = np.eye(3)[labels] * 3.0, np.eye(3)[(labels + 1) % 3] * 3.0
    zero = np.zeros((3, 3))
    primary = HeadScores(((right, wrong), (zero, zero)), labels, members=2)
    aux = HeadScores(((wrong, wrong), (zero, 2.0 * right)), labels, members=2)
    return primary, aux


def test_per_member_weights_let_each_member_keep_what_it_is_good_at():
    primary, aux = specialist_members()
    goal = FusionGoal(aux_min_accuracy=1.0)
    shared, _ = choose_fusion(primary, aux, np.eye(3), goal, weights=np.linspace(0, 1, 11), space="logit")
    fusion, sweep = choose_fusion(primary, aux, np.eye(3), goal, weights=np.linspace(0, 1, 11), per_member=True,
                                  space="logit")
    (weight_a, weight_b) = fusion.member_aux_weights
    assert len(sweep) == 121 and weight_a < 0.5 < weight_b and fusion.aux_weight == pytest.approx((weight_a + weight_b) / 2)
    chosen = next(row for row in sweep if row["fusion"] == fusion.to_dict())
    assert chosen["primary_accuracy"] == 1.0 and chosen["aux_accuracy"] == 1.0
    best_shared = next(row for row in _ if row["fusion"] == shared.to_dict())
    assert shared.aux_weight > 0.5 and best_shared["primary_accuracy"] == 0.0 and best_shared["meets_goal"]
    assert fusion.for_member(1) == Fusion(weight_b, fusion.bias, space="logit") and fusion.weight(0) == weight_a


@pytest.fixture(scope="module")
def two_head_run(tmp_path_factory):
    """A FER+-style vote folder whose faces also sit, with other labels, in a FER2013-style split folder."""
    root = tmp_path_factory.mktemp("heads")
    data = root / "ferplus"
    write_vote_folder(data / "train")
    write_vote_folder(data / "valid")
    labels = {"fer0.png": "happy", "fer1.png": "happy", "fer4.png": "angry", "fer6.png": "fear"}
    fer2013_copy(root / "fer2013" / "train", labels, data / "train")
    fer2013_copy(root / "fer2013" / "val", labels, data / "valid")
    options = TrainOptions(arch=TINY, epochs=2, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(root / "fer2013"))
    return root, train(data, root / "run", options)


def test_training_with_a_second_head_saves_both_heads_and_the_primary_alone(two_head_run):
    root, result = two_head_run
    run = root / "run"
    heads, metadata = load_keras_model(run / "heads.keras")
    assert metadata.labels == EMOTIONS and tuple(metadata.extra["aux_labels"]) == ("angry", "fear", "happy")
    single, single_metadata = load_keras_model(result.model_path)
    assert len(single.outputs) == 1 and single_metadata.labels == EMOTIONS
    pixels = normalize(np.random.default_rng(2).integers(0, 256, (3, 48, 48, 1), dtype=np.uint8), metadata.preprocessing)
    np.testing.assert_allclose(np.asarray(single(pixels)), np.asarray(heads(pixels)[HEAD]), atol=1e-6)
    best, best_metadata = load_keras_model(run / "best.keras")  # an unfinished run's checkpoint loads as heads
    assert tuple(best_metadata.extra["aux_labels"]) == ("angry", "fear", "happy") and len(best.outputs) == 2
    history = json.loads((run / "history.json").read_text())
    assert len(history["val_probabilities_accuracy"]) == 2 and "aux_probabilities_loss" in history
    assert result.best_val_accuracy == max(history["val_probabilities_accuracy"])


def test_best_by_heads_keeps_the_epoch_with_the_best_mean_of_both_heads(two_head_run, tmp_path):
    root, _ = two_head_run
    options = TrainOptions(arch=TINY, epochs=3, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(root / "fer2013"), best_by="heads")
    result = train(root / "ferplus", tmp_path / "run", options)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    means = (np.array(history["val_probabilities_accuracy"]) + np.array(history["val_aux_probabilities_accuracy"])) / 2
    np.testing.assert_allclose(history["val_heads_accuracy"], means, atol=1e-6)
    assert result.best_epoch == int(np.argmax(means)) + 1 and result.best_val_accuracy == pytest.approx(means.max())
    _, metadata = load_keras_model(tmp_path / "run" / "heads.keras")
    assert metadata.extra["best_epoch"] == result.best_epoch and metadata.extra["best_by"] == "val_heads_accuracy"
    assert json.loads((tmp_path / "run" / "options.json").read_text())["best_by"] == "heads"


def test_aux_targets_weight_only_the_faces_found_in_the_other_folder(two_head_run, tmp_path):
    from fer_edge.dataset import load_labeled_folder
    from fer_edge.preprocess import Preprocessing
    from fer_edge.train.targets import aux_targets

    root, _ = two_head_run
    prep = Preprocessing((48, 48), "grayscale")
    _, split, _ = load_labeled_folder(root / "ferplus" / "train", prep)  # majority: fer0, 1, 4-9
    aux = aux_targets(split, root / "fer2013" / "train", prep, workers=1)
    assert aux.classes == ("angry", "fear", "happy")
    names = [path.name for path in split.paths]
    assert aux.weights.tolist() == [1.0 if n in ("fer0.png", "fer1.png", "fer4.png", "fer6.png") else 0.0
                                    for n in names]
    np.testing.assert_array_equal(aux.targets[names.index("fer6.png")], [0, 1, 0])
    assert aux.targets[names.index("fer5.png")].sum() == 0


def test_aux_class_weights_scale_each_matched_face_by_its_labels_rarity():
    from fer_edge.train.targets import AuxTargets
    from fer_edge.train.training import balanced_aux_weights

    targets = np.eye(3, dtype=np.float32)[[0, 0, 0, 1, 2, 2]]
    targets[5] = 0  # an unmatched face: no label, weight 0
    aux = AuxTargets(("angry", "fear", "happy"), targets, np.array([1, 1, 1, 1, 1, 0], np.float32))
    balanced = balanced_aux_weights(aux)  # 5 matched faces: 3 angry, 1 fear, 1 happy -> 5 / (3 x n_c)
    np.testing.assert_allclose(balanced.weights, [5 / 9, 5 / 9, 5 / 9, 5 / 3, 5 / 3, 0], rtol=1e-6)
    halfway = balanced_aux_weights(aux, 0.5)
    np.testing.assert_allclose(halfway.weights, np.sqrt([5 / 9, 5 / 9, 5 / 9, 5 / 3, 5 / 3, 0]), rtol=1e-6)
    np.testing.assert_array_equal(balanced.targets, aux.targets)


def test_aux_class_weights_train_and_are_refused_without_a_second_head(two_head_run, tmp_path):
    root, _ = two_head_run
    options = TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(root / "fer2013"), aux_class_weights=0.5)
    train(root / "ferplus", tmp_path / "run", options)
    assert json.loads((tmp_path / "run" / "options.json").read_text())["aux_class_weights"] == 0.5
    with pytest.raises(FerEdgeError, match="--aux-class-weights weights a second head's loss: give its labels"):
        TrainOptions(arch=TINY, aux_class_weights=1.0)
    with pytest.raises(FerEdgeError, match=r"--aux-class-weights is a power in \[0, 2\] \(1: balanced\), got -1"):
        TrainOptions(arch=TINY, aux_labels="fer2013", aux_class_weights=-1.0)


def test_fuse_heads_command_writes_a_one_head_model_with_its_fusion(two_head_run):
    root, _ = two_head_run
    out = root / "fused.keras"
    result = CliRunner().invoke(cli, ["fuse-heads", str(root / "run" / "heads.keras"),
                                      "--data", str(root / "ferplus" / "valid"),
                                      "--aux-data", str(root / "fer2013" / "val"), "--out", str(out),
                                      "--aux-min-accuracy", "0.5", "--json", str(root / "fuse.json")])
    assert result.exit_code == 0, result.output
    assert "chosen: aux weight" in result.output and out.exists()
    metadata = load_metadata(root / "fused.meta.json")
    sweep = json.loads((root / "fuse.json").read_text())["sweep"]
    assert metadata.extra["fusion"]["aux_weight"] == json.loads((root / "fuse.json").read_text())["fusion"]["aux_weight"]
    assert metadata.tta == "mirror" and len(sweep) == 41 and metadata.labels == EMOTIONS
    assert metadata.extra["fusion"]["space"] == "probability"
    model, _ = load_keras_model(out)
    assert model.layers[-1].name == "mixture" and len(model.outputs) == 1


def test_fuse_heads_in_logit_space_writes_an_ordinary_one_head_model(two_head_run, tmp_path):
    root, _ = two_head_run
    out = tmp_path / "fused.keras"
    result = CliRunner().invoke(cli, ["fuse-heads", str(root / "run" / "heads.keras"), "--space", "logit",
                                      "--data", str(root / "ferplus" / "valid"),
                                      "--aux-data", str(root / "fer2013" / "val"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model, metadata = load_keras_model(out)
    assert metadata.extra["fusion"]["space"] == "logit"
    plain = build_model(TINY, 8, (48, 48, 1))
    assert [w.shape for w in model.get_weights()] == [w.shape for w in plain.get_weights()]
    assert model.layers[-1].name == HEAD


def test_fuse_heads_refuses_a_one_head_model(two_head_run):
    root, result = two_head_run
    out = CliRunner().invoke(cli, ["fuse-heads", str(result.model_path), "--data", str(root / "ferplus" / "valid"),
                                   "--aux-data", str(root / "fer2013" / "val"), "--out", str(root / "x.keras")])
    assert out.exit_code == 1 and "is not a two-head model" in out.output and not (root / "x.keras").exists()


def test_a_second_head_refuses_class_weights_and_unknown_classes(tmp_path, two_head_run):
    root, _ = two_head_run
    options = TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(root / "fer2013"), class_weights=True)
    with pytest.raises(FerEdgeError, match="class-weights"):
        train(root / "ferplus", tmp_path / "a", options)


def test_fuse_heads_of_several_models_saves_their_ensemble(two_head_run, tmp_path):
    root, _ = two_head_run
    heads = root / "run" / "heads.keras"
    args = ["fuse-heads", str(heads), str(heads), "--data", str(root / "ferplus" / "valid"),
            "--aux-data", str(root / "fer2013" / "val")]
    one, two = tmp_path / "one.keras", tmp_path / "two.keras"
    assert CliRunner().invoke(cli, [*args[:1], *args[2:], "--out", str(one)]).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "--out", str(two)])
    assert result.exit_code == 0, result.output
    single, _ = load_keras_model(one)
    both, metadata = load_keras_model(two)
    assert metadata.arch == "ensemble" and len(metadata.extra["members"]) == 2 and metadata.labels == EMOTIONS
    assert metadata.extra["fusion"] == metadata.extra["members"][0]["extra"]["fusion"]  # the shared fusion, on top
    pixels = np.random.default_rng(3).uniform(0, 1, (4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(both(pixels)), np.asarray(single(pixels)), atol=1e-5)  # twice the same


def test_an_ensemble_records_each_members_own_training_facts(two_head_run, tmp_path):
    import shutil

    root, _ = two_head_run
    other = tmp_path / "other.keras"
    shutil.copy(root / "run" / "heads.keras", other)
    sidecar = json.loads((root / "run" / "heads.meta.json").read_text())
    sidecar["extra"]["train_options"] = {**sidecar["extra"]["train_options"], "seed": 7}
    (tmp_path / "other.meta.json").write_text(json.dumps(sidecar))
    result = CliRunner().invoke(cli, ["fuse-heads", str(root / "run" / "heads.keras"), str(other),
                                      "--data", str(root / "ferplus" / "valid"),
                                      "--aux-data", str(root / "fer2013" / "val"), "--out", str(tmp_path / "e.keras")])
    assert result.exit_code == 0, result.output
    members = load_metadata(tmp_path / "e.meta.json").extra["members"]
    assert [m["extra"]["train_options"]["seed"] for m in members] == [42, 7]


def test_add_head_makes_a_one_head_model_a_two_head_one(two_head_run, tmp_path):
    """A model trained on the FER2013-style labels gets a FER+ head on frozen features; its own head is the aux."""
    root, _ = two_head_run
    one_head = train(root / "fer2013", tmp_path / "fer2013_run",
                     TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4,
                                  verbose=0, val_fraction=0.0)).model_path
    out = tmp_path / "heads.keras"
    result = CliRunner().invoke(cli, ["add-head", str(one_head), str(root / "ferplus"), "--out", str(out),
                                      "--epochs", "3"])
    assert result.exit_code == 0, result.output
    heads, metadata = load_keras_model(out)
    original, original_metadata = load_keras_model(one_head)
    assert metadata.labels == EMOTIONS and tuple(metadata.extra["aux_labels"]) == original_metadata.labels
    pixels = np.random.default_rng(4).uniform(0, 1, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(heads(pixels)[AUX_HEAD]), np.asarray(original(pixels)), atol=1e-6)
    assert np.asarray(heads(pixels)[HEAD]).shape == (3, 8)
    again = CliRunner().invoke(cli, ["add-head", str(out), str(root / "ferplus"), "--out", str(tmp_path / "x.keras")])
    assert again.exit_code == 1 and "already has two heads" in again.output
    fused = tmp_path / "fused.keras"
    assert CliRunner().invoke(cli, ["fuse-heads", str(out), "--data", str(root / "ferplus" / "valid"), "--aux-data",
                                    str(root / "fer2013" / "val"), "--out", str(fused)]).exit_code == 0
    mixed = CliRunner().invoke(cli, ["add-head", str(fused), str(root / "ferplus"), "--out", str(tmp_path / "y.keras")])
    assert mixed.exit_code == 1 and "already mixes two heads" in mixed.output and not (tmp_path / "y.keras").exists()


def test_a_two_head_run_starts_from_a_two_head_model(two_head_run, tmp_path):
    """--init-from heads.keras copies both heads: at a negligible learning rate the second run scores the same."""
    root, first = two_head_run
    options = TrainOptions(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                           label_mode="probability", aux_labels=str(root / "fer2013"), learning_rate=1e-9,
                           init_from=str(root / "run" / "heads.keras"))
    second = train(root / "ferplus", tmp_path / "again", options)
    before, _ = load_keras_model(root / "run" / "heads.keras")
    after, _ = load_keras_model(tmp_path / "again" / "heads.keras")
    pixels = np.random.default_rng(5).uniform(0, 1, (3, 48, 48, 1)).astype("float32")
    for name in (HEAD, AUX_HEAD):
        np.testing.assert_allclose(np.asarray(after(pixels)[name]), np.asarray(before(pixels)[name]), atol=1e-4)
    assert second.best_val_accuracy == pytest.approx(first.best_val_accuracy, abs=1e-6)


def test_init_from_refuses_a_model_with_other_heads(two_head_run, tmp_path):
    root, first = two_head_run
    common = dict(arch=TINY, epochs=1, image_size=48, color_mode="grayscale", batch_size=4, verbose=0,
                  label_mode="probability")
    with pytest.raises(FerEdgeError, match="has two heads"):
        train(root / "ferplus", tmp_path / "a", TrainOptions(**common, init_from=str(root / "run" / "heads.keras")))
    with pytest.raises(FerEdgeError, match="second-head labels none"):
        train(root / "ferplus", tmp_path / "b", TrainOptions(**common, aux_labels=str(root / "fer2013"),
                                                             init_from=str(first.model_path)))


def test_fuse_heads_per_member_saves_each_member_with_its_own_weight(two_head_run, tmp_path):
    root, _ = two_head_run
    heads_path = root / "run" / "heads.keras"
    out = tmp_path / "e.keras"
    result = CliRunner().invoke(cli, ["fuse-heads", str(heads_path), str(heads_path), "--per-member",
                                      "--data", str(root / "ferplus" / "valid"), "--aux-data",
                                      str(root / "fer2013" / "val"), "--aux-min-accuracy", "0.5",
                                      "--json", str(tmp_path / "e.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "121 fusions tried" in result.output and "chosen: aux weight " in result.output
    saved = json.loads((tmp_path / "e.json").read_text())
    weights, bias = saved["fusion"]["member_aux_weights"], tuple(saved["fusion"]["bias"])
    assert len(saved["sweep"]) == 121 and len(weights) == 2
    ensemble, metadata = load_keras_model(out)
    assert metadata.extra["fusion"]["member_aux_weights"] == weights
    assert [m["extra"]["fusion"]["aux_weight"] for m in metadata.extra["members"]] == weights
    heads, heads_metadata = load_keras_model(heads_path)
    mapping = class_mapping(tuple(heads_metadata.extra["aux_labels"]), EMOTIONS)
    pixels = np.random.default_rng(6).uniform(0, 1, (4, 48, 48, 1)).astype("float32")
    expected = np.mean([np.asarray(mixture_model(heads, mapping, Fusion(w, bias, space="probability"))(pixels))
                        for w in weights], axis=0)
    np.testing.assert_allclose(np.asarray(ensemble(pixels)), expected, atol=1e-5)


def test_member_tta_is_one_value_for_all_or_one_per_member():
    assert member_tta("mirror", 3) == ("mirror",) * 3 and member_tta(["none"], 2) == ("none", "none")
    assert member_tta("none,mirror,mirror", 3) == ("none", "mirror", "mirror")
    for bad in ("flip", "none,mirror", "none,,mirror", ""):
        with pytest.raises(FerEdgeError, match="once or once per model"):
            member_tta(bad, 3)


def test_head_scores_mirror_only_the_chosen_members_and_keep_two_views_each(two_head_run):
    """tta none,mirror: the first member repeats its own view, the second adds its mirror view; labels by name."""
    root, _ = two_head_run
    heads_path = root / "run" / "heads.keras"
    members, metadata, _ = load_members([heads_path, heads_path])
    folder = root / "ferplus" / "valid"
    plain = head_scores(members, metadata[0], folder, "none")
    mixed = head_scores(members, metadata[0], folder, "none,mirror")
    assert (len(plain.views), len(mixed.views), mixed.members) == (2, 4, 2)
    np.testing.assert_array_equal(mixed.labels, plain.labels)
    for view in (mixed.views[0], mixed.views[1], mixed.views[2]):
        np.testing.assert_allclose(view[0], plain.views[0][0], atol=1e-5)
    mirrored = head_scores(members[:1], metadata[0], folder, "mirror").views[1]
    np.testing.assert_allclose(mixed.views[3][0], mirrored[0], atol=1e-5)
    assert np.abs(mixed.views[3][0] - plain.views[0][0]).max() > 1e-3  # the mirror view is another view


def test_fuse_heads_builds_one_members_mirror_view_into_the_ensemble(two_head_run, tmp_path):
    """--tta none,mirror: the second member averages its two views in the graph; the model records no TTA."""
    root, _ = two_head_run
    heads_path = root / "run" / "heads.keras"
    out = tmp_path / "e.keras"
    args = ["fuse-heads", str(heads_path), str(heads_path), "--data", str(root / "ferplus" / "valid"),
            "--aux-data", str(root / "fer2013" / "val"), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--tta", "none,mirror"])
    assert result.exit_code == 0, result.output
    ensemble, metadata = load_keras_model(out)
    assert metadata.tta == "none" and metadata.extra["fusion"]["tta"] == "none,mirror"
    assert [m["mirror"] for m in metadata.extra["members"]] == [False, True]
    heads, heads_metadata = load_keras_model(heads_path)
    fusion = Fusion(metadata.extra["fusion"]["aux_weight"], tuple(metadata.extra["fusion"]["bias"]),
                    space="probability")
    single = mixture_model(heads, class_mapping(tuple(heads_metadata.extra["aux_labels"]), EMOTIONS), fusion)
    pixels = np.random.default_rng(8).uniform(0, 1, (4, 48, 48, 1)).astype("float32")
    plain, mirrored = np.asarray(single(pixels)), np.asarray(single(pixels[:, :, ::-1]))
    np.testing.assert_allclose(np.asarray(ensemble(pixels)), 0.75 * plain + 0.25 * mirrored, atol=1e-5)
    for bad in ("none,mirror,mirror", "flip"):
        refused = CliRunner().invoke(cli, [*args, "--tta", bad])
        assert refused.exit_code == 1 and "Error: TTA takes none or mirror, once or once per model (2 here)" in \
            refused.output


def test_a_mixture_model_converts_to_int8_and_runs_without_tensorflow(two_head_run, tmp_path):
    """The mixture's division runs as an int8 op in LiteRT; its outputs stay probabilities close to Keras's."""
    from fer_edge.convert.tflite import convert_model
    from fer_edge.interpreter import TFLiteClassifier
    from fer_edge.train.keras_io import KerasClassifier

    root, _ = two_head_run
    fused = tmp_path / "fused.keras"
    assert CliRunner().invoke(cli, ["fuse-heads", str(root / "run" / "heads.keras"), "--data",
                                    str(root / "ferplus" / "valid"), "--aux-data", str(root / "fer2013" / "val"),
                                    "--out", str(fused)]).exit_code == 0
    result = convert_model(fused, tmp_path / "fused_int8.tflite", quant="int8", calibration=root / "ferplus" / "train",
                           samples=20)
    int8, float_model = TFLiteClassifier(result.path), KerasClassifier(fused)
    pixels = np.random.default_rng(7).integers(0, 256, (8, 48, 48, 1), dtype=np.uint8)
    quantized, expected = int8.predict_pixels(pixels), float_model.predict_pixels(pixels)
    np.testing.assert_allclose(quantized.sum(axis=1), 1.0, atol=0.03)
    np.testing.assert_allclose(quantized, expected, atol=0.05)


def test_an_ensemble_with_a_mirrored_member_converts_to_int8_and_runs_without_tensorflow(two_head_run, tmp_path):
    """The in-graph mirror views (the faces and their mirror images in one batch twice as large: REVERSE_V2,
    CONCATENATION, then RESHAPE and MEAN to average them) quantize and run in LiteRT, close to the Keras ensemble,
    on a batch of several faces."""
    from fer_edge.convert.tflite import convert_model
    from fer_edge.interpreter import TFLiteClassifier
    from fer_edge.train.keras_io import KerasClassifier

    root, _ = two_head_run
    heads = str(root / "run" / "heads.keras")
    fused = tmp_path / "mirrored.keras"
    assert CliRunner().invoke(cli, ["fuse-heads", heads, heads, "--tta", "mirror,none", "--data",
                                    str(root / "ferplus" / "valid"), "--aux-data", str(root / "fer2013" / "val"),
                                    "--out", str(fused)]).exit_code == 0
    result = convert_model(fused, tmp_path / "mirrored_int8.tflite", quant="int8",
                           calibration=root / "ferplus" / "train", samples=20)
    int8, float_model = TFLiteClassifier(result.path), KerasClassifier(fused)
    pixels = np.random.default_rng(9).integers(0, 256, (8, 48, 48, 1), dtype=np.uint8)
    quantized, expected = int8.predict_pixels(pixels), float_model.predict_pixels(pixels)
    assert int8.metadata.tta == "none"
    np.testing.assert_allclose(quantized, expected, atol=0.05)
