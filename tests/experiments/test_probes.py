"""Tests of experiments/probes against float64 NumPy references and Keras itself."""

import json
import math
import os
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from experiments import probes
from experiments.probes import measure, state_gradients

# --------------------------------------------------------------------------------------
# Helpers: a hand-made task and a run logger that records what it is given
# --------------------------------------------------------------------------------------


class EwmaLikeTask:
    """y_t = alpha * x_t + (1 - alpha) * y_{t-1}: what a linear two-weight RNN can fit exactly."""

    name = "ewma"
    input_dim = 1
    step_weights = None
    metric = "mse"

    def __init__(self, length=20, alpha=0.3):
        self.timesteps = length
        self.params = {"alpha": alpha}
        self.output = SimpleNamespace(kind="regression", per_step=True, units=1)

    @property
    def loss(self):
        return keras.losses.MeanSquaredError()

    def sample(self, n, seed=None):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, self.timesteps, 1)).astype("float32")
        y = np.zeros_like(x)
        previous = np.zeros((n, 1), dtype="float32")
        for t in range(self.timesteps):
            previous = self.params["alpha"] * x[:, t] + (1 - self.params["alpha"]) * previous
            y[:, t] = previous
        return x, y


class SumTask:
    """Per-sequence regression: target = sum of the first input feature."""

    name = "sum"
    input_dim = 2
    step_weights = None
    params = {}

    def __init__(self, length=10):
        self.timesteps = length
        self.output = SimpleNamespace(kind="regression", per_step=False, units=1)

    @property
    def loss(self):
        return keras.losses.MeanSquaredError()

    def sample(self, n, seed=None):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, self.timesteps, 2)).astype("float32")
        return x, x[:, :, 0].sum(axis=1, keepdims=True) / self.timesteps


class RecordingLogger:
    def __init__(self, tb_dir=None):
        self.tb_dir = tb_dir
        self.metrics = []  # (name, value, step)
        self.params = {}
        self.dicts = {}
        self.figures = []
        self.tags = {}

    def set_tags(self, tags, *, wait=True):
        self.tags.update(tags)

    def log_metrics(self, metrics, step):
        self.metrics.extend((k, v, step) for k, v in metrics.items())

    def log_params(self, params):
        self.params.update(params)

    def log_dict(self, dictionary, artifact_file):
        json.dumps(dictionary)  # must be JSON-serializable, as mlflow.log_dict needs
        self.dicts[artifact_file] = dictionary

    def log_figure(self, figure, artifact_file, tensorboard_tag=None):
        self.figures.append((artifact_file, tensorboard_tag))

    def log_artifact(self, local_path, artifact_path=None):
        pass

    def history(self, name):
        return [(step, value) for key, value, step in self.metrics if key == name]


def numpy_vanilla_state_gradients(
    x, y, kernel, recurrent_kernel, bias, head_kernel, head_bias, activation
):
    """Float64 backprop through h_t = act(x_t K + h_{t-1} R + b).

    The loss is sum_i (h_T a + c - y_i)^2.
    """
    x, kernel, recurrent_kernel = (np.asarray(v, np.float64) for v in (x, kernel, recurrent_kernel))
    act = np.tanh if activation == "tanh" else (lambda z: z)
    states = [np.zeros((x.shape[0], recurrent_kernel.shape[0]))]
    for t in range(x.shape[1]):
        states.append(act(x[:, t] @ kernel + states[-1] @ recurrent_kernel + bias))
    prediction = states[-1] @ head_kernel + head_bias
    grad = 2.0 * (prediction - np.asarray(y, np.float64).reshape(prediction.shape)) @ head_kernel.T
    norms = [np.linalg.norm(grad, axis=1)]  # distance 0: h_T
    for t in range(x.shape[1], 0, -1):
        local = 1.0 - states[t] ** 2 if activation == "tanh" else 1.0
        grad = (grad * local) @ recurrent_kernel.T
        norms.append(np.linalg.norm(grad, axis=1))
    return np.stack(norms, axis=1)


