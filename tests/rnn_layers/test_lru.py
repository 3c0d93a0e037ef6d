"""LinearRecurrentUnit and LRUBlock against references that do not share their code: a float64
NumPy loop over complex numbers, the other scan, central finite differences in float64, and the
closed forms of the initialization; plus saving, shapes, masking and argument checks.

Backend-agnostic (the layer's weights are read and set through Keras), so the integration test
at the end runs this file again under JAX (and PyTorch where installed)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops
from rnn_grad_utils import outputs_and_gradients

from rnn_layers import LinearRecurrentUnit, LRUBlock

RNG = np.random.default_rng(7)
X = RNG.normal(size=(3, 9, 2))
# A mask with a masked step inside, trailing padding, and one fully masked sequence.
MASK = np.array([[1, 1, 0, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1], [0] * 9], bool)


# The float64 tolerance of the NumPy parity. Under JAX on CPU (JAX_ENABLE_X64) the layer's
# float64 outputs differ from NumPy's by up to ~5e-7 absolute (float32-sized), for a reason not
# yet pinned down (TensorFlow: ~1e-15); a wrong recurrence differs by far more.
EXACT = {"rtol": 1e-10, "atol": 1e-12}
if keras.backend.backend() == "jax":
    EXACT = {"rtol": 1e-5, "atol": 1e-6}


def numpy_of(variable):
    return ops.convert_to_numpy(variable).astype("float64")


def reference(layer, x, mask=None, initial_state=None):
    """The layer's outputs (every step) and final state by a float64 complex NumPy loop."""
    lam = np.exp(-np.exp(numpy_of(layer.nu_log)) + 1j * np.exp(numpy_of(layer.theta_log)))
    gamma = np.sqrt(1 - np.abs(lam) ** 2) if layer.normalize_input else np.ones_like(lam.real)
    b = (numpy_of(layer.B_real) + 1j * numpy_of(layer.B_imag)) * gamma
    c = numpy_of(layer.C_real) + 1j * numpy_of(layer.C_imag)
    d = numpy_of(layer.D)
    batch, steps, _ = x.shape
    mask = np.ones((batch, steps), bool) if mask is None else mask
    h = np.zeros((batch, layer.units), complex)
    if initial_state is not None:
        h = initial_state[:, : layer.units] + 1j * initial_state[:, layer.units :]
    outputs = np.zeros((batch, steps, c.shape[1]))
    last = np.zeros((batch, c.shape[1]))
    for i in range(batch):
        for t in range(steps):
            if mask[i, t]:
                h[i] = lam * h[i] + x[i, t] @ b
                feed = x[i, t] * d if d.ndim == 1 else x[i, t] @ d
                outputs[i, t] = last[i] = (h[i] @ c).real + feed
    final = np.concatenate([h.real, h.imag], axis=-1)
    return outputs, last, final


def built(scan="parallel", dtype="float64", features=2, **kwargs):
    keras.utils.set_random_seed(3)
    layer = LinearRecurrentUnit(4, scan=scan, dtype=dtype, **kwargs)
    layer.build((None, None, features))
    return layer


@pytest.mark.parametrize("scan", ["parallel", "sequential"])
@pytest.mark.parametrize(
    "options", [{}, {"normalize_input": False}, {"output_units": 3, "r_min": 0.0, "r_max": 0.5}]
)
def test_matches_a_float64_numpy_loop(scan, options):
    layer = built(scan, return_sequences=True, return_state=True, **options)
    h0 = RNG.normal(size=(3, 8))
    for mask, state in ((None, None), (MASK, h0)):
        outputs, final = layer(X, mask=mask, initial_state=state)
        expected, _, expected_final = reference(layer, X, mask, state)
        np.testing.assert_allclose(ops.convert_to_numpy(outputs), expected, **EXACT)
        np.testing.assert_allclose(ops.convert_to_numpy(final), expected_final, **EXACT)
    layer.return_sequences = False
    last, _ = layer(X, mask=MASK, initial_state=h0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(last), reference(layer, X, MASK, h0)[1], **EXACT
    )


