"""Keras -> TensorFlow Lite conversion (fp32, fp16, dynamic-range, int8) and its verification."""
