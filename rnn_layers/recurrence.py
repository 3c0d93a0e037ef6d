"""The time loop of the vanilla RNN, written with `keras.ops` only.

The loop gets the input projection p_t = x_t·U + b of every step already
computed (one matrix product for the whole sequence), so each step does only
the recurrent product h_{t-1}·W, the activation and, with masking, a select.

For the common activations the loop has a hand-written gradient
(backpropagation through time):

    g_t   = dL/dh_t (from the outputs) + carry
    gz_t  = g_t * act'(h_t)                  (masked steps: 0)
    carry = (gz_t · Wᵀ) * r  [+ g_t at masked steps]

The backward loop then holds one (B, H)·(H, H) product per step, and the
weight gradient dW = Σ_t h_{t-1}ᵀ·gz_t is one large matrix product after it,
instead of a small product accumulated inside the loop as automatic
differentiation of the loop would do. It also keeps the TensorFlow graph free
of the gradient of a `while` loop, whose accumulators XLA cannot compile when
the loop has no maximum trip count (the case of `keras.ops.scan`).
"""

import functools

import keras
from keras import ops


def _tanh_derivative(output):
    return 1.0 - output * output


def _sigmoid_derivative(output):
    return output * (1.0 - output)


def _relu_derivative(output):
    return ops.cast(output > 0, output.dtype)


def _exponential_derivative(output):
    return output


# Activations whose derivative is a function of their output (so the backward
# pass needs only the saved states); None marks the identity.
_DERIVATIVE_FROM_OUTPUT = {
    keras.activations.tanh: _tanh_derivative,
    keras.activations.sigmoid: _sigmoid_derivative,
    keras.activations.relu: _relu_derivative,
    keras.activations.exponential: _exponential_derivative,
    keras.activations.linear: None,
}


def has_fast_gradient(activation):
    """Whether `activation` gets the hand-written backward pass."""
    return activation in _DERIVATIVE_FROM_OUTPUT


def _forward_scan(projected, initial_state, recurrent_kernel, activation, keep, state_dropout):
    """States (T, B, H) of h_t = act(p_t + (h_{t-1}*r)·W), kept where keep_t."""

    def step(previous, step_inputs):
        projected_t, keep_t = step_inputs
        recurrent_input = previous if state_dropout is None else previous * state_dropout
        new = activation(projected_t + ops.matmul(recurrent_input, recurrent_kernel))
        if keep_t is not None:
            new = ops.where(keep_t, new, previous)
        return new, new

    if keep is None:
        return ops.scan(lambda h, p: step(h, (p, None)), initial_state, projected)
    return ops.scan(step, initial_state, (projected, keep))


def _backward_step(carry, step_inputs, kernel_transposed, derivative, state_dropout):
    """One step of backpropagation through time, from h_t back to h_{t-1}.

    Args:
        carry: `(B, H)` gradient reaching h_t from the later steps.
        step_inputs: `(upstream_t, state_t, keep_t)`: the gradient from the
            step's own output (None when only the final state was used),
            the state h_t, and the float 0/1 step mask (None without mask).
        kernel_transposed: `(H, H)` Wᵀ.
        derivative: act' as a function of the activation's output, or None
            for the identity.
        state_dropout: Optional `(B, H)` recurrent dropout mask r.

    Returns:
        `(carry to h_{t-1}, gz_t)`, the pre-activation gradient gz_t being
        the step's contribution to the gradients of p_t and W.
    """
    upstream_t, state_t, keep_t = step_inputs
    total = carry if upstream_t is None else upstream_t + carry
    through_step = total if keep_t is None else total * keep_t
    grad_pre = through_step if derivative is None else through_step * derivative(state_t)
    to_previous = ops.matmul(grad_pre, kernel_transposed)
    if state_dropout is not None:
        to_previous = to_previous * state_dropout
    if keep_t is not None:
        # A masked step copied h_{t-1} to h_t, so its gradient passes unchanged.
        to_previous = to_previous + total * (1.0 - keep_t)
    return to_previous, grad_pre


def _backward_scan(back_step, upstream, states, keep, initial_state, return_all):
    """Runs `back_step` from the last step to the first.

    Returns:
        `(grad_initial, grad_pre)`: the gradient of the initial state
        `(B, H)` and gz_t of every step `(T, B, H)`.
    """
    with_mask = keep is not None
    if return_all:
        # Gradient from every step's output; the carry starts at 0.
        carry = ops.zeros_like(initial_state)
        xs = (upstream, states) + ((keep,) if with_mask else ())
        unpack = lambda xs: (xs[0], xs[1], xs[2] if with_mask else None)  # noqa: E731
    else:
        # Only the final state was used: its gradient starts the carry.
        carry = upstream
        xs = (states,) + ((keep,) if with_mask else ())
        unpack = lambda xs: (None, xs[0], xs[1] if with_mask else None)  # noqa: E731
    return ops.scan(lambda c, step_xs: back_step(c, unpack(step_xs)), carry, xs, reverse=True)


