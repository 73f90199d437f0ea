"""Rectified Adam (RAdam) for Keras 3.

Provenance: Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond",
ICLR 2020 (arXiv:1908.03265), Algorithm 2. The update matches PyTorch's
`torch.optim.RAdam` (rectification threshold rho_t > 5, epsilon added to sqrt(v)),
with Keras's decoupled weight decay (PyTorch's `decoupled_weight_decay=True`).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fer_edge")
class RAdam(keras.optimizers.Optimizer):
    """Adam whose adaptive step is switched on only once its variance is tractable.

    While the length of the approximated simple moving average rho_t is at most
    `rectify_threshold`, the update is SGD with momentum (bias-corrected first
    moment); afterwards it is Adam scaled by the rectification term r_t.

    Args:
        learning_rate: step size (float or schedule).
        beta_1: decay of the first moment.
        beta_2: decay of the second moment.
        epsilon: added to sqrt(v) for numerical stability.
        rectify_threshold: rho_t above which the adaptive step is used (5 as in PyTorch).
        **kwargs: Keras optimizer options (weight_decay, clipnorm, name, ...).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        rectify_threshold=5.0,
        name="radam",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.rectify_threshold = rectify_threshold

    def build(self, var_list):
        """Create the first and second moment slots."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        """Apply one RAdam step to `variable`."""
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        # convert_to_tensor keeps float64 exact; ops.cast would round through float32.
        beta_1 = ops.convert_to_tensor(self.beta_1, dtype=dtype)
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype=dtype)
        beta_2_power = ops.power(beta_2, step)

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))

        m_hat = ops.divide(m, 1 - ops.power(beta_1, step))
        rho_inf = 2.0 / (1.0 - beta_2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta_2_power / (1.0 - beta_2_power)
        rho_safe = ops.maximum(rho_t, 5.0)  # keeps the unused branch free of NaN
        rectifier = ops.sqrt(
            (rho_safe - 4.0) * (rho_safe - 2.0) * rho_inf
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_safe)
        )
        adaptive = ops.sqrt(1.0 - beta_2_power) / ops.add(ops.sqrt(v), self.epsilon)
        update = ops.where(
            rho_t > self.rectify_threshold, m_hat * rectifier * adaptive, m_hat
        )
        self.assign_sub(variable, ops.multiply(update, lr))

    def get_config(self):
        """Serializable configuration (saved inside .keras files)."""
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "rectify_threshold": self.rectify_threshold,
            }
        )
        return config
