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