def _recurrent_kernel_gradient(initial_state, states, grad_pre, state_dropout, units):
    """dW = Σ_t (h_{t-1} * r)ᵀ·gz_t."""
    previous_states = ops.concatenate([ops.expand_dims(initial_state, 0), states[:-1]], axis=0)
    if state_dropout is not None:
        previous_states = previous_states * state_dropout
    # One (H, T·B)·(T·B, H) product rather than T small ones in the loop.
    return ops.matmul(
        ops.transpose(ops.reshape(previous_states, (-1, units))),
        ops.reshape(grad_pre, (-1, units)),
    )


def _recurrence_with_gradient(activation, with_mask, with_state_dropout, return_all):
    """Builds f(projected, initial_state, recurrent_kernel[, keep][, r]) with
    the hand-written gradient; f returns all states (T, B, H) if `return_all`,
    else only the final state (B, H), which spares the backward pass a
    (T, B, H) upstream gradient that would be zero but for its last step.
    `keep` is a float (T, B, 1) 0/1 mask."""
    derivative = _DERIVATIVE_FROM_OUTPUT[activation]

    @ops.custom_gradient
    def recurrence(projected, initial_state, recurrent_kernel, *extra):
        keep = extra[0] if with_mask else None
        state_dropout = extra[-1] if with_state_dropout else None
        keep_bool = None if keep is None else keep > 0.5
        final_state, states = _forward_scan(
            projected, initial_state, recurrent_kernel, activation, keep_bool, state_dropout
        )

        def grad(*args, upstream=None):
            # TensorFlow and JAX pass the upstream gradient positionally,
            # PyTorch as a keyword.
            if upstream is None:
                (upstream,) = args
            back_step = functools.partial(
                _backward_step,
                kernel_transposed=ops.transpose(recurrent_kernel),
                derivative=derivative,
                state_dropout=state_dropout,
            )
            grad_initial, grad_pre = _backward_scan(
                back_step, upstream, states, keep, initial_state, return_all
            )
            grad_kernel = _recurrent_kernel_gradient(
                initial_state, states, grad_pre, state_dropout, recurrent_kernel.shape[0]
            )
            # The masks are constants; their gradients are zeros.
            return (grad_pre, grad_initial, grad_kernel, *(ops.zeros_like(e) for e in extra))

        return (states if return_all else final_state), grad

    return recurrence


def _unrolled_recurrence(
    projected, initial_state, recurrent_kernel, activation, step_mask, state_dropout_mask
):
    """`(final_state, states)` of the loop unrolled in Python, states a list."""
    states, state = [], initial_state
    for t in range(projected.shape[0]):
        recurrent_input = state
        if state_dropout_mask is not None:
            recurrent_input = recurrent_input * state_dropout_mask
        new = activation(projected[t] + ops.matmul(recurrent_input, recurrent_kernel))
        if step_mask is not None:
            new = ops.where(step_mask[t], new, state)
        states.append(new)
        state = new
    return state, states


def run_recurrence(
    projected,
    initial_state,
    recurrent_kernel,
    activation,
    step_mask=None,
    state_dropout_mask=None,
    unroll=False,
    return_all=True,
):
    """Runs h_t = act(p_t + (h_{t-1} * r)·W) over time; masked steps keep h.

    Args:
        projected: `(T, B, H)` time-major input projections p_t = x_t·U + b.
        initial_state: `(B, H)` state before the first step.
        recurrent_kernel: `(H, H)` recurrent weights W.
        activation: Elementwise activation callable.
        step_mask: Optional `(T, B, 1)` boolean; where False, the state is
            carried over unchanged.
        state_dropout_mask: Optional `(B, H)` mask r multiplied into the
            previous state before the recurrent product.
        unroll: If True, a Python loop over the static time axis instead of
            a symbolic scan (differentiated automatically).
        return_all: Return the states of all steps, or only the final one.

    Returns:
        `(T, B, H)` states after every step if `return_all`, else the final
        state `(B, H)`.
    """
    # A plain tensor, not the variable: TensorFlow's custom gradient would
    # otherwise see a variable read inside the function and ask for its
    # gradient separately. (Copying an H×H matrix once per call is free.)
    recurrent_kernel = ops.copy(recurrent_kernel)
    if unroll:
        final_state, states = _unrolled_recurrence(
            projected, initial_state, recurrent_kernel, activation, step_mask, state_dropout_mask
        )
        return ops.stack(states, axis=0) if return_all else final_state

    if not has_fast_gradient(activation):
        # Any other activation: automatic differentiation of the scan.
        final_state, states = _forward_scan(
            projected, initial_state, recurrent_kernel, activation, step_mask, state_dropout_mask
        )
        return states if return_all else final_state

    recurrence = _recurrence_with_gradient(
        activation, step_mask is not None, state_dropout_mask is not None, return_all
    )
    extra = []
    if step_mask is not None:
        extra.append(ops.cast(step_mask, projected.dtype))
    if state_dropout_mask is not None:
        extra.append(state_dropout_mask)
    return recurrence(projected, initial_state, recurrent_kernel, *extra)