@pytest.mark.parametrize("mask", [None, MASK])
def test_the_two_scans_agree_in_float32_forward_and_in_gradients(mask):
    x = RNG.normal(size=(3, 9, 2)).astype("float32")
    h0 = RNG.normal(size=(3, 8)).astype("float32")
    results = []
    for scan in ("parallel", "sequential"):
        layer = built(scan, dtype="float32", return_sequences=True, return_state=True)
        results.append(outputs_and_gradients(layer, x, initial_state=h0, mask=mask))
    (out_p, grad_p), (out_s, grad_s) = results
    assert len(grad_p) == 2 + 7  # inputs, initial state, the seven weights
    for parallel, sequential in zip(out_p + grad_p, out_s + grad_s):
        np.testing.assert_allclose(parallel, sequential, rtol=1e-5, atol=1e-5)
    assert max(float(np.abs(g).max()) for g in grad_p) > 1e-2  # not vacuous


def float64_gradients(layer, x, weights):
    """Gradients of sum(output * weights) w.r.t. the inputs and the trainable weights."""
    trainable = [ops.convert_to_tensor(v.value) for v in layer.trainable_variables]
    x = ops.convert_to_tensor(x)

    def loss_fn(x, trainable):
        outputs, _ = layer.stateless_call(trainable, [], x)
        return ops.sum(outputs * weights)

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([x, trainable])
            loss = loss_fn(x, trainable)
        grads = tape.gradient(loss, [x, *trainable])
    elif keras.backend.backend() == "jax":
        import jax

        grad_x, grad_w = jax.grad(loss_fn, argnums=(0, 1))(x, trainable)
        grads = [grad_x, *grad_w]
    else:
        pytest.skip("float64 gradients are checked on TensorFlow and JAX")
    return [ops.convert_to_numpy(g) for g in grads]


@pytest.mark.parametrize("scan", ["parallel", "sequential"])
def test_gradients_match_central_finite_differences_in_float64(scan):
    if keras.backend.backend() == "jax" and not os.environ.get("JAX_ENABLE_X64"):
        pytest.skip("float64 on JAX needs JAX_ENABLE_X64=1")
    layer = built(scan, return_sequences=True, output_units=2, r_min=0.5, max_phase=3.0)
    x = RNG.normal(size=(2, 5, 2))
    weights = RNG.normal(size=(2, 5, 2))
    analytic = float64_gradients(layer, x, weights)

    def loss(x):
        return float(np.sum(ops.convert_to_numpy(layer(x)) * weights))

    # The derivative along a random direction of each tensor on its own (inputs, then each
    # weight): a wrong entry anywhere in a tensor's gradient shows in its directional derivative.
    eps, rtol = 1e-6, 1e-6
    if keras.backend.backend() == "jax":
        # XLA's float64 transcendental functions on CPU are less exact than NumPy's (the loss
        # moved by ~1e-7 at random here): a larger step, and a tolerance still far below the
        # error of a wrong gradient.
        eps, rtol = 1e-3, 1e-3
    direction = RNG.normal(size=x.shape)
    numeric = [(loss(x + eps * direction) - loss(x - eps * direction)) / (2 * eps)]
    directions = [direction]
    for variable in layer.trainable_variables:
        value = numpy_of(variable)
        direction = RNG.normal(size=value.shape)
        variable.assign(value + eps * direction)
        above = loss(x)
        variable.assign(value - eps * direction)
        numeric.append((above - loss(x)) / (2 * eps))
        variable.assign(value)
        directions.append(direction)
    assert len(analytic) == len(numeric) == 8
    along = [float(np.sum(g * d)) for g, d in zip(analytic, directions)]
    np.testing.assert_allclose(along, numeric, rtol=rtol, atol=1e-8)