def backend_gradient(function, arguments):
    """d function(arguments) / d arguments with the Keras backend's autodiff (TF or JAX)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(function)(arguments)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(arguments)
        value = function(arguments)
    return tape.gradient(value, arguments)


def rnn_model(layer, steps, features):
    return keras.Sequential([keras.Input((steps, features)), layer, keras.layers.Dense(1)])


# --------------------------------------------------------------------------------------
# Pure math
# --------------------------------------------------------------------------------------


def test_fit_decay_factor_recovers_geometric_rate_and_skips_underflow():
    distances = np.arange(30)
    norms = 3.0 * 0.8**distances
    norms[25:] = 0.0  # float32 underflow must not drag the fit
    assert measure.fit_decay_factor(distances, norms) == pytest.approx(0.8, rel=1e-9)
    assert measure.fit_decay_factor(distances, 2.0 * 1.1**distances) == pytest.approx(1.1, rel=1e-9)


def test_fit_decay_factor_needs_two_points_and_matching_shapes():
    assert math.isnan(measure.fit_decay_factor([0, 1, 2], [1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="same length"):
        measure.fit_decay_factor([0, 1, 2], [1.0, 0.5])


def test_largest_singular_value_and_activation_bound():
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]
    assert measure.largest_singular_value(0.7 * rotation) == pytest.approx(0.7)
    assert measure.largest_singular_value(np.diag([0.1, -3.0])) == pytest.approx(3.0)
    assert measure.activation_derivative_bound("tanh") == 1.0
    assert measure.activation_derivative_bound(None) == 1.0
    assert measure.activation_derivative_bound(keras.activations.sigmoid) == 0.25
    assert math.isnan(measure.activation_derivative_bound("gelu"))


def test_one_unit_rnn_states_match_closed_form_and_loop():
    x = np.random.default_rng(1).normal(size=(3, 7))
    u, w = np.array([0.5, -1.0]), np.array([0.9, 0.2])
    states = measure.one_unit_rnn_states(x, u, w, activation="linear")
    assert states.shape == (2, 3, 7)
    # Linear: h_T = u * sum_t w^(T-t) x_t.
    powers = 0.9 ** np.arange(6, -1, -1)
    np.testing.assert_allclose(states[0, :, -1], 0.5 * x @ powers, rtol=1e-12)
    h = np.zeros(3)
    for t in range(7):
        h = np.tanh(-1.0 * x[:, t] + 0.2 * h + 0.1)
    np.testing.assert_allclose(
        measure.one_unit_rnn_states(x, u, w, activation="tanh", bias=0.1)[1, :, -1], h, rtol=1e-12
    )
    with pytest.raises(ValueError, match="one input feature"):
        measure.one_unit_rnn_states(np.zeros((3, 7, 2)), u, w)


def test_loss_surface_is_zero_at_the_ewma_solution_and_matches_keras():
    task = EwmaLikeTask(length=15, alpha=0.3)
    x, y = task.sample(16, seed=0)
    u_values = np.array([0.1, 0.3, 0.6])
    w_values = np.array([0.5, 0.7, 1.1])
    surface = measure.one_unit_rnn_loss_surface(x, y, u_values, w_values, activation="linear")
    assert surface.shape == (3, 3)
    assert surface[1, 1] == pytest.approx(0.0, abs=1e-12)
    assert np.unravel_index(np.argmin(surface), surface.shape) == (1, 1)
    # Keras reference: the same one-unit network, built from SimpleRNN, evaluated with MSE.
    for activation in (None, "tanh"):
        model = keras.Sequential(
            [
                keras.Input((15, 1)),
                keras.layers.SimpleRNN(
                    1, activation=activation, use_bias=False, return_sequences=True
                ),
            ]
        )
        model.compile(loss="mse")
        surface = measure.one_unit_rnn_loss_surface(
            x, y, u_values, w_values, activation="tanh" if activation else "linear"
        )
        for i, w in enumerate(w_values):
            for j, u in enumerate(u_values):
                model.layers[0].set_weights([np.array([[u]]), np.array([[w]])])
                keras_loss = model.evaluate(x, y, verbose=0, batch_size=16)
                assert surface[i, j] == pytest.approx(keras_loss, rel=1e-4)


def test_loss_surface_step_weights_and_per_sequence():
    x = np.random.default_rng(2).normal(size=(4, 5))
    y = np.random.default_rng(3).normal(size=(4, 5))
    weights = np.array([0, 0, 1, 1, 1], dtype=np.float64)
    surface = measure.one_unit_rnn_loss_surface(x, y, [0.5], [0.5], step_weights=weights)
    h = measure.one_unit_rnn_states(x, np.array(0.5), np.array(0.5))
    assert surface[0, 0] == pytest.approx(np.mean(weights * (h - y) ** 2))
    last = measure.one_unit_rnn_loss_surface(x, y[:, -1], [0.5], [0.5], per_step=False)
    assert last[0, 0] == pytest.approx(np.mean((h[:, -1] - y[:, -1]) ** 2))


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_state_gradient_norms_match_numpy_backprop(activation):
    keras.utils.set_random_seed(0)
    steps = 12
    model = rnn_model(keras.layers.SimpleRNN(4, activation=activation), steps, 2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, steps, 2)).astype("float32")
    y = rng.normal(size=(5, 1)).astype("float32")
    norms = state_gradients.state_gradient_norms(
        model, x, y, keras.losses.MeanSquaredError(), per_step=False
    )
    kernel, recurrent_kernel, bias = model.layers[0].get_weights()
    head_kernel, head_bias = model.layers[1].get_weights()
    reference = numpy_vanilla_state_gradients(
        x,
        y,
        kernel,
        recurrent_kernel,
        bias,
        head_kernel,
        head_bias,
        "tanh" if activation else "linear",
    )
    assert norms.shape == (5, steps + 1)
    # Every norm of one example is proportional to its dL/dŷ = 2 (ŷ - y), which float32
    # computes with an absolute error of a few ulps of |y| (~1e-7): an example whose
    # prediction is already close to its target (row 2 here) carries that error,
    # relative to its small norm, into every column. Hence the absolute tolerance,
    # scaled to the batch's largest norm; XLA's CPU kernels differ by processor.
    np.testing.assert_allclose(norms, reference, rtol=2e-4, atol=1e-5 * reference.max())


def test_state_gradient_norms_per_step_task_uses_the_last_step():
    keras.utils.set_random_seed(1)
    steps = 6
    model = keras.Sequential(
        [
            keras.Input((steps, 1)),
            keras.layers.SimpleRNN(3, return_sequences=True),
            keras.layers.Dense(1),
        ]
    )
    x, y = EwmaLikeTask(length=steps).sample(4, seed=0)
    norms = state_gradients.state_gradient_norms(
        model, x, y, keras.losses.MeanSquaredError(), per_step=True
    )
    kernel, recurrent_kernel, bias = model.layers[0].get_weights()
    reference = numpy_vanilla_state_gradients(
        x, y[:, -1], kernel, recurrent_kernel, bias, *model.layers[1].get_weights(), "tanh"
    )
    np.testing.assert_allclose(norms, reference, rtol=2e-4, atol=1e-7)


@pytest.mark.parametrize("layer_class", [keras.layers.LSTM, keras.layers.GRU])
def test_state_gradient_norms_of_gated_cells_match_keras_initial_state_gradients(layer_class):
    # Reference: d loss / d state_t = gradient w.r.t. the initial state of the SAME Keras layer
    # run on the suffix x[:, t:] from state_t (computed by the layer on the prefix).
    keras.utils.set_random_seed(2)
    steps, units = 8, 3
    layer = layer_class(units)
    model = rnn_model(layer, steps, 2)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, steps, 2)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    norms = state_gradients.state_gradient_norms(
        model, x, y, keras.losses.MeanSquaredError(), per_step=False
    )
    head = model.layers[1]
    summed = keras.losses.MeanSquaredError(reduction="sum")
    clone = layer_class(units, return_state=True)
    clone(x[:, :1])
    clone.set_weights(layer.get_weights())
    for t in (0, 3, steps - 1):
        if t == 0:
            state = [
                keras.ops.zeros((4, units))
                for _ in range(2 if layer_class is keras.layers.LSTM else 1)
            ]
        else:
            state = list(clone(x[:, :t])[1:])
        suffix = x[:, t:]
        grads = backend_gradient(
            lambda state, suffix=suffix: summed(y, head(clone(suffix, initial_state=state)[0])),
            state,
        )
        expected = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2, axis=1) for g in grads))
        np.testing.assert_allclose(norms[:, steps - t], expected, rtol=1e-4, atol=1e-7)


def test_state_gradient_norms_of_a_stack_match_numpy_backprop():
    # Two linear layers (rnn_layers.DeepVanillaRNN): the state at step t is (h1_t, h2_t), and
    # h1_t reaches the loss both through h1_{t+1} and through h2_t above it.
    import rnn_layers

    keras.utils.set_random_seed(5)
    steps = 7
    model = rnn_model(rnn_layers.DeepVanillaRNN([3, 4], activation=None, use_bias=False), steps, 2)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, steps, 2)).astype("float32")
    y = rng.normal(size=(3, 1)).astype("float32")
    norms = state_gradients.state_gradient_norms(
        model, x, y, keras.losses.MeanSquaredError(), per_step=False
    )
    (k1, r1), (k2, r2) = [
        [np.asarray(w, np.float64) for w in layer.get_weights()]
        for layer in model.layers[0].rnn_layers
    ]
    head_kernel, head_bias = [np.asarray(w, np.float64) for w in model.layers[1].get_weights()]
    h1, h2 = np.zeros((3, 3)), np.zeros((3, 4))
    for t in range(steps):
        h1 = x[:, t] @ k1 + h1 @ r1
        h2 = h1 @ k2 + h2 @ r2
    g2 = 2.0 * (h2 @ head_kernel + head_bias - y) @ head_kernel.T
    g1 = g2 @ k2.T
    expected = [np.sqrt((g1**2).sum(1) + (g2**2).sum(1))]
    for _ in range(steps - 1, 0, -1):
        g2 = g2 @ r2.T
        g1 = g1 @ r1.T + g2 @ k2.T
        expected.append(np.sqrt((g1**2).sum(1) + (g2**2).sum(1)))
    g1, g2 = g1 @ r1.T, g2 @ r2.T  # the initial states feed only the first step
    expected.append(np.sqrt((g1**2).sum(1) + (g2**2).sum(1)))
    np.testing.assert_allclose(norms, np.stack(expected, axis=1), rtol=2e-4, atol=1e-7)


def test_scaled_orthogonal_linear_rnn_decays_exactly_at_sigma_max():
    keras.utils.set_random_seed(3)
    steps, rho = 20, 0.85
    layer = keras.layers.SimpleRNN(6, activation=None, use_bias=False)
    model = rnn_model(layer, steps, 1)
    rotation = np.linalg.qr(np.random.default_rng(5).normal(size=(6, 6)))[0]
    layer.set_weights([layer.get_weights()[0], (rho * rotation).astype("float32")])
    x, y = SumTask(steps).sample(8, seed=0)
    norms = state_gradients.state_gradient_norms(
        model, x[:, :, :1], y, keras.losses.MeanSquaredError(), per_step=False
    )
    decay = measure.fit_decay_factor(np.arange(steps + 1), norms.mean(axis=0))
    assert decay == pytest.approx(rho, rel=1e-4)
    assert measure.largest_singular_value(
        state_gradients.recurrent_matrices(model)[0]
    ) == pytest.approx(rho, rel=1e-5)


def test_state_gradient_norms_names_an_unsupported_backend(monkeypatch):
    model = rnn_model(keras.layers.SimpleRNN(2), 3, 1)
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match=r"'torch'.*KERAS_BACKEND"):
        state_gradients.state_gradient_norms(
            model,
            np.zeros((1, 3, 1)),
            np.zeros((1, 1)),
            keras.losses.MeanSquaredError(),
            per_step=False,
        )


def test_find_recurrent_layers_rejects_models_without_recurrence():
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="no recurrent layer"):
        state_gradients.find_recurrent_layers(model)


# --------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------


def test_weights_probe_logs_trajectory_and_loss_surface(tmp_path):
    task = EwmaLikeTask(length=10, alpha=0.3)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((10, 1)),
            keras.layers.SimpleRNN(1, activation=None, use_bias=False, return_sequences=True),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=task.loss)
    logger = RecordingLogger(tb_dir=str(tmp_path / "tb"))
    [probe] = probes.make_probes(["weights"], task, "vanilla", logger)
    x, y = task.sample(64, seed=1)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[probe])
    u_history, w_history = logger.history("u"), logger.history("w")
    assert [step for step, _ in u_history] == [0, 1, 2]
    assert u_history[-1][1] == pytest.approx(float(model.layers[0].get_weights()[0][0, 0]))
    assert w_history[-1][1] == pytest.approx(float(model.layers[0].get_weights()[1][0, 0]))
    assert {"u_init", "w_init"} <= set(logger.params)
    surface = logger.dicts["probes/loss_surface.json"]
    assert len(surface["trajectory"]) == 4
    assert list(surface["optimum"]) == pytest.approx([0.3, 0.7])
    assert np.array(surface["loss"], dtype=float).shape == (41, 41)
    assert logger.figures == [("probes/loss_surface.png", "probes/loss_surface")]


def test_weights_probe_refuses_a_model_with_more_than_two_weights():
    task = EwmaLikeTask(length=5)
    model = keras.Sequential(
        [keras.Input((5, 1)), keras.layers.SimpleRNN(3, return_sequences=True)]
    )
    model.compile(loss="mse")
    [probe] = probes.make_probes(["weights"], task, "vanilla", None)
    x, y = task.sample(4, seed=0)
    with pytest.raises(ValueError, match="one-unit RNN"):
        model.fit(x, np.repeat(y, 3, axis=-1), epochs=1, verbose=0, callbacks=[probe])


@pytest.mark.parametrize(
    "layer_class,expect_bound", [(keras.layers.SimpleRNN, True), (keras.layers.LSTM, False)]
)
def test_gradient_flow_probe_logs_decay_sigma_and_figure(layer_class, expect_bound):
    task = SumTask(length=8)
    keras.utils.set_random_seed(0)
    model = rnn_model(layer_class(4), 8, 2)
    model.compile(optimizer="adam", loss=task.loss)
    logger = RecordingLogger()
    [probe] = probes.make_probes(["gradient_flow"], task, "x", logger)
    x, y = task.sample(32, seed=0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[probe])
    names = {name for name, _, _ in logger.metrics}
    for when in ("init", "trained"):
        assert {f"grad_decay_{when}", f"sigma_max_W_{when}", f"grad_norm_{when}"} <= names
        assert (f"decay_bound_{when}" in names) is expect_bound
        assert [step for step, _ in logger.history(f"grad_norm_{when}")] == list(range(9))
    sigma = logger.history("sigma_max_W_trained")[0][1]
    assert sigma == pytest.approx(
        measure.largest_singular_value(state_gradients.recurrent_matrices(model)[0])
    )
    flow = logger.dicts["probes/gradient_flow.json"]
    assert set(flow) == {"init", "trained"} and len(flow["init"]["norms"]) == 9
    assert logger.figures == [("probes/gradient_flow.png", "probes/gradient_flow")]


def test_gradient_flow_probe_on_layers_of_the_user_s_own():
    """A cell without a recurrent kernel (the example minGRU) is measured without
    sigma_max(W); a layer with no cell to unroll is skipped, with a tag saying why."""
    from examples.min_gru import MinGRUCell
    from experiments import schema

    task = SumTask(length=6)
    x, y = task.sample(16, seed=0)
    keras.utils.set_random_seed(0)
    gated = rnn_model(keras.layers.RNN(MinGRUCell(4)), 6, 2)
    opaque = rnn_model(keras.layers.GlobalAveragePooling1D(), 6, 2)
    for model in (gated, opaque):
        model.compile(optimizer="adam", loss=task.loss)
    measured, skipped = RecordingLogger(), RecordingLogger()
    for model, logger in ((gated, measured), (opaque, skipped)):
        [probe] = probes.make_probes(["gradient_flow"], task, "mine", logger)
        model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[probe])
    names = {name for name, _, _ in measured.metrics}
    assert {"grad_decay_init", "grad_decay_trained", "grad_norm_init"} <= names
    assert not any(name.startswith(("sigma_max_W", "decay_bound")) for name in names)
    assert skipped.metrics == [] and skipped.figures == []
    assert "no recurrent layer" in skipped.tags[schema.GRADIENT_FLOW_SKIPPED]


def test_make_probes_rejects_unknown_names_and_strings():
    assert probes.make_probes([], SumTask(), "x", None) == []
    with pytest.raises(ValueError, match="Unknown probe"):
        probes.make_probes(["gradients"], SumTask(), "x", None)
    with pytest.raises(TypeError, match="list of names"):
        probes.make_probes("weights", SumTask(), "x", None)
