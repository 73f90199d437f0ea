"""Custom Keras layers inside saved models; importing this module registers them for loading."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="fer_edge")
class Mirror(keras.layers.Layer):
    """Images (batch, height, width, channels) flipped left to right: a member's mirror view inside the graph."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)
