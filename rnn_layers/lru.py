"""`LinearRecurrentUnit`: the Linear Recurrent Unit of Orvieto et al. (2023)."""

import math

import keras
from keras import ops

from rnn_layers.layer import check_sequences_shape, output_mask
from rnn_layers.lru_scan import SCANS, linear_recurrence


def _check_number(name, value, low, high, low_open=False, high_open=False):
    """Raises unless `value` is a real number in the interval (bounds as given)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number; received {value!r}.")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"`{name}` must lie in {interval}; received {value}.")


def _ring_nu_log(r_min, r_max):
    """ν_log with |λ| = exp(-exp(ν_log)) uniform on the ring r_min <= |λ| <= r_max:
    |λ|² is drawn uniformly in [r_min², r_max²], so the eigenvalues are uniform
    in the ring's area, as in the paper."""

    def initializer(shape, dtype=None):
        squared = keras.initializers.RandomUniform(r_min**2, r_max**2)(shape, dtype=dtype)
        return ops.log(-0.5 * ops.log(squared))

    return initializer


def _phase_theta_log(max_phase):
    """θ_log with the phase θ = exp(θ_log) uniform in (0, max_phase]."""

    def initializer(shape, dtype=None):
        # 1 - U[0, 1) lies in (0, 1]: no log(0).
        uniform = 1.0 - keras.initializers.RandomUniform(0.0, 1.0)(shape, dtype=dtype)
        return ops.log(max_phase * uniform)

    return initializer


