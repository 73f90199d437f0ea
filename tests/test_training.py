"""Training runs: outputs, determinism, resume after an interruption, class weights, the input pipeline."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from fer_edge.dataset import load_dataset
from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.metadata import load_metadata
from fer_edge.preprocess import Preprocessing, normalize
from fer_edge.train import training
from fer_edge.train.keras_io import load_keras_model
from fer_edge.train.pipeline import make_dataset
from fer_edge.train.training import TrainOptions, balanced_class_weights, read_history, train
from helpers import TINY, TINY_BN

FAST = dict(arch=TINY, epochs=3, image_size=32, batch_size=16, augment=False, verbose=0, learning_rate=0.01)


@pytest.mark.filterwarnings("error::UserWarning")  # no third-party noise, e.g. from reloading best.keras
def test_run_writes_model_metadata_and_history(synthetic_faces, tmp_path):
    result = train(synthetic_faces, tmp_path / "run", TrainOptions(**FAST))
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"model.keras", "model.meta.json", "best.keras", "best.meta.json", "history.csv", "history.json",
            "options.json"} <= names
    best, best_metadata = load_keras_model(tmp_path / "run" / "best.keras")  # loadable with its sidecar
    assert best_metadata.labels == ("happy", "sad", "surprise") and best_metadata.arch == TINY
    assert len(best.outputs) == 1 and best.outputs[0].shape[-1] == 3
    assert getattr(keras.saving.load_model(tmp_path / "run" / "best.keras"), "optimizer", None) is None
    assert "backup" not in names  # removed once training finishes
    metadata = load_metadata(tmp_path / "run" / "model.meta.json")
    assert metadata.labels == ("happy", "sad", "surprise")
    assert metadata.preprocessing == Preprocessing((32, 32))
    assert metadata.extra["train_options"] == json.loads((tmp_path / "run" / "options.json").read_text())
    assert metadata.extra["train_options"]["epochs"] == FAST["epochs"]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    for key in ("loss", "accuracy", "precision", "recall", "f1", "val_loss", "val_accuracy", "val_precision", "val_recall"):
        assert len(history[key]) == 3
    assert history["loss"][-1] < history["loss"][0]
    assert result.best_val_accuracy == max(history["val_accuracy"])
    assert result.train_images_per_second > 0


def test_same_seed_same_result(synthetic_faces, tmp_path):
    options = TrainOptions(**{**FAST, "epochs": 2, "augment": True})
    first = train(synthetic_faces, tmp_path / "a", options)
    second = train(synthetic_faces, tmp_path / "b", options)
    assert first.history == second.history


def test_learns_the_synthetic_faces(synthetic_faces, tmp_path):
    result = train(synthetic_faces, tmp_path / "run", TrainOptions(**{**FAST, "epochs": 10}))
    assert result.best_val_accuracy >= 0.6  # chance is 0.33


class InterruptAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def interrupt_after_two_epochs(data, run, options, monkeypatch) -> None:
    """Train `run` on `data` with `options` until two epochs are done, then stop it as a kill would."""
    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: original(*a) + [InterruptAtEpoch(2)])
    with pytest.raises(KeyboardInterrupt):
        train(data, run, options)
    monkeypatch.setattr(training, "_callbacks", original)


def test_resume_continues_an_interrupted_run(synthetic_faces, tmp_path, monkeypatch):
    run = tmp_path / "run"
    options = TrainOptions(**{**FAST, "epochs": 4})
    interrupt_after_two_epochs(synthetic_faces, run, options, monkeypatch)
    assert (run / "backup").exists() and not (run / "model.keras").exists()
    assert len(read_history(run / "history.csv")["loss"]) == 2
    with pytest.raises(FerEdgeError, match="--resume"):
        train(synthetic_faces, run, options)
    result = train(synthetic_faces, run, options, resume=True)
    assert [int(e) for e in result.history["epoch"]] == [0, 1, 2, 3]
    assert (run / "model.keras").exists() and not (run / "backup").exists()
    with pytest.raises(FerEdgeError, match="nothing to resume in .*: its run has finished"):
        train(synthetic_faces, run, options, resume=True)


def test_resume_without_an_interrupted_run(synthetic_faces, tmp_path):
    with pytest.raises(FerEdgeError, match="nothing to resume"):
        train(synthetic_faces, tmp_path / "fresh", TrainOptions(**FAST), resume=True)


def test_balanced_class_weights():
    weights = balanced_class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}


class OptimizerAtEnd(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations)
        self.learning_rate = float(self.model.optimizer.learning_rate)


def test_class_weights_and_cosine_schedule_train(synthetic_faces, tmp_path, monkeypatch):
    options = TrainOptions(**{**FAST, "epochs": 2, "class_weights": True, "lr_schedule": "cosine"})
    at_end = OptimizerAtEnd()
    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: original(*a) + [at_end])
    result = train(synthetic_faces, tmp_path / "run", options)
    assert len(result.history["loss"]) == 2
    assert at_end.iterations == 2 * 8  # 120 images / batch 16, twice
    assert at_end.learning_rate == pytest.approx(0.01 * 0.01, rel=1e-3)  # fully decayed
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert getattr(saved, "optimizer", None) is None  # model.keras keeps weights, not the optimizer


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"learning_rate": -1.0}, {"distribute": "tpu"}, {"lr_schedule": "step"},
                                    {"ema": 1.0}, {"ema": -0.1}, {"mixup": -0.2}, {"mixup": float("nan")},
                                    {"mixup": 11.0}, {"erasing": -0.1}, {"erasing": 1.5}, {"erasing": float("nan")},
                                    {"best_by": "last"}, {"best_by": "heads"}])
def test_bad_options(kwargs):
    with pytest.raises(FerEdgeError):
        TrainOptions(**kwargs)


def test_an_unknown_architecture_is_refused_before_any_data_is_read(tmp_path):
    with pytest.raises(FerEdgeError, match="unknown architecture 'nope'; choose one of: paper_cnn, sepnet"):
        TrainOptions(arch="nope")


def test_pipeline_matches_shared_preprocessing(synthetic_faces):
    prep = Preprocessing((32, 32), scale=2 / 255, offset=-1.0)
    split = load_dataset(synthetic_faces, prep).splits["val"]
    images, labels = next(iter(make_dataset(split, prep, 3, 8, training=False)))
    np.testing.assert_array_equal(images.numpy(), normalize(split.pixels[:8], prep))
    np.testing.assert_array_equal(labels.numpy().argmax(axis=1), split.labels[:8])


def test_training_pipeline_shuffles_and_augments_within_range(synthetic_faces):
    prep = Preprocessing((32, 32))
    split = load_dataset(synthetic_faces, prep).splits["train"]
    batches = list(make_dataset(split, prep, 3, 16, training=True, augment="full", seed=3))
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy().argmax(axis=1) for b in batches])
    assert len(images) == len(split) and images.min() >= 0.0 and images.max() <= 1.0
    assert sorted(labels.tolist()) == sorted(split.labels.tolist())
    assert labels.tolist() != split.labels.tolist()


def test_flip_augmentation_mirrors_some_faces_and_changes_nothing_else(synthetic_faces):
    prep = Preprocessing((32, 32))
    split = load_dataset(synthetic_faces, prep).splits["train"]
    batches = list(make_dataset(split, prep, 3, 16, training=True, augment="flip", seed=3))
    images = np.concatenate([b[0].numpy() for b in batches])
    faces = normalize(split.pixels, prep)
    as_is = {face.tobytes() for face in faces}
    mirrored = {face[:, ::-1].tobytes() for face in faces}
    kept = sum(image.tobytes() in as_is for image in images)
    flipped = sum(image.tobytes() in mirrored and image.tobytes() not in as_is for image in images)
    assert kept + flipped == len(images) == len(faces)  # every face as it was or its exact mirror image
    assert 0.3 < flipped / len(images) < 0.7


@pytest.mark.parametrize("augment", ["flip ", "crop", True])
def test_an_unknown_augmentation_is_refused(augment):
    from fer_edge.train.pipeline import augmenter

    with pytest.raises(FerEdgeError, match="unknown augmentation"):
        augmenter(3, augment)


def test_options_read_a_saved_true_or_false_augment_and_refuse_unknown_modes():
    assert TrainOptions(augment=True).augment == "full" and TrainOptions(augment=False).augment == "none"
    assert TrainOptions().augment == "full" and TrainOptions(augment="flip").augment == "flip"
    with pytest.raises(FerEdgeError, match="--augment must be one of"):
        TrainOptions(augment="mirror")


def constant_faces(values) -> np.ndarray:
    """One 4x4 single-channel face per value, every pixel that value: a mixed face shows its lambda."""
    return np.stack([np.full((4, 4, 1), v, np.float32) for v in values])


def test_mixup_mixes_each_face_and_its_target_with_the_same_partner_and_lambda():
    from fer_edge.train.pipeline import mixup_batch

    values = np.array([0.0, 100.0, 200.0, 300.0], np.float32)
    targets = np.eye(4, dtype=np.float32)
    images, mixed, weights = mixup_batch(tf.constant(constant_faces(values)), tf.constant(targets), None,
                                         tf.constant([7, 1], tf.int64), alpha=0.4)
    assert weights is None
    mixed = mixed.numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
    for face, target in zip(images.numpy(), mixed):  # the image is the targets' weighted mix of the values
        assert np.ptp(face) == 0 and face.flat[0] == pytest.approx(float(target @ values), abs=1e-3)
    again = mixup_batch(tf.constant(constant_faces(values)), tf.constant(targets), None,
                        tf.constant([7, 1], tf.int64), alpha=0.4)[1].numpy()
    np.testing.assert_array_equal(again, mixed)  # stateless: the same seed, the same mix
    other = mixup_batch(tf.constant(constant_faces(values)), tf.constant(targets), None,
                        tf.constant([8, 1], tf.int64), alpha=0.4)[1].numpy()
    assert not np.allclose(other, mixed)


def test_mixup_of_a_second_head_mixes_only_labelled_faces():
    from fer_edge.train.pipeline import mixup_batch

    targets = {"a": tf.constant(np.eye(2, dtype=np.float32)), "b": tf.constant([[0.0, 1.0], [0.0, 0.0]])}
    weights = {"a": tf.constant([1.0, 1.0]), "b": tf.constant([1.0, 0.0])}  # face 1 has no second-head label
    for seed in range(6):
        images, mixed, mixed_weights = mixup_batch(tf.constant(constant_faces([0.0, 10.0])), targets, weights,
                                                   tf.constant([seed, 5], tf.int64), alpha=1.0)
        lam_of_face0_content = 1.0 - images.numpy()[:, 0, 0, 0] / 10.0  # share of face 0 in each mixed face
        np.testing.assert_allclose(mixed_weights["b"].numpy(), lam_of_face0_content, atol=1e-5)
        np.testing.assert_allclose(mixed_weights["a"].numpy(), 1.0, atol=1e-6)
        for row, weight in zip(mixed["b"].numpy(), mixed_weights["b"].numpy()):
            if weight > 1e-4:  # whatever the mix, the second head learns only face 0's label
                np.testing.assert_allclose(row, [0.0, 1.0], atol=1e-4)


def test_training_pipeline_with_mixup_draws_anew_each_epoch_and_leaves_validation_alone(synthetic_faces):
    prep = Preprocessing((32, 32))
    splits = load_dataset(synthetic_faces, prep).splits
    data = make_dataset(splits["train"], prep, 3, 16, training=True, seed=3, mixup=0.4)
    first, second = ([b[1].numpy() for b in data] for _ in range(2))
    soft = np.concatenate(first)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, atol=1e-5)
    assert len(soft) == len(splits["train"]) and (soft.max(axis=1) < 0.999).mean() > 0.5  # most targets mixed
    assert not np.allclose(np.concatenate(second), soft)
    rebuilt = [b[1].numpy() for b in make_dataset(splits["train"], prep, 3, 16, training=True, seed=3, mixup=0.4)]
    np.testing.assert_array_equal(np.concatenate(rebuilt), soft)  # reproducible from the seed
    val = next(iter(make_dataset(splits["val"], prep, 3, 8, training=False, mixup=0.4)))
    np.testing.assert_array_equal(val[1].numpy().max(axis=1), 1.0)  # validation is never mixed


def test_a_mixup_run_trains_and_records_its_alpha(synthetic_faces, tmp_path):
    result = train(synthetic_faces, tmp_path / "run", TrainOptions(**{**FAST, "epochs": 2, "mixup": 0.2}))
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()
    assert json.loads((tmp_path / "run" / "options.json").read_text())["mixup"] == 0.2


def test_erasing_hides_one_rectangle_of_noise_in_about_the_asked_share_of_faces():
    from fer_edge.train.pipeline import ERASED_AREA, erase_batch

    faces = tf.fill([2000, 48, 48, 1], 128.0)
    erased = erase_batch(faces, tf.constant([5, 7], tf.int64), 0.5).numpy()
    changed = erased[..., 0] != 128.0
    shares = changed.reshape(len(changed), -1).mean(axis=1)
    assert 0.46 < (shares > 0).mean() < 0.54  # binomial(2000, 0.5): 0.5 +- 4.5 sd
    hit = shares[shares > 0]
    assert ERASED_AREA[0] * 0.8 < hit.min() and hit.max() < ERASED_AREA[1] * 1.1  # rounding to whole pixels
    assert 0.11 < hit.mean() < 0.16  # the mean of ERASED_AREA, less the clipping of tall or wide rectangles
    assert erased.min() >= 0.0 and erased.max() <= 255.0 and erased[changed].std() > 50  # uniform noise
    for mask in changed[:50][shares[:50] > 0]:  # one solid rectangle (a noise pixel may equal 128 by chance)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert mask.sum() >= 0.97 * (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    again = erase_batch(faces, tf.constant([5, 7], tf.int64), 0.5).numpy()
    np.testing.assert_array_equal(again, erased)  # stateless: the same seed, the same rectangles
    assert not np.array_equal(erase_batch(faces, tf.constant([6, 7], tf.int64), 0.5).numpy(), erased)
    np.testing.assert_array_equal(erase_batch(faces, tf.constant([5, 7], tf.int64), 0.0).numpy(), faces.numpy())


def test_training_pipeline_with_erasing_draws_anew_each_epoch_and_leaves_validation_alone(synthetic_faces):
    prep = Preprocessing((32, 32))
    splits = load_dataset(synthetic_faces, prep).splits
    plain = np.concatenate([b[0].numpy() for b in make_dataset(splits["train"], prep, 3, 16, training=True, seed=3)])
    data = make_dataset(splits["train"], prep, 3, 16, training=True, seed=3, erasing=1.0)
    first, second = (np.concatenate([b[0].numpy() for b in data]) for _ in range(2))
    differs = (first != plain).reshape(len(first), -1).mean(axis=1)
    assert (differs > 0.015).all() and (differs < 0.3).all()  # every face erased, one rectangle's share of it
    assert not np.array_equal(first, second)
    rebuilt = np.concatenate([b[0].numpy() for b in make_dataset(splits["train"], prep, 3, 16, training=True,
                                                                  seed=3, erasing=1.0)])
    np.testing.assert_array_equal(rebuilt, first)  # reproducible from the seed
    val = [b[0].numpy() for b in make_dataset(splits["val"], prep, 3, 8, training=False, erasing=1.0)]
    np.testing.assert_array_equal(np.concatenate(val), np.concatenate(
        [b[0].numpy() for b in make_dataset(splits["val"], prep, 3, 8, training=False)]))  # never erased


def test_an_erasing_run_trains_and_records_its_probability(synthetic_faces, tmp_path):
    result = train(synthetic_faces, tmp_path / "run", TrainOptions(**{**FAST, "epochs": 2, "erasing": 0.5}))
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()
    assert json.loads((tmp_path / "run" / "options.json").read_text())["erasing"] == 0.5


def test_init_from_starts_with_the_given_weights(synthetic_faces, tmp_path):
    first = train(synthetic_faces, tmp_path / "a", TrainOptions(**{**FAST, "epochs": 3}))
    options = TrainOptions(**{**FAST, "epochs": 1, "init_from": str(first.model_path), "learning_rate": 1e-9})
    second = train(synthetic_faces, tmp_path / "b", options)
    assert second.history["val_accuracy"][0] == pytest.approx(first.best_val_accuracy, abs=1e-6)


def test_init_from_with_other_labels(synthetic_faces, tmp_path):
    from fer_edge.synthetic import write_synthetic_dataset

    other = write_synthetic_dataset(tmp_path / "other", per_class=6, size=32, classes=("angry", "happy"))
    first = train(other, tmp_path / "a", TrainOptions(**{**FAST, "epochs": 1}))
    with pytest.raises(FerEdgeError, match="has labels"):
        train(synthetic_faces, tmp_path / "b", TrainOptions(**{**FAST, "init_from": str(first.model_path)}))


def test_trains_on_vote_shares_blended_with_another_label_set(tmp_path):
    """FER+ layout: probability targets reach the loss, and a blended label set moves them."""
    from test_targets import fer2013_copy
    from test_votes import write_vote_folder

    data = tmp_path / "ferplus"
    write_vote_folder(data / "train")
    write_vote_folder(data / "valid")
    other = fer2013_copy(tmp_path / "fer2013", {"fer0.png": "happy"}, data / "train")
    seen = []
    original = training.make_dataset

    def spy(split, *args, **kwargs):
        seen.append(split.target_matrix(8))
        return original(split, *args, **kwargs)

    options = TrainOptions(**{**FAST, "epochs": 1, "image_size": 48, "color_mode": "grayscale", "batch_size": 4},
                           label_mode="probability", blend_labels=str(other), blend_weight=0.25)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "make_dataset", spy)
        result = train(data, tmp_path / "run", options)
    assert result.model_path.exists() and len(seen) == 2
    np.testing.assert_allclose(seen[0][0], [0.75, 0.25, 0, 0, 0, 0, 0, 0])  # neutral 10/10, blended with happy
    np.testing.assert_allclose(seen[0][1], [0, 6 / 9, 3 / 9, 0, 0, 0, 0, 0], atol=1e-6)  # vote shares
    assert seen[1].shape == (8, 8) and set(np.unique(seen[1])) == {0.0, 1.0}  # valid: majority, one-hot
    saved = json.loads((tmp_path / "run" / "options.json").read_text())
    assert saved["label_mode"] == "probability" and saved["blend_weight"] == 0.25


@pytest.mark.parametrize("layout", ["split folders", "one folder"])
def test_probability_targets_on_folder_labels_are_refused_before_anything_is_written(synthetic_faces, tmp_path,
                                                                                     layout):
    """Soft targets need votes: on folder labels they would silently be one-hot, the same as majority."""
    from fer_edge.synthetic import write_synthetic_dataset

    data = synthetic_faces if layout == "split folders" else write_synthetic_dataset(tmp_path / "faces", 4, 32)
    with pytest.raises(DatasetError, match="--label-mode probability needs annotators' votes .*use --label-mode "
                                           "majority"):
        train(data, tmp_path / "run", TrainOptions(**FAST, label_mode="probability"))
    assert not (tmp_path / "run").exists()


def test_a_missing_data_folder_is_refused_before_the_run_folder_is_made(tmp_path):
    """From Python as from the CLI: a typo in the data path leaves no empty run folder behind."""
    with pytest.raises(DatasetError, match=f"dataset folder not found: {tmp_path / 'fase'}$"):
        train(tmp_path / "fase", tmp_path / "run", TrainOptions(**FAST))
    assert not (tmp_path / "run").exists()


def _weights(path):
    model = keras.saving.load_model(path)
    return np.concatenate([w.numpy().ravel() for w in model.trainable_weights])


def _statistics(path):
    model = keras.saving.load_model(path)
    return np.concatenate([w.numpy().ravel() for w in model.non_trainable_weights])  # moving means and variances


def _start_and_raw(synthetic_faces, tmp_path, arch, epochs):
    """A one-epoch start model, then `epochs` more from it without averaging: (start, raw run, options for more)."""
    start = train(synthetic_faces, tmp_path / "start", TrainOptions(**{**FAST, "arch": arch, "epochs": 1}))
    common = {**FAST, "arch": arch, "epochs": epochs, "init_from": str(start.model_path)}
    return start, train(synthetic_faces, tmp_path / "raw", TrainOptions(**common)), common


def test_ema_validates_and_saves_the_averaged_weights(synthetic_faces, tmp_path):
    start, raw, common = _start_and_raw(synthetic_faces, tmp_path, TINY, 2)
    slow = train(synthetic_faces, tmp_path / "ema", TrainOptions(**common, ema=0.999999))
    initial, trained, averaged = (_weights(r.model_path) for r in (start, raw, slow))
    # a momentum this close to 1 keeps the average near the first step's weights, far from where training went
    assert np.abs(averaged - initial).mean() < 0.5 * np.abs(trained - initial).mean()  # 1 without the average
    assert slow.history["loss"] == pytest.approx(raw.history["loss"], rel=1e-4)  # training itself is unchanged
    assert slow.history["val_accuracy"] != raw.history["val_accuracy"]  # validation sees the average


def test_ema_run_resumes_with_its_average(synthetic_faces, tmp_path, monkeypatch):
    start, raw, common = _start_and_raw(synthetic_faces, tmp_path, TINY, 3)
    options, run = TrainOptions(**common, ema=0.999999), tmp_path / "run"
    interrupt_after_two_epochs(synthetic_faces, run, options, monkeypatch)
    resumed = train(synthetic_faces, run, options, resume=True)
    initial, trained, averaged = (_weights(r.model_path) for r in (start, raw, resumed))
    # the backup carried the average over: restarted at the resumed weights, it would sit two epochs away
    assert np.abs(averaged - initial).mean() < 0.5 * np.abs(trained - initial).mean()


def test_ema_averages_the_batch_norm_statistics_too(synthetic_faces, tmp_path):
    start, raw, common = _start_and_raw(synthetic_faces, tmp_path, TINY_BN, 2)
    slow = train(synthetic_faces, tmp_path / "ema", TrainOptions(**common, ema=0.999999))
    initial, trained, averaged = (_statistics(r.model_path) for r in (start, raw, slow))
    assert np.abs(trained - initial).mean() > 1e-3  # training moved the statistics
    # averaged like the weights, they stay near the first step's; the raw model's would sit where training went
    assert np.abs(averaged - initial).mean() < 0.1 * np.abs(trained - initial).mean()
    assert slow.history["loss"] == pytest.approx(raw.history["loss"], rel=1e-4)  # training itself is unchanged


def test_ema_run_resumes_with_its_statistics_average(synthetic_faces, tmp_path, monkeypatch):
    start, raw, common = _start_and_raw(synthetic_faces, tmp_path, TINY_BN, 3)
    options, run = TrainOptions(**common, ema=0.999999), tmp_path / "run"
    interrupt_after_two_epochs(synthetic_faces, run, options, monkeypatch)
    assert (run / "backup" / "averaged-statistics.npz").exists()
    resumed = train(synthetic_faces, run, options, resume=True)
    initial, trained, averaged = (_statistics(r.model_path) for r in (start, raw, resumed))
    # restarted from the resumed run's raw statistics, the average would sit two epochs away from the start
    assert np.abs(averaged - initial).mean() < 0.1 * np.abs(trained - initial).mean()
    assert not (run / "backup").exists()  # removed with the backup once the run finished


def test_averaged_statistics_are_in_the_model_only_for_validation():
    from fer_edge.train.callbacks import AveragedStatistics

    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(), keras.layers.Dropout(0.5)])
    mean = model.layers[0].moving_mean
    callback = AveragedStatistics(0.75, "unused.npz")
    callback.set_model(model)
    callback.on_train_begin()  # average = 0 (the initial moving mean); the dropout's integer seed state is left out
    mean.assign(np.full(4, 4.0))
    callback.on_train_batch_end(0)  # 0.75 x 0 + 0.25 x 4
    callback.on_test_begin()
    np.testing.assert_allclose(mean.numpy(), 1.0)
    callback.on_test_end()
    np.testing.assert_allclose(mean.numpy(), 4.0)
    with callback.in_model():
        np.testing.assert_allclose(mean.numpy(), 1.0)
    np.testing.assert_allclose(mean.numpy(), 4.0)


@pytest.mark.parametrize("value", ["nan", "-0.1", "11"])
def test_cli_refuses_a_bad_mixup_before_reading_data(synthetic_faces, tmp_path, value):
    from click.testing import CliRunner

    from fer_edge.cli import cli

    result = CliRunner().invoke(cli, ["train", str(synthetic_faces), "--out", str(tmp_path / "run"), "--mixup", value])
    assert result.exit_code == 2 and "--mixup" in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["nan", "-0.1", "1.5"])
def test_cli_refuses_a_bad_erasing_probability_before_reading_data(synthetic_faces, tmp_path, value):
    from click.testing import CliRunner

    from fer_edge.cli import cli

    arguments = ["train", str(synthetic_faces), "--out", str(tmp_path / "run"), "--erasing", value]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 2 and "--erasing" in result.output and not (tmp_path / "run").exists()


TRAIN_ONE_EPOCH = """
import pathlib, sys
sys.path.insert(0, sys.argv[2])
from fer_edge.native_logs import quiet_native_libraries
quiet_native_libraries()
import helpers
from fer_edge.synthetic import write_synthetic_dataset
from fer_edge.train.training import TrainOptions, train
root = pathlib.Path(sys.argv[1])
write_synthetic_dataset(root / "data" / "train", per_class=10, size=32, seed=0)
write_synthetic_dataset(root / "data" / "val", per_class=5, size=32, seed=1)
train(root / "data", root / "run", TrainOptions(arch=helpers.TINY, epochs=1, image_size=32, batch_size=16, verbose=0))
print("trained")
"""


@pytest.mark.subprocess
def test_training_with_quiet_native_libraries_prints_no_tensorflow_lines(tmp_path):
    """TensorFlow 2.21's "E0000 ... node_def_util ... use_unbounded_threadpool" line stays out of normal runs."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "OPENCV_"))}
    result = subprocess.run([sys.executable, "-c", TRAIN_ONE_EPOCH, str(tmp_path), str(Path(__file__).parent)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "trained", result.stderr
    noise = ("node_def_util", "E0000", "absl", "oneDNN", "WARNING: All log messages")
    assert not [word for word in noise if word in result.stderr], result.stderr
