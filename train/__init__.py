"""Workstation side of fer-edge: datasets as tf.data, the model registry, RAdam, training and evaluation."""
