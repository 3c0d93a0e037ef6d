"""The diagonal complex linear recurrence h_t = a_t ⊙ h_{t-1} + u_t, with `keras.ops` only.

Complex numbers are held as (real, imaginary) pairs of real tensors, so the
recurrence runs on every Keras backend. A masked step is the identity map
(a_t = 1, u_t = 0): it carries the state over. Two computations of the same
states:

- `"sequential"`: `keras.ops.scan`, one step after the other (T dependent
  steps of elementwise work). Its gradient is written by hand: the adjoint of
  a linear recurrence is the same recurrence run backwards with conj(a),

      c_t = g_t + conj(a_{t+1}) ⊙ c_{t+1},   du_t = c_t,
      dλ = Σ_t conj(h_{t-1}) ⊙ c_t (kept steps),   dh_0 = conj(a_1) ⊙ c_1,

  (g_t the gradient reaching h_t from the outputs), which keeps TensorFlow's
  graph free of the gradient of a `while` loop: XLA cannot compile that one.
- `"parallel"`: an associative scan over the pairs (a_t, u_t) with the
  composition (a1, u1) ∘ (a2, u2) = (a2·a1, a2·u1 + u2), so the T steps
  combine in a tree of depth ~2·log2(T); differentiated automatically. It is
  `keras.ops.associative_scan`, except on TensorFlow with a known number of
  steps: Keras's TensorFlow version branches on the length at run time
  (`tf.cond`) in a way XLA refuses to compile, so there the same odd/even
  recursion (the one `jax.lax.associative_scan` uses) is unrolled at trace
  time from the static length.
"""

import keras
from keras import ops


def complex_multiply(a_re, a_im, b_re, b_im):
    """(a_re + i·a_im)·(b_re + i·b_im) as a (real, imaginary) pair."""
    return a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re


def _step_factors(lam_re, lam_im, keep):
    """a_t as `(T, B, N)` pairs: λ at kept steps, 1 at masked ones."""
    a_re = ops.where(keep, lam_re, ops.ones_like(lam_re))
    a_im = ops.where(keep, lam_im, ops.zeros_like(lam_im))
    return a_re, a_im


# ------------------------------------------------------------- sequential scan


def _forward_states(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep):
    def step(carry, xs):
        h_re, h_im = carry
        new_re, new_im = complex_multiply(lam_re, lam_im, h_re, h_im)
        new_re, new_im = new_re + xs[0], new_im + xs[1]
        new_re = ops.where(xs[2], new_re, h_re)
        new_im = ops.where(xs[2], new_im, h_im)
        # Keras's TensorFlow scan needs the outputs shaped as the carry.
        return (new_re, new_im), (new_re, new_im)

    _, states = ops.scan(step, (h0_re, h0_im), (u_re, u_im, keep))
    return ops.concatenate(states, axis=-1)


def _adjoint(lam_re, lam_im, states, h0_re, h0_im, keep, upstream):
    """The gradients of (λ_re, λ_im, u_re, u_im, h0_re, h0_im) from the
    gradient `upstream` `(T, B, 2N)` of the states (see the module docstring)."""
    units = h0_re.shape[-1]
    g_re, g_im = upstream[..., :units], upstream[..., units:]
    a_re, a_im = _step_factors(lam_re, lam_im, keep)

    def back_step(carry, xs):
        # carry: conj(a_{t+1}) ⊙ c_{t+1}, the gradient reaching h_t from h_{t+1}.
        c_re, c_im = xs[0] + carry[0], xs[1] + carry[1]
        to_previous = complex_multiply(xs[2], -xs[3], c_re, c_im)
        return to_previous, (c_re, c_im)

    zeros = ops.zeros_like(h0_re)
    (grad_h0_re, grad_h0_im), (c_re, c_im) = ops.scan(
        back_step, (zeros, zeros), (g_re, g_im, a_re, a_im), reverse=True
    )
    keep_float = ops.cast(keep, c_re.dtype)
    c_re, c_im = c_re * keep_float, c_im * keep_float
    initial = ops.expand_dims(ops.concatenate([h0_re, h0_im], axis=-1), 0)
    previous = ops.concatenate([initial, states[:-1]], axis=0)
    p_re, p_im = previous[..., :units], previous[..., units:]
    # dλ = Σ conj(h_{t-1}) ⊙ c_t over time and batch.
    grad_lam_re = ops.sum(p_re * c_re + p_im * c_im, axis=(0, 1))
    grad_lam_im = ops.sum(p_re * c_im - p_im * c_re, axis=(0, 1))
    return grad_lam_re, grad_lam_im, c_re, c_im, grad_h0_re, grad_h0_im


@ops.custom_gradient
def _sequential_with_gradient(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep):
    keep = keep > 0.5
    states = _forward_states(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep)

    def grad(*args, upstream=None):
        # TensorFlow and JAX pass the upstream gradient positionally,
        # PyTorch as a keyword.
        if upstream is None:
            (upstream,) = args
        grads = _adjoint(lam_re, lam_im, states, h0_re, h0_im, keep, upstream)
        return (*grads, ops.zeros(ops.shape(keep), upstream.dtype))

    return states, grad


