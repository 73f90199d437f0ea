"""Input pipeline: decoded uint8 splits -> batched, augmented, normalized tf.data datasets."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fer_edge.dataset import Split
from fer_edge.preprocess import Preprocessing
from fer_edge.train.heads import AUX_HEAD, HEAD
from fer_edge.train.targets import AuxTargets


def augmenter(seed: int) -> keras.Sequential:
    """Flip, small shift/rotation/zoom and brightness, on float pixels in [0, 255]."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 3),
            keras.layers.RandomBrightness(0.15, value_range=(0.0, 255.0), seed=seed + 4),
        ],
        name="augment",
    )


def normalize_tensor(pixels: tf.Tensor, prep: Preprocessing) -> tf.Tensor:
    """The TensorFlow twin of `fer_edge.preprocess.normalize` (same constants, same float32 math)."""
    return tf.cast(pixels, tf.float32) * np.float32(prep.scale) + np.float32(prep.offset)


def make_dataset(
    split: Split,
    prep: Preprocessing,
    num_classes: int,
    batch_size: int,
    training: bool,
    augment: bool = False,
    seed: int = 42,
    aux: AuxTargets | None = None,
) -> tf.data.Dataset:
    """Build a tf.data pipeline of (normalized images, targets) batches: soft targets or one-hot labels.

    The decoded pixels live in memory (cached), batches are shuffled per epoch
    with `seed`, augmented in parallel map calls, and prefetched so the model,
    not the input, limits training speed. With `aux`, targets and sample weights
    are dicts keyed by the two heads' output names.
    """
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
    data = data.batch(batch_size)
    augment_layers = augmenter(seed) if (training and augment) else None

    def transform(pixels, *targets):
        images = tf.cast(pixels, tf.float32)
        if augment_layers is not None:
            images = tf.clip_by_value(augment_layers(images, training=True), 0.0, 255.0)
        images = normalize_tensor(images, prep)
        return (images, *targets)

    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)
