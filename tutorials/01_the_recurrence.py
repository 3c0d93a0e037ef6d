# %% [raw]
"""
Title: The recurrence: one layer, two weights, and what unrolling means
Author: vanilla-rnn-lab contributors
Date created: 2026/11/26
Last modified: 2026/11/26
Description: Write the vanilla RNN update by hand, check it against VanillaRNN, and unroll it into a feed-forward network with shared weights.
"""

# %% [markdown]
"""
## Introduction

A `Dense` layer maps one input vector to one output vector. A sequence is different: it
arrives one step at a time, and the answer at step `t` may depend on what was seen many
steps earlier. A recurrent network handles this by keeping a **state** vector `h`, a
running summary of everything read so far, and updating it at every step:

```
h_t = tanh(x_t · U + h_{t-1} · W + b)
```

- `x_t` is the input at step `t` (a vector of `D` features),
- `h_{t-1}` is the state left by the previous step (a vector of `H` units; `h` starts
  at zero before the first step),
- `U` (`D × H`) mixes the new input in, `W` (`H × H`) mixes the old state in, `b` is a
  bias, and `tanh` keeps every state value between -1 and 1.

That single line is the whole "vanilla" (or Elman) RNN. This lesson takes it apart:

1. the smallest case, with one input feature and one unit, has exactly **two weights**;
2. `rnn_layers.VanillaRNN` computes exactly this recurrence: we check it against a loop
   written by hand in NumPy;
3. the same `U`, `W` and `b` are used at **every** step: the weights do not depend on `t`,
   so the model has the same size for a sequence of 5 steps or 5,000;
4. **unrolling** the loop over time gives an ordinary feed-forward network, as deep as
   the sequence is long, in which every layer shares the same weights; training it is
   plain backpropagation, where each shared weight collects the gradients of all its
   copies.

**Expected output:** the printed maximum differences between the layer and the hand
computations are all below `1e-5`, and two figures are written: the memory of the
two-weight network (`01_impulse_response.png`) and the gradient each time step
contributes to `W` (`01_gradient_per_step.png`).
"""

# %% [markdown]
"""
## Setup

The lessons import the project's packages from the repository root. Their first cell
imports `tutorials/lesson.py`, which puts that folder on the import path, so the file
runs both as a script (`.venv/bin/python tutorials/01_the_recurrence.py`) and as a
notebook (`make notebooks` writes one per lesson into `notebooks/`). Figures go to
`$VRL_TUTORIAL_OUT` (default `tutorials/out/`).
"""

# %%
import json

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf  # for GradientTape; the layer itself only uses keras.ops
from lesson import OUT_DIR

from rnn_layers import VanillaRNN

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
results = {}  # the numbers this lesson claims, saved at the end for the tests

# %% [markdown]
"""
## The univariate case: two weights

Take the smallest possible recurrent network: one input feature (`D = 1`), one unit
(`H = 1`), no bias. Then `U` and `W` are 1 × 1 matrices, i.e. two plain numbers. Call
them `u` (the weight on the current input) and `w` (the weight on the previous state):

```
h_t = tanh(w · h_{t-1} + u · x_t)
```

Keras layers take sequences shaped `(batch, timesteps, features)`. Passing
`return_sequences=True` makes the layer return the state after every step,
`(batch, timesteps, units)`, rather than only the last one.
"""

# %%
two_weights = VanillaRNN(1, use_bias=False, return_sequences=True)
two_weights.build((None, None, 1))  # any batch size, any number of steps, one feature
for weight in two_weights.weights:
    print(f"{weight.path:40s} shape {tuple(weight.shape)}")
print("trainable parameters:", two_weights.count_params())

# %% [markdown]
"""
Two weights, as promised: `kernel` is `u`, `recurrent_kernel` is `w` (the names and the
order are the same as in `keras.layers.SimpleRNN`). Let us give them values we choose,
run the layer on a short sequence, and run the same recurrence as a Python loop.
"""

# %%
u, w = 0.5, 0.8
two_weights.set_weights([np.array([[u]]), np.array([[w]])])

x = rng.normal(size=(1, 8, 1)).astype("float32")  # one sequence, 8 steps, 1 feature
layer_states = keras.ops.convert_to_numpy(two_weights(x))[0, :, 0]

h = 0.0  # the state starts at zero
loop_states = []
for x_t in x[0, :, 0]:
    h = np.tanh(w * h + u * x_t)  # the same two weights at every step
    loop_states.append(h)

print("layer:", np.round(layer_states, 4))
print("loop: ", np.round(loop_states, 4))
difference = float(np.max(np.abs(layer_states - np.array(loop_states))))
print(f"max |layer - loop| = {difference:.2e}")
results["univariate_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## Many features, many units

The general layer is the same loop with matrices. Here a layer with `H = 4` units reads
sequences of `D = 3` features and 6 steps, with a bias. Its weights are random (the
default initializers); we read them out and redo the computation in float64 NumPy.

One detail about conventions: Keras multiplies a row vector by a matrix (`x_t · U`),
which is why `kernel` has shape `(D, H)` and `recurrent_kernel` shape `(H, H)`.
"""

# %%
batch, steps, features, units = 2, 6, 3, 4
layer = VanillaRNN(units, return_sequences=True)
x = rng.normal(size=(batch, steps, features)).astype("float32")
layer_states = keras.ops.convert_to_numpy(layer(x))  # (batch, steps, units)

U = keras.ops.convert_to_numpy(layer.kernel).astype("float64")  # (D, H)
W = keras.ops.convert_to_numpy(layer.recurrent_kernel).astype("float64")  # (H, H)
b = keras.ops.convert_to_numpy(layer.bias).astype("float64")  # (H,)
print("U", U.shape, " W", W.shape, " b", b.shape)

h = np.zeros((batch, units))
loop_states = np.zeros((batch, steps, units))
for t in range(steps):
    h = np.tanh(x[:, t].astype("float64") @ U + h @ W + b)
    loop_states[:, t] = h

difference = float(np.max(np.abs(layer_states - loop_states)))
print(f"max |layer - NumPy loop| over {batch}x{steps}x{units} values = {difference:.2e}")
results["matrix_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## The weights do not depend on time

Nothing in the loop above has a `t` subscript on `U`, `W` or `b`: step 1 and step 1,000
use the same numbers. Two consequences:

- the number of parameters does not depend on the sequence length, and one layer can
  read sequences of any length (`keras.Input((None, features))` leaves the time axis
  open);
- whatever the network learns about "how to update the state" is learned once and
  applied everywhere in the sequence, the way a convolution reuses its kernel at every
  position.
"""

# %%
inputs = keras.Input((None, features))  # None: any number of steps
model = keras.Model(inputs, VanillaRNN(units)(inputs))
for length in (5, 50, 500):
    output = model(rng.normal(size=(1, length, features)).astype("float32"))
    print(
        f"{length:4d} steps -> output shape {tuple(output.shape)}, "
        f"parameters {model.count_params()}"
    )
results["parameters"] = model.count_params()
assert model.count_params() == features * units + units * units + units

# %% [markdown]
"""
## What the state remembers

How long does an input stay in the state? Feed the two-weight network a single impulse
(`x_0 = 1`, then zeros) and watch `h_t`. Without the `tanh`, the state after the
impulse is simply `u · w^t`: each step multiplies what is left by `w`. With `|w| < 1`
the memory of the impulse fades geometrically, with `w = 1` it is kept forever, and
with `|w| > 1` it grows without bound.

`tanh` changes two things. It keeps the state between -1 and 1, so nothing explodes;
and since `|tanh(z)| < |z|`, it shrinks the state a little more at every step, so even
`w = 1` now forgets, slowly. With `w > 1` the state settles on a fixed value that does
not depend on the size of the impulse: the network keeps one bit (the sign), not the
input itself. Keep this picture in mind: the rest of the course is about what the
fading does to learning.
"""

# %%
impulse = np.zeros((1, 30, 1), "float32")
impulse[0, 0, 0] = 1.0
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharex=True)
for ax, activation in zip(axes, [None, "tanh"]):
    layer_1d = VanillaRNN(1, use_bias=False, activation=activation, return_sequences=True)
    layer_1d.build((None, None, 1))
    for w_value in (0.5, 0.9, 1.0, 1.1):
        layer_1d.set_weights([np.array([[1.0]]), np.array([[w_value]])])
        response = keras.ops.convert_to_numpy(layer_1d(impulse))[0, :, 0]
        ax.plot(response, marker=".", label=f"w = {w_value}")
    ax.set_title(f"activation = {activation or 'linear'} (u = 1)")
    ax.set_xlabel("step t")
    ax.set_ylabel("state h_t")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend()
fig.suptitle("Response of the two-weight network to one impulse at t = 0")
fig.tight_layout()
fig.savefig(OUT_DIR / "01_impulse_response.png", dpi=100)
plt.show()

# %% [markdown]
"""
## Unrolling: a feed-forward network with shared weights

Write the loop out, step by step, and the recurrent layer becomes a stack of ordinary
layers: the first step is a `Dense` layer applied to the first input, the second step
adds a `Dense` layer applied to the output of the first step (plus the second input),
and so on, as many "layers" deep as there are time steps. What
makes it a recurrent network is that every step uses **the same** two `Dense` layers,
one for `x_t · U + b` and one for `h_{t-1} · W`. In Keras, calling one layer object
several times shares its weights, so we can build the unrolled network with the
Functional API.
"""

# %%
steps = 6


def unrolled_network(steps, features, units):
    """The recurrence written out over `steps` steps as a Functional model."""
    inputs = keras.Input((steps, features))
    input_part = keras.layers.Dense(units, name="U_and_b")  # x_t · U + b
    recurrent_part = keras.layers.Dense(units, use_bias=False, name="W")  # h · W
    state = None  # h_0 = 0, so the first step has no recurrent term
    for t in range(steps):
        pre_activation = input_part(inputs[:, t, :])
        if state is not None:
            pre_activation = keras.layers.Add()([pre_activation, recurrent_part(state)])
        state = keras.layers.Activation("tanh")(pre_activation)
    return keras.Model(inputs, state, name=f"unrolled_{steps}_steps")