def test_initialization_follows_the_paper():
    keras.utils.set_random_seed(0)
    layer = LinearRecurrentUnit(20000, r_min=0.4, r_max=0.9, max_phase=1.5)
    layer.build((None, None, 8))
    lam_re, lam_im = (ops.convert_to_numpy(v).astype("float64") for v in layer.eigenvalues())
    squared, phase = lam_re**2 + lam_im**2, np.arctan2(lam_im, lam_re)
    # |λ|² uniform on [r_min², r_max²]: its mean and quartiles.
    assert squared.min() >= 0.4**2 - 1e-6 and squared.max() <= 0.9**2 + 1e-6
    np.testing.assert_allclose(
        np.quantile(squared, [0.25, 0.5, 0.75]), [0.3225, 0.485, 0.6475], atol=0.01
    )
    assert phase.min() > 0 and phase.max() <= 1.5 + 1e-6
    np.testing.assert_allclose(
        np.quantile(phase, [0.25, 0.5, 0.75]), [0.375, 0.75, 1.125], atol=0.02
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer._input_scale()), np.sqrt(1 - squared), rtol=1e-4, atol=1e-6
    )
    # Var(Re B) = Var(Im B) = 1/(2·features); Var(Re C) = Var(Im C) = 1/units.
    assert np.var(numpy_of(layer.B_real)) == pytest.approx(1 / 16, rel=0.02)
    assert np.var(numpy_of(layer.C_imag)) == pytest.approx(1 / 20000, rel=0.02)


def test_normalize_input_keeps_the_state_variance_that_of_the_input():
    # With white inputs of unit variance, E|h_j|² → γ²·E|x·B_j|²/(1 - |λ_j|²) = E|x·B_j|² = 1
    # (without γ it would be 1/(1 - |λ_j|²) > 50).
    layer = built(dtype="float32", features=1, r_min=0.99, r_max=0.995, return_state=True)
    layer.B_real.assign(np.ones((1, 4)))
    layer.B_imag.assign(np.zeros((1, 4)))
    x = np.random.default_rng(1).normal(size=(512, 1500, 1)).astype("float32")
    _, state = layer(x)
    state = ops.convert_to_numpy(state)
    power = np.mean(state[:, :4] ** 2 + state[:, 4:] ** 2, axis=0)
    np.testing.assert_allclose(power, 1.0, atol=0.15)


@pytest.mark.parametrize("output_units", [None, 5])
def test_return_sequences_and_return_state_shapes(output_units):
    width = 2 if output_units is None else output_units
    for sequences, state in ((False, False), (True, False), (False, True), (True, True)):
        layer = LinearRecurrentUnit(
            4, output_units=output_units, return_sequences=sequences, return_state=state
        )
        result = layer(X.astype("float32"))
        shapes = [tuple(r.shape) for r in (result if state else [result])]
        expected = [(3, 9, width) if sequences else (3, width)] + ([(3, 8)] if state else [])
        assert shapes == expected
        declared = layer.compute_output_shape((3, 9, 2))
        assert [tuple(s) for s in (declared if state else [declared])] == expected


def test_masked_padding_gives_the_unpadded_outputs_and_the_mask_flows_on():
    layer = built(return_sequences=True)
    padded = np.concatenate([X, np.zeros((3, 4, 2))], axis=1)
    model = keras.Sequential(
        [keras.Input((None, 2), dtype="float64"), keras.layers.Masking(0.0, dtype="float64"), layer]
    )
    outputs = ops.convert_to_numpy(model(padded))
    np.testing.assert_allclose(outputs[:, :9], ops.convert_to_numpy(layer(X)), **EXACT)
    assert np.all(outputs[:, 9:] == 0)
    assert ops.convert_to_numpy(layer.compute_mask(padded, ops.any(padded != 0, -1))).shape == (
        3,
        13,
    )
    layer.return_sequences = False
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(padded)), ops.convert_to_numpy(layer(X)), **EXACT
    )
    assert layer.compute_mask(padded, MASK) is None


