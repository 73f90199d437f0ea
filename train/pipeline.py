"""Input pipeline: decoded uint8 splits -> batched, augmented, normalized tf.data datasets."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fer_edge.dataset import Split
from fer_edge.errors import FerEdgeError
from fer_edge.preprocess import Preprocessing
from fer_edge.train.heads import AUX_HEAD, HEAD
from fer_edge.train.targets import AuxTargets


AUGMENT_MODES = ("full", "flip", "none")
"""Training augmentation: flip, shift, rotation, zoom and brightness; horizontal flips alone; or none."""


def augmenter(seed: int, mode: str = "full") -> keras.Sequential | None:
    """The augmentation layers of `mode` (one of `AUGMENT_MODES`; None for "none"), on float pixels in [0, 255]."""
    if mode not in AUGMENT_MODES:
        raise FerEdgeError(f"unknown augmentation {mode!r}; choose one of: {', '.join(AUGMENT_MODES)}")
    if mode == "none":
        return None
    layers = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if mode == "full":
        layers += [
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 3),
            keras.layers.RandomBrightness(0.15, value_range=(0.0, 255.0), seed=seed + 4),
        ]
    return keras.Sequential(layers, name="augment")


def normalize_tensor(pixels: tf.Tensor, prep: Preprocessing) -> tf.Tensor:
    """The TensorFlow twin of `fer_edge.preprocess.normalize` (same constants, same float32 math)."""
    return tf.cast(pixels, tf.float32) * np.float32(prep.scale) + np.float32(prep.offset)


ERASED_AREA = (0.02, 0.25)
"""Range of the erased rectangle's share of the face's area (random erasing, drawn uniformly)."""
ERASED_ASPECT = (0.3, 3.3)
"""Range of the erased rectangle's height/width ratio (drawn log-uniformly)."""


def erase_batch(images: tf.Tensor, seed: tf.Tensor, probability: float) -> tf.Tensor:
    """Random erasing (Zhong et al. 2020): with `probability`, one rectangle of a face becomes uniform noise.

    Each face draws, from the stateless `seed`, whether it is erased, the rectangle's area share
    (`ERASED_AREA`), its aspect ratio (`ERASED_ASPECT`) and its place; images are float [0, 255], NHWC.
    """
    shape = tf.shape(images)
    size, height, width = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)

    def uniform(k: int, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
        return tf.random.stateless_uniform([size], seed=seed + [0, k], minval=low, maxval=high)

    area = uniform(11, *ERASED_AREA) * height * width
    aspect = tf.exp(uniform(12, *np.log(ERASED_ASPECT)))
    rect_height = tf.clip_by_value(tf.round(tf.sqrt(area * aspect)), 1.0, height)
    rect_width = tf.clip_by_value(tf.round(tf.sqrt(area / aspect)), 1.0, width)
    top = tf.floor(uniform(13) * (height - rect_height + 1.0))
    left = tf.floor(uniform(14) * (width - rect_width + 1.0))
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + rect_height)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + rect_width)[:, None])
    erased = in_rows[:, :, None] & in_cols[:, None, :] & (uniform(15) < probability)[:, None, None]
    noise = tf.random.stateless_uniform(shape, seed=seed + [0, 16], maxval=255.0)
    return tf.where(erased[..., None], noise, images)


