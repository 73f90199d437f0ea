"""Test-only helpers that need TensorFlow: a tiny registered architecture for fast training tests."""

from __future__ import annotations

import keras

from fer_edge.train.models import model_names, register_model

TINY = "tiny_test_cnn"

if TINY not in model_names():

    @register_model(TINY)
    def tiny_test_cnn(num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
        """A few thousand parameters: learns the synthetic faces in a few epochs."""
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                keras.layers.Conv2D(8, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(16, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                keras.layers.Dense(num_classes, activation="softmax", name="probabilities"),
            ]
        )

TINY_BN = "tiny_test_bn_cnn"

if TINY_BN not in model_names():

    @register_model(TINY_BN)
    def tiny_test_bn_cnn(num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
        """`tiny_test_cnn` with batch normalization: moving statistics for the weight-averaging tests."""
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                keras.layers.Conv2D(8, 3, use_bias=False),
                keras.layers.BatchNormalization(name="bn"),
                keras.layers.ReLU(),
                keras.layers.MaxPooling2D(4),
                keras.layers.Flatten(),
                keras.layers.Dense(num_classes, activation="softmax", name="probabilities"),
            ]
        )