@keras.saving.register_keras_serializable(package="rnn_layers")
class LinearRecurrentUnit(keras.layers.Layer):
    """Linear Recurrent Unit (Orvieto et al., 2023, "Resurrecting Recurrent
    Neural Networks for Long Sequences").

    A vanilla RNN with the nonlinearity taken out of the recurrence and the
    recurrence made diagonal and complex:

        h_t = λ ⊙ h_{t-1} + γ ⊙ (x_t·B),     y_t = Re(h_t·C) + D(x_t),
        λ_j = exp(-exp(ν_j) + i·exp(θ_j)),     γ_j = sqrt(1 - |λ_j|²),

    h_t a complex state of `units` values, B `(features, units)` and C
    `(units, output width)` complex, D a real feed-through. The
    parameterization keeps every |λ_j| < 1 (the recurrence is stable whatever
    ν is), and γ keeps the state's variance the input's size however close
    |λ_j| comes to 1. Complex numbers are held as pairs of real weights
    (`B_real`, `B_imag`, ...), so the layer runs on every Keras backend.

    As in the paper (and its reference code): ν_log = ν and θ_log (the phase
    is exp(θ_log), kept positive) are the trained parameters; |λ|² is drawn
    uniformly in [r_min², r_max²] and the phase uniformly in (0, max_phase];
    B and C have Glorot-like normal entries (variance 1/(2·features) for each
    of Re B, Im B; 1/units for each of Re C, Im C); D is a diagonal of
    standard normal entries. What differs: γ is computed from the current
    λ at every call (the paper's code trains log γ as a separate parameter
    initialized to this value); `normalize_input=False` drops it. With
    `output_units`, the outputs get their own width and D becomes a dense
    `(features, output_units)` matrix (the paper's LRU maps a width onto
    itself). The paper's block around the LRU (normalization, GLU, skip
    connection) is `rnn_layers.LRUBlock`.

    Two computations give the same states: `scan="sequential"`, one step
    after the other (`keras.ops.scan`), and `scan="parallel"`, an associative
    scan of depth ~2·log2(T) (see `rnn_layers.lru_scan`). The default is the
    sequential one, as measured on a CPU: with TensorFlow and XLA on one
    shared core (B=32, D=N=64, a training step), the parallel scan took
    2.9-3.7x the sequential one's time at T=100, 1000 and 4000, and 3-8x as
    long to compile; the sequential LRU took 1.6-1.9x VanillaRNN's time and
    0.5-0.6x GRU's (`python -m benchmarks.lru_bench`, benchmarks/RESULTS.md,
    2026-12-07). The parallel scan does more work in exchange for a short
    dependency chain: it is meant for accelerators, where it has not been
    measured yet (benchmarks/gpu.sh runs the comparison).

    Args:
        units: Positive integer, the number of complex state values N.
        output_units: Positive integer, width of the outputs; `None`
            (default) makes it the input width, with D diagonal as in the
            paper.
        r_min: Smallest initial |λ|, in [0, r_max]. Default 0.9.
        r_max: Largest initial |λ|, in [r_min, 1). Default 0.999.
        max_phase: Largest initial phase of λ, in (0, 2π]. Default 2π.
        normalize_input: Whether to scale the input of each state value by
            γ = sqrt(1 - |λ|²). Default `True`.
        scan: `"sequential"` (default) or `"parallel"`: how the recurrence
            is computed (same result; see above).
        return_sequences: Return the output of every step
            `(batch, timesteps, width)` instead of the last `(batch, width)`.
        return_state: Also return the final state, `(batch, 2·units)`: the
            real parts, then the imaginary parts.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional initial state `(batch, 2·units)` (real
            parts, then imaginary parts), or a list holding it. Default zeros.
        mask: Optional boolean `(batch, timesteps)`; a False step keeps the
            state, and its output (with `return_sequences`) is zeros. The
            last output is that of the last unmasked step (zeros if none).
            Set automatically by `keras.layers.Masking` or
            `Embedding(mask_zero=True)`.

    Returns:
        The output `(batch, width)` or `(batch, timesteps, width)`; with
        `return_state`, a tuple `(output, final_state)`.

    Example:

    ```python
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.Dense(32),
            LinearRecurrentUnit(64, return_sequences=True),
            LinearRecurrentUnit(64),
            keras.layers.Dense(1),
        ]
    )
    ```

    The magnitudes and phases of the diagonal of the recurrence:

    ```python
    lam_re, lam_im = layer.eigenvalues()
    magnitude = ops.sqrt(lam_re**2 + lam_im**2)  # all < 1
    ```
    """

    def __init__(
        self,
        units,
        output_units=None,
        r_min=0.9,
        r_max=0.999,
        max_phase=2 * math.pi,
        normalize_input=True,
        scan="sequential",
        return_sequences=False,
        return_state=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("output_units", output_units)):
            if value is None and name == "output_units":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
        _check_number("r_max", r_max, 0.0, 1.0, high_open=True)
        _check_number("r_min", r_min, 0.0, r_max)
        _check_number("max_phase", max_phase, 0.0, 2 * math.pi, low_open=True)
        if scan not in SCANS:
            raise ValueError(f"`scan` must be one of {SCANS}; received {scan!r}.")
        self.units = units
        self.output_units = output_units
        self.r_min = float(r_min)
        self.r_max = float(r_max)
        self.max_phase = float(max_phase)
        self.normalize_input = bool(normalize_input)
        self.scan = scan
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        features = check_sequences_shape(sequences_shape, self.name)[2]
        width = features if self.output_units is None else self.output_units
        n = self.units

        def normal(stddev):
            return keras.initializers.RandomNormal(stddev=stddev)

        self.nu_log = self.add_weight((n,), _ring_nu_log(self.r_min, self.r_max), name="nu_log")
        self.theta_log = self.add_weight((n,), _phase_theta_log(self.max_phase), name="theta_log")
        b_init = normal(1.0 / math.sqrt(2 * features))
        self.B_real = self.add_weight((features, n), b_init, name="B_real")
        self.B_imag = self.add_weight((features, n), b_init, name="B_imag")
        c_init = normal(1.0 / math.sqrt(n))
        self.C_real = self.add_weight((n, width), c_init, name="C_real")
        self.C_imag = self.add_weight((n, width), c_init, name="C_imag")
        if self.output_units is None:
            self.D = self.add_weight((features,), normal(1.0), name="D")
        else:
            self.D = self.add_weight((features, width), normal(1.0 / math.sqrt(features)), name="D")

    def eigenvalues(self):
        """`(real, imaginary)` parts of λ, the diagonal of the recurrence, each `(units,)`."""
        magnitude = ops.exp(-ops.exp(self.nu_log))
        phase = ops.exp(self.theta_log)
        return magnitude * ops.cos(phase), magnitude * ops.sin(phase)

    def _input_scale(self):
        """γ = sqrt(1 - |λ|²) = sqrt(-expm1(-2·exp(ν))), exact near |λ| = 1."""
        return ops.sqrt(-ops.expm1(-2.0 * ops.exp(self.nu_log)))

    def _initial_state(self, initial_state, batch_size, dtype):
        if initial_state is None:
            zeros = ops.zeros((batch_size, self.units), dtype=dtype)
            return zeros, zeros
        if isinstance(initial_state, (list, tuple)):
            if len(initial_state) != 1:
                raise ValueError(
                    f"Layer '{self.name}' has one state; received {len(initial_state)} "
                    f"initial states. Pass one tensor of shape (batch, {2 * self.units})."
                )
            initial_state = initial_state[0]
        initial_state = ops.cast(initial_state, dtype)
        shape = tuple(initial_state.shape)
        if len(shape) != 2 or shape[1] not in (None, 2 * self.units):
            raise ValueError(
                f"Layer '{self.name}' expects `initial_state` of shape (batch, "
                f"{2 * self.units}) (real parts, then imaginary parts); received shape {shape}."
            )
        return initial_state[:, : self.units], initial_state[:, self.units :]

    def _feedthrough(self, inputs):
        if self.output_units is None:
            return inputs * self.D
        return ops.matmul(inputs, self.D)

    def _readout(self, h_re, h_im, inputs):
        """y = Re(h·C) + D(x) for states and inputs of matching leading axes."""
        return (
            ops.matmul(h_re, self.C_real)
            - ops.matmul(h_im, self.C_imag)
            + self._feedthrough(inputs)
        )

    def _last_output(self, states_re, states_im, steps, keep):
        """The output of the last step, or of the last unmasked one."""
        h_re, h_im = states_re[-1], states_im[-1]
        if keep is None:
            return self._readout(h_re, h_im, steps[-1])
        # The last kept step is the one with no kept step after it; the
        # final state is already its state.
        keep_float = ops.cast(keep, steps.dtype)
        later = ops.flip(ops.cumsum(ops.flip(keep_float, axis=0), axis=0), axis=0) - keep_float
        last = keep_float * ops.cast(later < 0.5, steps.dtype)
        output = self._readout(h_re, h_im, ops.sum(steps * last, axis=0))
        return ops.where(ops.any(keep, axis=0), output, ops.zeros_like(output))

    def call(self, sequences, initial_state=None, mask=None):
        check_sequences_shape(sequences.shape, self.name)
        dtype = self.compute_dtype
        steps = ops.transpose(ops.cast(sequences, dtype), (1, 0, 2))  # (T, B, F)
        batch_size = sequences.shape[0]
        if batch_size is None:
            batch_size = ops.shape(sequences)[0]
        h0_re, h0_im = self._initial_state(initial_state, batch_size, dtype)
        lam_re, lam_im = self.eigenvalues()
        u_re, u_im = ops.matmul(steps, self.B_real), ops.matmul(steps, self.B_imag)
        if self.normalize_input:
            gamma = self._input_scale()
            u_re, u_im = u_re * gamma, u_im * gamma
        keep = None if mask is None else ops.expand_dims(ops.transpose(ops.cast(mask, "bool")), -1)
        states_re, states_im = linear_recurrence(
            lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep=keep, scan=self.scan
        )
        if self.return_sequences:
            output = self._readout(states_re, states_im, steps)
            if keep is not None:
                output = ops.where(keep, output, ops.zeros_like(output))
            output = ops.transpose(output, (1, 0, 2))
        else:
            output = self._last_output(states_re, states_im, steps, keep)
        if self.return_state:
            return output, ops.concatenate([states_re[-1], states_im[-1]], axis=-1)
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, timesteps, features = tuple(sequences_shape)
        width = features if self.output_units is None else self.output_units
        if self.return_sequences:
            output_shape = (batch_size, timesteps, width)
        else:
            output_shape = (batch_size, width)
        if self.return_state:
            return output_shape, (batch_size, 2 * self.units)
        return output_shape

    def compute_mask(self, sequences, mask=None):
        return output_mask(mask, self.return_sequences, self.return_state)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "output_units": self.output_units,
            "r_min": self.r_min,
            "r_max": self.r_max,
            "max_phase": self.max_phase,
            "normalize_input": self.normalize_input,
            "scan": self.scan,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
        }
