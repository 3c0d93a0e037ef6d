"""Gradient clipping as the papers do it, or per variable as Keras's `clipnorm` does:
one SGD step (learning rate 1) of the optimizer `build_optimizer` makes, against a hand
computation of the clipped gradient."""

import dataclasses

import keras
import numpy as np
import pytest

from experiments.config import Hyperparameters
from experiments.models import build_optimizer

# Two variables' gradients: norms 5 and 12, 13 together.
GRADIENTS = [np.array([3.0, 4.0], "float32"), np.array([[12.0, 0.0]], "float32")]


def _one_sgd_step(scope, clipnorm):
    hp = Hyperparameters(optimizer="sgd", lr=1.0, clipnorm=clipnorm, clipnorm_scope=scope)
    optimizer = build_optimizer(hp)
    variables = [keras.Variable(np.zeros_like(g)) for g in GRADIENTS]
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in GRADIENTS], variables)
    return [-keras.ops.convert_to_numpy(v) for v in variables]  # the step taken


def test_global_clipping_scales_every_gradient_by_the_global_norm():
    # ||g|| = sqrt(5² + 12²) = 13 > 6.5: every gradient is multiplied by 6.5 / 13 = 0.5.
    step = _one_sgd_step("global", 6.5)
    np.testing.assert_allclose(step[0], [1.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(step[1], [[6.0, 0.0]], rtol=1e-6)


def test_per_variable_clipping_scales_each_gradient_by_its_own_norm():
    # 5 is under 6.5 (kept); 12 is over (multiplied by 6.5 / 12).
    step = _one_sgd_step("per_variable", 6.5)
    np.testing.assert_allclose(step[0], [3.0, 4.0], rtol=1e-6)
    np.testing.assert_allclose(step[1], [[6.5, 0.0]], rtol=1e-6)


def test_under_the_threshold_neither_scope_changes_the_gradient():
    for scope in ("global", "per_variable"):
        step = _one_sgd_step(scope, 100.0)
        for taken, gradient in zip(step, GRADIENTS):
            np.testing.assert_allclose(taken, gradient, rtol=1e-6)


def test_the_scope_is_a_checked_key_and_a_run_param_only_with_clipping():
    from experiments import config
    from experiments.config import ConfigError

    with pytest.raises(ConfigError, match="clipnorm_scope.*per_variable, global"):
        config.load_config("long_dependency", "smoke", ["clipnorm_scope=layer"])
    cfg = config.load_config("long_dependency", "smoke", ["clipnorm_scope=global"])
    point = config.expand_grid(cfg)[0]
    assert point.params()["clipnorm_scope"] == "global"
    unclipped = dataclasses.replace(point.hyperparameters, clipnorm=None)
    assert "clipnorm_scope" not in dataclasses.replace(point, hyperparameters=unclipped).params()


def test_the_budget_line_says_how_gradients_were_clipped():
    import pandas as pd

    from experiments.report.text import budget_text

    runs = pd.DataFrame(
        {
            "epochs": [15],
            "steps_per_epoch": [100],
            "batch_size": [32],
            "lr": [0.003],
            "optimizer": ["adam"],
            "clipnorm": [1.0],
            "clipnorm_scope": ["global"],
        }
    )
    assert "gradient-norm clipping 1 (global)" in budget_text(runs)
    older = runs.drop(columns=["clipnorm_scope"])  # runs logged before the key existed
    assert "gradient-norm clipping 1)" in budget_text(older)
