"""Training: dataset -> model -> RAdam fit with checkpoints, resume, history and a saved model."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fer_edge.dataset import (Dataset, check_label_mode, has_split_folders, load_dataset, split_folder,
                              stratified_indices)
from fer_edge.errors import DatasetError, FerEdgeError
from fer_edge.files import ensure_folder, require_outside_data
from fer_edge.images import require_dataset_folder
from fer_edge.metadata import ModelMetadata, save_metadata, sidecar_path
from fer_edge.train.callbacks import (AveragedStatistics, AveragedWeightsCheckpoint, BestModelCheckpoint,
                                      MeanMetric, ThroughputLogger, read_history)
from fer_edge.train.checkpoints import ResumedEarlyStopping, check_resumable, stream_seed
from fer_edge.train.heads import AUX_HEAD, HEAD, Fusion, class_mapping, fuse_heads, with_aux_head
from fer_edge.train.keras_io import save_keras_model
from fer_edge.train.models import build_model
from fer_edge.train.options import HEADS_MONITOR, TrainOptions, TrainResult  # the last two re-exported
from fer_edge.train.pipeline import make_dataset
from fer_edge.train.targets import AuxTargets
from fer_edge.train.radam import RAdam

logger = logging.getLogger(__name__)

def make_strategy(mode: str) -> tf.distribute.Strategy:
    """TensorFlow's own distribution engine: one device, all local devices, or many workers (TF_CONFIG)."""
    if mode == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if mode == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _prepare_run_dir(run_dir: Path, resume: bool, options: TrainOptions) -> int:
    """Check `run_dir` is fit for a fresh run or a resumed one; the epoch training starts after (0 when fresh)."""
    backup = run_dir / "backup"
    if resume:
        if not backup.exists() and (run_dir / "model.keras").exists():
            raise FerEdgeError(f"nothing to resume in {run_dir}: its run has finished (model.keras is its best "
                               "epoch); choose another --out to train again, or --init-from it to fine-tune")
        if not backup.exists():
            raise FerEdgeError(f"nothing to resume in {run_dir}: no interrupted run (no {backup})")
        return check_resumable(run_dir, options)
    if backup.exists() or (run_dir / "model.keras").exists():
        raise FerEdgeError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    ensure_folder(run_dir)
    return 0