def mixup_batch(images: tf.Tensor, targets, weights, seed: tf.Tensor, alpha: float):
    """Mix every face of a batch with another face of the same batch (mixup, Zhang et al. 2018).

    Each face gets its own lambda ~ Beta(alpha, alpha) and a partner from a permutation of the batch, both
    drawn from the stateless `seed`; images and targets mix alike. With two heads (`targets` and
    `weights` dicts), a head's sample weight mixes too and its target is the weighted mix of the labelled
    parts, so a face without a second-head label contributes nothing to that head's target.
    """
    size = tf.shape(images)[0]
    draws = [tf.random.stateless_gamma([size], seed=seed + [0, k], alpha=alpha) for k in (1, 2)]
    lam = draws[0] / (draws[0] + draws[1])
    order = tf.argsort(tf.random.stateless_uniform([size], seed=seed + [0, 3]))
    mixed = images * lam[:, None, None, None] + tf.gather(images, order) * (1.0 - lam[:, None, None, None])
    if weights is None:
        return mixed, targets * lam[:, None] + tf.gather(targets, order) * (1.0 - lam[:, None]), None
    new_targets, new_weights = {}, {}
    for head, target in targets.items():
        own, other = weights[head] * lam, tf.gather(weights[head], order) * (1.0 - lam)
        new_weights[head] = own + other
        total = tf.maximum(new_weights[head], 1e-12)[:, None]
        new_targets[head] = (target * own[:, None] + tf.gather(target, order) * other[:, None]) / total
    return mixed, new_targets, new_weights


def _batches(split: Split, num_classes: int, batch_size: int, training: bool, seed: int,
             aux: AuxTargets | None) -> tf.data.Dataset:
    """Cached uint8 batches of (pixels, targets) or, with `aux`, (pixels, targets, weights) keyed by head."""
    targets = split.target_matrix(num_classes)
    if aux is None:
        data = tf.data.Dataset.from_tensor_slices((split.pixels, targets))
    else:
        ones = np.ones(len(split), np.float32)
        data = tf.data.Dataset.from_tensor_slices(
            (split.pixels, {HEAD: targets, AUX_HEAD: aux.targets}, {HEAD: ones, AUX_HEAD: aux.weights}))
    data = data.cache()
    if training:
        data = data.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


def make_dataset(
    split: Split,
    prep: Preprocessing,
    num_classes: int,
    batch_size: int,
    training: bool,
    augment: str = "none",
    seed: int = 42,
    aux: AuxTargets | None = None,
    mixup: float = 0.0,
    erasing: float = 0.0,
) -> tf.data.Dataset:
    """Build a tf.data pipeline of (normalized images, targets) batches: soft targets or one-hot labels.

    The decoded pixels live in memory (cached), batches are shuffled per epoch
    with `seed`, augmented (training only; `augment` is one of `AUGMENT_MODES`) in parallel map calls, and
    prefetched so the model, not the input, limits training speed. With `aux`, targets and sample weights
    are dicts keyed by the two heads' output names. `mixup` > 0 (training only)
    mixes faces and targets after augmentation with lambda ~ Beta(mixup, mixup); `erasing` > 0 (training
    only) hides a rectangle of a face under noise with that probability, after augmentation and before mixup.
    """
    data = _batches(split, num_classes, batch_size, training, seed, aux)
    augment_layers = augmenter(seed, augment) if training else None
    mix, erase = training and mixup > 0, training and erasing > 0

    def transform(batch, draw):
        pixels, targets, weights = (*batch, None) if len(batch) == 2 else batch
        images = tf.cast(pixels, tf.float32)
        if augment_layers is not None:
            images = tf.clip_by_value(augment_layers(images, training=True), 0.0, 255.0)
        if erase:
            images = erase_batch(images, tf.stack([draw, seed]), erasing)
        if mix:
            images, targets, weights = mixup_batch(images, targets, weights, tf.stack([draw, seed]), mixup)
        images = normalize_tensor(images, prep)
        return (images, targets) if weights is None else (images, targets, weights)

    return _mapped(data, transform, seed if (mix or erase) else None).prefetch(tf.data.AUTOTUNE)


def _mapped(data: tf.data.Dataset, transform, draw_seed: int | None) -> tf.data.Dataset:
    """`transform(batch, draw)` over the batches in parallel, in order; with `draw_seed`, `draw` is one random
    number per batch, new every epoch and reproducible from the seed (its mixup and erasing draws' seed), else None."""
    if draw_seed is None:
        return data.map(lambda *batch: transform(batch, None), num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True)
    draws = tf.data.Dataset.random(seed=draw_seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip((data, draws)).map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
