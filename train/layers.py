"""Custom Keras layers inside saved models; importing this module registers them for loading."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="fer_edge")
class Mirror(keras.layers.Layer):
    """Images (batch, height, width, channels) flipped left to right (ensembles saved before `MirrorViews`)."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


@keras.saving.register_keras_serializable(package="fer_edge")
class MirrorViews(keras.layers.Layer):
    """A batch of N images followed by their left-right mirror images, 2N in all: one pass of a member sees both
    views, which runs faster than two passes of one image (better use of each layer's matrix products)."""

    def call(self, images):
        return keras.ops.concatenate([images, keras.ops.flip(images, axis=2)], axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else 2 * input_shape[0]
        return (batch, *input_shape[1:])


@keras.saving.register_keras_serializable(package="fer_edge")
class ViewsMean(keras.layers.Layer):
    """The mean of the two halves of a (2N, classes) batch from `MirrorViews`: each image's and its mirror's."""

    def call(self, probabilities):
        return keras.ops.mean(keras.ops.reshape(probabilities, (2, -1, probabilities.shape[-1])), axis=0)

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // 2
        return (batch, input_shape[-1])