def _ensure_val_split(dataset: Dataset, options: TrainOptions) -> Dataset:
    """Split folders without val/ get a stratified val split carved from fer_edge.train."""
    if len(dataset.splits["val"]) > 0:
        return dataset
    train = dataset.splits["train"]
    rest, val = stratified_indices(train.labels, (max(options.val_fraction, 0.1),), options.seed)
    splits = {**dataset.splits, "train": train.subset(rest), "val": train.subset(val)}
    return Dataset(dataset.classes, splits, dataset.skipped)


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """weight_c = n / (k * n_c): rare classes count more in the loss."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return {c: float(len(labels) / (num_classes * counts[c])) for c in range(num_classes) if counts[c]}


def balanced_aux_weights(aux: AuxTargets, power: float = 1.0) -> AuxTargets:
    """`aux` with each matched face's weight scaled by `balanced_class_weights` of its label among the matched
    faces, to `power` (1: balanced, 0: unchanged)."""
    matched, labels = aux.weights > 0, aux.targets.argmax(axis=1)
    per_class = balanced_class_weights(labels[matched], len(aux.classes))
    scale = np.array([per_class.get(c, 0.0) ** power for c in range(len(aux.classes))], np.float32)
    return replace(aux, weights=(aux.weights * scale[labels]).astype(np.float32))


def learning_rate(options: TrainOptions, steps_per_epoch: int):
    """A float, or a cosine decay over every step of the run."""
    if options.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            options.learning_rate, decay_steps=options.epochs * steps_per_epoch, alpha=0.01)
    return options.learning_rate


def _metrics() -> list[keras.metrics.Metric]:
    return [
        keras.metrics.CategoricalAccuracy(name="accuracy"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
        keras.metrics.F1Score(average="macro", name="f1"),
    ]


def compile_model(model: keras.Model, options: TrainOptions, num_classes: int, steps_per_epoch: int = 1,
                  two_heads: bool = False) -> None:
    """RAdam + categorical cross-entropy; accuracy, precision, recall and macro F1 per epoch.

    With `two_heads` (outputs `HEAD` and `AUX_HEAD`) the loss is the sum of both heads' losses,
    the second weighted by `options.aux_loss_weight`. With `options.ema` the optimizer also keeps
    a moving average of the weights (Polyak averaging; see `_callbacks` for where it is used).
    """
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=options.label_smoothing)
    ema = {"use_ema": True, "ema_momentum": options.ema} if options.ema else {}
    optimizer = RAdam(learning_rate=learning_rate(options, steps_per_epoch), **ema)
    if not two_heads:
        model.compile(optimizer=optimizer, loss=loss, metrics=_metrics())
        return
    model.compile(optimizer=optimizer, loss={HEAD: loss, AUX_HEAD: loss},
                  loss_weights={HEAD: 1.0, AUX_HEAD: options.aux_loss_weight},
                  metrics={HEAD: _metrics(), AUX_HEAD: [keras.metrics.CategoricalAccuracy(name="accuracy")]})


def _callbacks(run_dir: Path, options: TrainOptions, resume: bool, throughput: ThroughputLogger):
    previous = read_history(run_dir / "history.csv") if resume else {}
    best_so_far = max(previous.get(options.monitor, [float("-inf")]))
    best = BestModelCheckpoint(run_dir / "best.keras", options.monitor, best_so_far)
    # With EMA, validation and the best-epoch checkpoint see the averaged weights and batch-norm statistics;
    # training and the backup keep the raw ones (the weights' averages are in the optimizer's state, which the
    # backup saves; the statistics' average is saved beside it).
    statistics = AveragedStatistics(options.ema, run_dir / "backup" / "averaged-statistics.npz", resume) \
        if options.ema else None
    ema = [keras.callbacks.SwapEMAWeights(), statistics] if statistics else []
    both_heads = [MeanMetric(HEADS_MONITOR, (f"val_{HEAD}_accuracy", f"val_{AUX_HEAD}_accuracy"))] \
        if options.monitor == HEADS_MONITOR else []
    callbacks = [  # the history row is written before the checkpoint: a kill between them never loses a row
        *ema, *both_heads,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
        AveragedWeightsCheckpoint(best, statistics) if options.ema else best,
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        throughput,
    ]
    if options.early_stopping > 0:
        patience, previous_values = options.early_stopping, previous.get(options.monitor, [])
        callbacks.append(ResumedEarlyStopping(options.monitor, patience, previous_values))
    return callbacks


def _set_determinism(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(data_root: str | Path, run_dir: str | Path, options: TrainOptions = TrainOptions(),
          resume: bool = False) -> TrainResult:
    """Train `options.arch` on the ImageFolder at `data_root`; write everything to `run_dir`.

    `run_dir` receives `model.keras` (best epoch by val accuracy) with
    `model.meta.json`, `best.keras` (the best epoch so far, with `best.meta.json` from the start),
    `history.csv`, `history.json` and `options.json`.
    With `resume=True` an interrupted run continues from its last finished epoch.

    Raises:
        FerEdgeError: bad data, a run folder that already holds a run, or nothing to resume.
    """
    run_dir = Path(run_dir)
    require_outside_data(run_dir, data_root)
    require_dataset_folder(data_root)  # both before the run folder is made
    check_label_mode(data_root, options.label_mode)
    first_epoch = _prepare_run_dir(run_dir, resume, options)
    _set_determinism(options.seed)
    prep = options.preprocessing
    dataset = load_dataset(data_root, prep, options.val_fraction, options.test_fraction,
                           options.seed, options.workers, options.verbose > 0, options.max_per_class,
                           options.label_mode)
    dataset = _ensure_val_split(_blend(dataset, options), options)
    if len(dataset.splits["val"]) == 0:
        raise DatasetError(f"no validation images in {data_root}: add a val/ folder or more images per class "
                           f"(--val-fraction {options.val_fraction} of each class left none)")
    aux = _aux_targets(dataset, options)
    dataset, aux = _distill(dataset, options, aux)
    (run_dir / "options.json").write_text(json.dumps(asdict(options), indent=2) + "\n")
    # best.keras's sidecar, before the first epoch: an unfinished run's best epoch loads like a finished model
    save_metadata(_run_metadata(dataset, options, aux and aux["train"].classes), sidecar_path(run_dir / "best.keras"))
    model, throughput, replicas = _fit(dataset, run_dir, options, resume, aux, stream_seed(options.seed, first_epoch))
    return _finish(model, dataset, run_dir, options, throughput, replicas, aux)


def _run_metadata(dataset: Dataset, options: TrainOptions, aux_classes: tuple[str, ...] | None = None,
                  **facts) -> ModelMetadata:
    """A run's model metadata: labels, preprocessing, architecture, `facts`, seed and options, and the second
    head's labels when it has one."""
    extra = {**facts, "seed": options.seed, "train_options": asdict(options)}
    if aux_classes:
        extra["aux_labels"] = list(aux_classes)
    return ModelMetadata(dataset.classes, options.preprocessing, options.arch, extra)


