"""RAdam against an independent NumPy transcription of Liu et al. (2019), Algorithm 2."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_edge.train.radam import RAdam

STEPS = 300
LR = 0.01
LR_AS_STORED = float(np.float32(LR))  # Keras keeps the learning rate in a float32 variable


def reference_radam(theta, grad_fn, steps, lr, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=0.0):
    """Liu et al. Algorithm 2, with decoupled weight decay applied before each step."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    rho_inf = 2 / (1 - beta_2) - 1
    for t in range(1, steps + 1):
        g = grad_fn(theta)
        theta = theta * (1 - lr * weight_decay)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        m_hat = m / (1 - beta_1**t)
        rho_t = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
        if rho_t > 5:
            l_t = np.sqrt(1 - beta_2**t) / (np.sqrt(v) + eps)
            r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            theta = theta - lr * m_hat * r_t * l_t
        else:
            theta = theta - lr * m_hat
    return theta


def least_squares_problem(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(20, 6))
    b = rng.normal(size=20)
    return rng.normal(size=6), lambda x: 2 * a.T @ (a @ x - b) / len(b)


def run_keras(theta0, grad_fn, steps, **options):
    variable = keras.Variable(theta0, dtype="float64")
    optimizer = RAdam(**options)
    for _ in range(steps):
        optimizer.apply_gradients([(grad_fn(variable.numpy()), variable)])
    return variable.numpy()


@pytest.mark.parametrize("weight_decay", [None, 0.01])
def test_matches_reference_over_300_steps(weight_decay):
    theta0, grad_fn = least_squares_problem()
    got = run_keras(theta0, grad_fn, STEPS, learning_rate=LR, weight_decay=weight_decay)
    want = reference_radam(theta0, grad_fn, STEPS, LR_AS_STORED, weight_decay=weight_decay or 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    assert not np.allclose(got, theta0)


def test_first_steps_are_unrectified_momentum():
    theta0, grad_fn = least_squares_problem(1)
    got = run_keras(theta0, grad_fn, 1, learning_rate=0.1)
    np.testing.assert_allclose(got, theta0 - float(np.float32(0.1)) * grad_fn(theta0), rtol=1e-12)


def test_matches_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    theta0, grad_fn = least_squares_problem(2)
    param = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    optimizer = torch.optim.RAdam([param], lr=LR_AS_STORED, weight_decay=0.01, decoupled_weight_decay=True)
    for _ in range(STEPS):
        param.grad = torch.tensor(grad_fn(param.detach().numpy()))
        optimizer.step()
    got = run_keras(theta0, grad_fn, STEPS, learning_rate=LR, weight_decay=0.01)
    np.testing.assert_allclose(got, param.detach().numpy(), rtol=1e-5)


def test_serializes_with_a_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(RAdam(learning_rate=0.02, beta_2=0.99, rectify_threshold=4.0), loss="mse")
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, RAdam)
    config = loaded.optimizer.get_config()
    assert config["beta_2"] == 0.99 and config["rectify_threshold"] == 4.0
    assert float(config["learning_rate"]) == pytest.approx(0.02)
    assert int(loaded.optimizer.iterations.numpy()) == 2