def _sequential(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep):
    if keep is None:
        keep = ops.ones(ops.shape(u_re)[:-1] + (1,), dtype="bool")
    states = _sequential_with_gradient(
        lam_re, lam_im, u_re, u_im, h0_re, h0_im, ops.cast(keep, u_re.dtype)
    )
    units = h0_re.shape[-1]
    return states[..., :units], states[..., units:]


# --------------------------------------------------------------- parallel scan


def _combine(earlier, later):
    a1_re, a1_im, u1_re, u1_im = earlier
    a2_re, a2_im, u2_re, u2_im = later
    a_re, a_im = complex_multiply(a2_re, a2_im, a1_re, a1_im)
    u_re, u_im = complex_multiply(a2_re, a2_im, u1_re, u1_im)
    return a_re, a_im, u_re + u2_re, u_im + u2_im


def _unrolled_associative_scan(combine, elems):
    """Inclusive scan of `elems` (a tuple of tensors) along axis 0, whose
    static length unrolls the odd/even recursion at trace time."""
    length = elems[0].shape[0]
    if length < 2:
        return elems
    # Slices with explicit non-negative bounds: XLA mis-sizes the gradient
    # of a strided slice that ends at -1.
    pairs, rest = length // 2, (length - 1) // 2
    # Prefixes ending at the odd positions 1, 3, 5, ...: scan of the pairs.
    odd = _unrolled_associative_scan(
        combine,
        combine(
            tuple(e[0 : 2 * pairs : 2] for e in elems),
            tuple(e[1 : 2 * pairs : 2] for e in elems),
        ),
    )
    # Prefixes ending at the even positions 2, 4, ...: one more element each
    # (none when length is 2; an empty slice's gradient also trips XLA).
    even = tuple(e[:1] for e in elems)
    if rest > 0:
        later = combine(tuple(o[:rest] for o in odd), tuple(e[2 : 2 * rest + 1 : 2] for e in elems))
        even = tuple(ops.concatenate([e, v], axis=0) for e, v in zip(even, later))
    return tuple(_interleave(v, o) for v, o in zip(even, odd))


def _interleave(even, odd):
    """[e0, o0, e1, o1, ...] from `even` (one longer than `odd`, or as long)."""
    pairs = odd.shape[0]
    woven = ops.reshape(ops.stack([even[:pairs], odd], axis=1), (2 * pairs, *ops.shape(odd)[1:]))
    if even.shape[0] > pairs:
        woven = ops.concatenate([woven, even[pairs:]], axis=0)
    return woven


def _parallel(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep):
    if keep is None:
        # The same λ for every sequence: a_t is (T, 1, N), broadcast in the products.
        shape = (ops.shape(u_re)[0], 1, ops.shape(u_re)[2])
        a_re, a_im = ops.broadcast_to(lam_re, shape), ops.broadcast_to(lam_im, shape)
    else:
        a_re, a_im = _step_factors(lam_re, lam_im, keep)
        u_re = ops.where(keep, u_re, ops.zeros_like(u_re))
        u_im = ops.where(keep, u_im, ops.zeros_like(u_im))
    # The initial state enters as a_1·h_0 added to the first input.
    first_re, first_im = complex_multiply(a_re[0], a_im[0], h0_re, h0_im)
    u_re = ops.concatenate([ops.expand_dims(u_re[0] + first_re, 0), u_re[1:]], axis=0)
    u_im = ops.concatenate([ops.expand_dims(u_im[0] + first_im, 0), u_im[1:]], axis=0)
    elems = (a_re, a_im, u_re, u_im)
    if keras.backend.backend() == "tensorflow" and u_re.shape[0] is not None:
        _, _, states_re, states_im = _unrolled_associative_scan(_combine, elems)
    else:
        _, _, states_re, states_im = ops.associative_scan(_combine, elems, axis=0)
    return states_re, states_im


SCANS = ("sequential", "parallel")


def linear_recurrence(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep=None, scan="sequential"):
    """States of h_t = λ ⊙ h_{t-1} + u_t, masked steps carrying h over.

    Args:
        lam_re, lam_im: `(N,)` the diagonal λ of the recurrence.
        u_re, u_im: `(T, B, N)` time-major inputs u_t.
        h0_re, h0_im: `(B, N)` the state before the first step.
        keep: Optional boolean `(T, B, 1)`; where False the step keeps h.
        scan: `"sequential"` or `"parallel"` (see the module docstring).

    Returns:
        `(states_re, states_im)`, each `(T, B, N)`: h_1 ... h_T.
    """
    if scan == "sequential":
        return _sequential(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep)
    return _parallel(lam_re, lam_im, u_re, u_im, h0_re, h0_im, keep)
