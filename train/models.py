"""Model registry: architectures are registered by name and built from (num_classes, input_shape)."""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from fer_edge.errors import FerEdgeError

ModelFactory = Callable[[int, tuple[int, int, int]], keras.Model]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator: make a model factory available as `--arch NAME`."""

    def decorate(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise FerEdgeError(f"model {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorate


def model_names() -> tuple[str, ...]:
    """Names of every registered architecture, sorted."""
    return tuple(sorted(_REGISTRY))


def build_model(name: str, num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
    """Build the registered architecture `name`.

    Raises:
        FerEdgeError: no architecture has that name.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise FerEdgeError(
            f"unknown architecture {name!r}; choose one of: {', '.join(model_names())}"
        ) from None
    return factory(num_classes, tuple(input_shape))


@register_model("paper_cnn")
def paper_cnn(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (64, 64, 3),
    conv_dropout: float = 0.25,
    dense_dropout: float = 0.25,
) -> keras.Model:
    """The CNN of Kusumah et al.: 177,047 parameters (96 non-trainable) at 64x64x3, 7 classes.

    Conv2D 128 -> Dropout -> Conv2D 32 -> MaxPool -> Dropout -> Conv2D 16 -> BatchNorm
    -> MaxPool -> Dropout -> Flatten -> Dense 32 -> BatchNorm -> Dropout -> Dense 16
    -> Dropout -> Dense (softmax). Convolutions are 3x3 with "same" padding and ReLU.
    The paper does not give dropout rates; these defaults are ours.
    """
    conv = {"kernel_size": 3, "padding": "same", "activation": "relu"}
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="image"),
            layers.Conv2D(128, name="conv1", **conv),
            layers.Dropout(conv_dropout, name="drop1"),
            layers.Conv2D(32, name="conv2", **conv),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Dropout(conv_dropout, name="drop2"),
            layers.Conv2D(16, name="conv3", **conv),
            layers.BatchNormalization(name="bn1"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Dropout(conv_dropout, name="drop3"),
            layers.Flatten(name="flatten"),
            layers.Dense(32, activation="relu", name="dense1"),
            layers.BatchNormalization(name="bn2"),
            layers.Dropout(dense_dropout, name="drop4"),
            layers.Dense(16, activation="relu", name="dense2"),
            layers.Dropout(dense_dropout, name="drop5"),
            layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name="paper_cnn",
    )


def _separable_block(x, filters: int, name: str):
    """Two separable 3x3 convolutions, max-pool /2, plus a strided 1x1 residual (Xception style)."""
    residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"{name}_res")(x)
    residual = layers.BatchNormalization(name=f"{name}_res_bn")(residual)
    for index in (1, 2):
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep{index}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        if index == 1:
            x = layers.ReLU(name=f"{name}_relu{index}")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    x = layers.Add(name=f"{name}_add")([x, residual])
    return layers.ReLU(name=f"{name}_out")(x)


def _middle_block(x, filters: int, name: str):
    """Two separable 3x3 convolutions with an identity shortcut (Xception's middle flow)."""
    shortcut = x
    for index in (1, 2):
        if index == 2:
            x = layers.ReLU(name=f"{name}_relu{index}")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep{index}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{index}")(x)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def _sepnet(name: str, num_classes: int, input_shape: tuple[int, int, int],
            widths: tuple[int, ...], middle: dict[int, int], dropout: float) -> keras.Model:
    """Stem (3x3 conv, strided 3x3 conv), separable residual blocks, `middle[i]` extra blocks after block i."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem1")(inputs)
    x = layers.ReLU(name="stem1_relu")(layers.BatchNormalization(name="stem1_bn")(x))
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem2")(x)
    x = layers.ReLU(name="stem2_relu")(layers.BatchNormalization(name="stem2_bn")(x))
    for index, filters in enumerate(widths, start=1):
        x = _separable_block(x, filters, f"block{index}")
        for repeat in range(1, middle.get(index, 0) + 1):
            x = _middle_block(x, filters, f"block{index}_middle{repeat}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("sepnet")
def sepnet(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1),
           widths: tuple[int, ...] = (64, 128, 256), dropout: float = 0.3) -> keras.Model:
    """A compact edge model: full-resolution 3x3 stem, strided conv, three separable residual blocks.

    Built for int8 on a Pi: about 15M multiply-accumulates at 48x48, every op integer-friendly
    (conv, depthwise conv, add, max-pool, mean, softmax).
    """
    return _sepnet("sepnet", num_classes, input_shape, widths, {}, dropout)


@register_model("sepnet_deep")
def sepnet_deep(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1),
                widths: tuple[int, ...] = (64, 128, 256), dropout: float = 0.3) -> keras.Model:
    """sepnet plus two identity-shortcut separable blocks after block 2 (6x6 for 48x48 input).

    Depth where it is cheap: 17.9M multiply-accumulates at 48x48 (sepnet: 15.4M).
    """
    return _sepnet("sepnet_deep", num_classes, input_shape, widths, {2: 2}, dropout)


@register_model("sepnet_wide")
def sepnet_wide(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1),
                widths: tuple[int, ...] = (96, 192, 384), dropout: float = 0.3) -> keras.Model:
    """sepnet_deep 1.5x as wide, with two more identity-shortcut blocks after block 3 (3x3 for 48x48 input).

    For the accurate end of the front: 40.0M multiply-accumulates and 1.18M parameters at 48x48
    with 8 classes (sepnet_deep: 17.9M and 0.26M), the same integer-friendly ops.
    """
    return _sepnet("sepnet_wide", num_classes, input_shape, widths, {2: 2, 3: 2}, dropout)