def _blend(dataset: Dataset, options: TrainOptions) -> Dataset:
    """Training targets with `options.blend_labels` blended in (the dataset as it is without)."""
    if not options.blend_labels:
        return dataset
    from fer_edge.train.targets import blend_labels

    train_split = blend_labels(dataset.splits["train"], dataset.classes, options.blend_labels,
                               options.blend_weight, options.preprocessing, options.workers)
    return Dataset(dataset.classes, {**dataset.splits, "train": train_split}, dataset.skipped)


def _distill(dataset: Dataset, options: TrainOptions,
             aux: dict[str, AuxTargets] | None) -> tuple[Dataset, dict[str, AuxTargets] | None]:
    """Training targets (`options.teacher_heads`) with the teachers' probabilities blended in; unchanged without."""
    if not options.teacher:
        return dataset, aux
    from fer_edge.train.distill import distill_targets, teacher_outputs

    train_split = dataset.splits["train"]
    aux_classes = aux["train"].classes if aux else None
    logger.info("distilling %d teacher(s) into the targets of %d faces", len(options.teacher), len(train_split))
    taught = teacher_outputs(options.teacher, train_split.pixels, options.preprocessing, dataset.classes, aux_classes)
    train_split, train_aux = distill_targets(train_split, len(dataset.classes), taught, options.teacher_weight,
                                             options.teacher_temperature, aux and aux["train"], options.teacher_heads)
    dataset = Dataset(dataset.classes, {**dataset.splits, "train": train_split}, dataset.skipped)
    return dataset, (aux and {**aux, "train": train_aux})


def _aux_targets(dataset: Dataset, options: TrainOptions) -> dict[str, AuxTargets] | None:
    """Second-head targets of the train and val splits from `options.aux_labels` (None without it).

    A folder with split folders gives each split its own labels (FER2013 `train/` for training,
    `val/` for validation); a plain ImageFolder labels the training split only.
    """
    if not options.aux_labels:
        return None
    if options.class_weights:
        raise FerEdgeError("--class-weights cannot be combined with a second head (--aux-labels); "
                           "--aux-class-weights weights the second head's loss by its classes")
    from fer_edge.train.targets import aux_targets

    root = Path(options.aux_labels)
    split_root = has_split_folders(root)
    result: dict[str, AuxTargets] = {}
    for name in ("train", "val"):
        folder = split_folder(root, name) if split_root else (root if name == "train" else None)
        split = dataset.splits[name]
        if folder is None:
            classes = result["train"].classes
            result[name] = AuxTargets(classes, np.zeros((len(split), len(classes)), np.float32),
                                      np.zeros(len(split), np.float32))
        else:
            result[name] = aux_targets(split, folder, options.preprocessing, options.workers)
    if result["val"].classes != result["train"].classes:
        raise FerEdgeError(f"{options.aux_labels}: val classes differ from train classes")
    class_mapping(result["train"].classes, dataset.classes)  # every aux class must be a class of the model
    if options.aux_class_weights:
        result["train"] = balanced_aux_weights(result["train"], options.aux_class_weights)
    return result


def _load_initial_weights(model: keras.Model, path: str, classes: tuple[str, ...],
                          aux_classes: tuple[str, ...] | None) -> None:
    """Copy the weights of the model at `path` into `model` (a two-head one needs a two-head source)."""
    from fer_edge.train.keras_io import load_keras_model

    source, metadata = load_keras_model(path)
    if metadata.labels != classes:
        raise FerEdgeError(f"--init-from {path} has labels {list(metadata.labels)}, the data has {list(classes)}")
    source_aux = tuple(metadata.extra.get("aux_labels", ()))
    if aux_classes is not None and source_aux != aux_classes:
        raise FerEdgeError(f"--init-from {path} has second-head labels {list(source_aux) or 'none'}, --aux-labels "
                           f"has {list(aux_classes)}: start from a two-head model's heads.keras with the same labels")
    if aux_classes is None and source_aux:
        raise FerEdgeError(f"--init-from {path} has two heads: train with --aux-labels, or start from its model.keras")
    try:
        model.set_weights(source.get_weights())
    except ValueError as exc:
        raise FerEdgeError(f"--init-from {path} does not fit architecture {model.name}: {exc}") from exc
    logger.info("starting from the weights of %s", path)


def _fit(dataset: Dataset, run_dir: Path, options: TrainOptions, resume: bool,
         aux: dict[str, AuxTargets] | None = None, seed: int | None = None):
    """Build, compile and fit; `seed` (default `options.seed`) drives shuffles, augmentation, dropout, mixup and
    erasing."""
    prep, classes = options.preprocessing, dataset.classes
    train_split, val_split = dataset.splits["train"], dataset.splits["val"]
    logger.info("training %s on %d images, validating on %d", options.arch, len(train_split), len(val_split))
    seed = options.seed if seed is None else seed
    if seed != options.seed:
        logger.info("resumed: shuffles, augmentation and dropout draw from seed %d (from --seed %d and the epoch), "
                    "not again from the first epoch's", seed, options.seed)
        _set_determinism(seed)
    train_data = make_dataset(train_split, prep, len(classes), options.batch_size, True, options.augment,
                              seed, aux and aux["train"], options.mixup, options.erasing)
    val_data = make_dataset(val_split, prep, len(classes), options.batch_size, False, aux=aux and aux["val"])
    strategy = make_strategy(options.distribute)
    logger.info("%s strategy with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync)
    with strategy.scope():
        model = build_model(options.arch, len(classes), prep.input_shape)
        if aux:
            model = with_aux_head(model, len(aux["train"].classes))
        if options.init_from:
            _load_initial_weights(model, options.init_from, classes, aux and aux["train"].classes)
        steps = -(-len(train_split) // options.batch_size)
        compile_model(model, options, len(classes), steps, two_heads=aux is not None)
    throughput = ThroughputLogger(len(train_split))
    weights = balanced_class_weights(train_split.labels, len(classes)) if options.class_weights else None
    model.fit(train_data, validation_data=val_data, epochs=options.epochs, class_weight=weights, shuffle=False,
              callbacks=_callbacks(run_dir, options, resume, throughput), verbose=options.verbose)
    return model, throughput, strategy.num_replicas_in_sync


def _save_heads(model: keras.Model, metadata: ModelMetadata, run_dir: Path, options: TrainOptions,
                aux_classes: tuple[str, ...]) -> keras.Model:
    """Save the two-head model as `heads.keras`; return the primary head alone as a one-head model."""
    heads_metadata = ModelMetadata(metadata.labels, metadata.preprocessing, metadata.arch,
                                   {**metadata.extra, "aux_labels": list(aux_classes)})
    save_keras_model(model, heads_metadata, run_dir / "heads.keras")
    single = build_model(options.arch, len(metadata.labels), metadata.preprocessing.input_shape)
    return fuse_heads(model, single, class_mapping(aux_classes, metadata.labels), Fusion())


def _finish(model, dataset: Dataset, run_dir: Path, options: TrainOptions, throughput,
            replicas: int, aux: dict[str, AuxTargets] | None = None) -> TrainResult:
    history = read_history(run_dir / "history.csv")
    (run_dir / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    best_epoch = int(np.argmax(history[options.monitor]))
    if (run_dir / "best.keras").exists():  # weights only: the file holds no optimizer state to restore
        model.set_weights(keras.saving.load_model(run_dir / "best.keras", compile=False, safe_mode=True).get_weights())
    metadata = _run_metadata(dataset, options, best_epoch=best_epoch + 1,
                             val_accuracy=history[options.monitor][best_epoch], best_by=options.monitor,
                             train_images=len(dataset.splits["train"]))
    if aux:
        model = _save_heads(model, metadata, run_dir, options, aux["train"].classes)
    model_path = save_keras_model(model, metadata, run_dir / "model.keras")
    rates = throughput.rates[1:] or throughput.rates  # the first epoch includes tracing
    return TrainResult(
        run_dir=run_dir, model_path=model_path, history=history, best_epoch=best_epoch + 1,
        best_val_accuracy=history[options.monitor][best_epoch],
        train_images_per_second=float(np.median(rates)) if rates else 0.0,
        skipped_files=len(dataset.skipped), replicas=replicas,
    )