unrolled = unrolled_network(steps, features, units)
unrolled.get_layer("U_and_b").set_weights([U, b])  # the weights of `layer` above
unrolled.get_layer("W").set_weights([W])
print("layers in the unrolled network:", len(unrolled.layers))
print(f"parameters: {unrolled.count_params()} (the VanillaRNN layer has {layer.count_params()})")

x = rng.normal(size=(batch, steps, features)).astype("float32")
last_state_layer = keras.ops.convert_to_numpy(layer(x))[:, -1]
last_state_unrolled = keras.ops.convert_to_numpy(unrolled(x))
difference = float(np.max(np.abs(last_state_layer - last_state_unrolled)))
print(f"max |VanillaRNN - unrolled network| = {difference:.2e}")
results["unrolled_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
The unrolled network has a few layers per time step (an `Add` and an `Activation` for
every step, plus the two shared `Dense` layers), yet only the parameters of one
recurrent layer, and it computes the same thing. For 1,000 steps it would have
thousands of layers and still the same 32 parameters.

## Training the unrolled network: gradients add up over time

Because the unrolled network is an ordinary feed-forward network, training it is
ordinary backpropagation (for recurrent networks this is called *backpropagation
through time*). The only new ingredient is sharing. Imagine giving every step its
**own copy** of `W`, all starting from the same values. The gradient of the loss with
respect to the shared `W` is then the **sum** of the gradients of the copies: each step
contributes one term.

Let us check that with 20 steps. `recurrence_with_copies` runs the recurrence with one
`W` variable per step; the loss depends on the last state only.
"""

# %%
steps = 20
x = tf.constant(rng.normal(size=(batch, steps, features)).astype("float32"))
target = tf.constant(rng.normal(size=(batch, units)).astype("float32"))
W_copies = [tf.Variable(W.astype("float32")) for _ in range(steps)]


def recurrence_with_copies(x, W_per_step):
    h = tf.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        h = tf.tanh(x[:, t] @ layer.kernel + h @ W_per_step[t] + layer.bias)
    return h


with tf.GradientTape() as tape:
    loss = tf.reduce_mean((recurrence_with_copies(x, W_copies) - target) ** 2)
gradient_per_copy = tape.gradient(loss, W_copies)

# The real layer, with one shared W, on the same data and loss:
shared = VanillaRNN(units)
shared.build(x.shape)
shared.set_weights(layer.get_weights())
with tf.GradientTape() as tape:
    loss_shared = tf.reduce_mean((shared(x) - target) ** 2)
gradient_shared = tape.gradient(loss_shared, shared.recurrent_kernel)

difference = float(tf.reduce_max(tf.abs(tf.add_n(gradient_per_copy) - gradient_shared)))
print(f"max |sum of the per-step gradients - gradient of the shared W| = {difference:.2e}")
results["gradient_sum_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
Now look at the size of each step's contribution. The copy of `W` used at step `t`
influences the loss only through the states that follow it: the further back the step,
the more `tanh` derivatives and `W` factors stand between it and the loss.
"""

# %%
contribution = np.array([float(tf.norm(g)) for g in gradient_per_copy])
results["contribution_last_step"] = float(contribution[-1])
results["contribution_first_step"] = float(contribution[1])  # step 0 multiplies h_0 = 0
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.semilogy(np.arange(1, steps), contribution[1:], marker="o")
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax.set_xlabel("time step t whose copy of W the gradient belongs to")
ax.set_ylabel("||dL / dW_t|| (log scale)")
ax.set_title("Each step's share of the gradient of W (loss at the last step)")
fig.tight_layout()
fig.savefig(OUT_DIR / "01_gradient_per_step.png", dpi=100)
plt.show()
print(f"contribution of the last step / of step 1: {contribution[-1] / contribution[1]:.0f}")

# %% [markdown]
"""
The contributions of the early steps are typically orders of magnitude smaller than
those of the last steps (step 0 contributes nothing at all, because it multiplies the
zero initial state). When the answer depends on an early input, the gradient that
should teach `W` to keep that input is drowned by the terms of the recent steps.
Lesson 5 measures this *vanishing gradient* properly.

## Summary

- A vanilla RNN is one update rule, `h_t = tanh(x_t · U + h_{t-1} · W + b)`, applied at
  every step; with one feature and one unit it has exactly two weights, `u` and `w`.
- `VanillaRNN` computes exactly that (we matched a NumPy loop to within float32
  rounding), with `kernel = U`, `recurrent_kernel = W`, `bias = b`.
- The weights are the same at every step, so the parameter count does not depend on
  the sequence length.
- Unrolled over time, the layer is a feed-forward network, one layer per step, whose
  layers share their weights; the gradient of a shared weight is the sum of one term per
  step, and the terms of distant steps are small.

Next: [lesson 2](02_the_ewma_connection.py) shows that the two-weight network, without
its `tanh`, is a familiar object: the exponentially weighted moving average.
"""

# %%
(OUT_DIR / "01_results.json").write_text(json.dumps(results, indent=2))
print(f"The numbers this lesson claims: {OUT_DIR / '01_results.json'}")