def test_stacked_in_sequential_it_trains_compiled_on_either_scan():
    keras.utils.set_random_seed(5)
    x = X[:, :4].astype("float32")  # short: XLA's compile time grows with the parallel scan's depth
    model = keras.Sequential(
        [
            keras.Input((4, 2)),
            LinearRecurrentUnit(5, scan="parallel", return_sequences=True),
            LinearRecurrentUnit(3, scan="sequential"),
            keras.layers.Dense(1),
        ]
    )
    # XLA on TensorFlow, as the experiment runner compiles; JAX always compiles.
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=True)
    history = model.fit(x, np.ones((3, 1), "float32"), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_round_trip_through_keras_saving(tmp_path):
    keras.utils.set_random_seed(5)
    x = X.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((9, 2)),
            keras.layers.Dense(6),
            LRUBlock(5, normalization="batch", prenorm=True, scan="sequential"),
            LinearRecurrentUnit(7, r_min=0.5, max_phase=1.0, return_sequences=True),
            LinearRecurrentUnit(3, output_units=4, normalize_input=False),
            keras.layers.Dense(1),
        ]
    )
    path = tmp_path / "lru.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    for original, copy in zip(model.layers, loaded.layers):
        assert copy.get_config() == original.get_config()
    for original, copy in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(copy), ops.convert_to_numpy(original))


def test_get_config_returns_every_constructor_argument():
    import inspect

    for cls in (LinearRecurrentUnit, LRUBlock):
        arguments = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        assert arguments <= set(cls(3).get_config())


def test_lru_block_is_the_residual_glu_block_of_the_paper():
    keras.utils.set_random_seed(2)
    x = X.astype("float32")
    for prenorm in (False, True):
        block = LRUBlock(4, prenorm=prenorm)
        y = ops.convert_to_numpy(block(x))
        normed = ops.convert_to_numpy(block.norm(x)) if prenorm else x
        z = ops.convert_to_numpy(keras.activations.gelu(block.lru(normed)))
        glu = ops.convert_to_numpy(block.glu_value(z) * ops.sigmoid(block.glu_gate(z)))
        expected = x + glu if prenorm else ops.convert_to_numpy(block.norm(x + glu))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
        assert y.shape == x.shape


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"units": 0}, ValueError, "`units` must be a positive integer; received 0"),
        ({"units": 4.0}, ValueError, "`units` must be a positive integer"),
        ({"output_units": -1}, ValueError, "`output_units` must be a positive integer"),
        ({"r_max": 1.0}, ValueError, r"`r_max` must lie in \[0.0, 1.0\)"),
        ({"r_min": 0.9995}, ValueError, r"`r_min` must lie in \[0.0, 0.999\]; received 0.9995"),
        ({"max_phase": 0}, ValueError, r"`max_phase` must lie in \(0.0, "),
        ({"max_phase": "pi"}, TypeError, "`max_phase` must be a number"),
        ({"scan": "fast"}, ValueError, r"`scan` must be one of \('sequential', 'parallel'\)"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        LinearRecurrentUnit(**{"units": 4, **kwargs})


def test_bad_inputs_and_block_arguments_raise():
    layer = LinearRecurrentUnit(4)
    with pytest.raises(ValueError, match="expects sequences of rank 3"):
        layer(np.zeros((3, 2), "float32"))
    with pytest.raises(ValueError, match=r"expects `initial_state` of shape \(batch, 8\)"):
        layer(np.zeros((3, 5, 2), "float32"), initial_state=np.zeros((3, 4), "float32"))
    with pytest.raises(ValueError, match="`normalization` must be one of"):
        LRUBlock(4, normalization="group")
    with pytest.raises(ValueError, match=r"`dropout` must lie in \[0, 1\)"):
        LRUBlock(4, dropout=1.0)


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_this_file_passes_under_another_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    here = Path(__file__).resolve()
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "JAX_PLATFORMS": "cpu",
        "JAX_ENABLE_X64": "1",  # for the float64 references; Keras's floatx stays float32
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    command = [sys.executable, "-m", "pytest", str(here), "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "-m", "not integration"],
        cwd=here.parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail
