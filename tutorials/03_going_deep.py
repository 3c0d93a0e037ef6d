# %% [raw]
"""
Title: Going deep: stacking vanilla RNN layers
Author: vanilla-rnn-lab contributors
Date created: 2026/11/26
Last modified: 2026/12/07
Description: Build deep vanilla RNNs with DeepVanillaRNN, check what the stack computes, and measure what depth does and does not buy.
"""

# %% [markdown]
"""
## Introduction

A single vanilla RNN layer turns a sequence of inputs into a sequence of states. Nothing
stops us from feeding that sequence of states to a second recurrent layer, and its
states to a third: a **deep** (stacked) RNN. At every step, the input now passes
through several nonlinear layers before it reaches the output, while each layer keeps
its own state over time.

```
h1_t = tanh(x_t  · U1 + h1_{t-1} · W1 + b1)      layer 1 reads the input
h2_t = tanh(h1_t · U2 + h2_{t-1} · W2 + b2)      layer 2 reads layer 1's state
...
```

The project's `DeepVanillaRNN` builds such a stack from `VanillaRNN` layers. In this
lesson we:

1. check that the stack is exactly "layers applied one after another";
2. count its parameters;
3. measure, without any training, how strongly the output still depends on an input
   `k` steps back, for 1 to 4 layers;
4. train shallow and deep models of the same size on a short and on a long memory task.

The short version of the answer: depth gives the network more computation **per step**;
it does not give it a longer **memory**, because every layer forgets at the same
geometric rate.

**Expected output:** the stack matches the layers applied by hand (difference below
`1e-5`); the figure `03_sensitivity.png`, where the influence of an input decays
exponentially with its distance for every depth, with fitted decay factors per step
that differ by less than 0.1 between depths (printed and checked by the tests); and a
bar chart of validation accuracies (`03_depth_training.png`).
"""

# %% [markdown]
"""
## Setup
"""

# %%
import json

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf  # for GradientTape
from lesson import FAST, OUT_DIR

import datasets
from experiments.config import Hyperparameters
from experiments.models import build_model
from rnn_layers import DeepVanillaRNN

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
results = {}

# %% [markdown]
"""
## A stack of three layers

`DeepVanillaRNN(units, num_layers=L)` stacks `L` layers of `units` units (pass a list,
e.g. `[64, 32]`, for different widths). Every layer but the top one returns its whole
sequence of states to the next; the top layer returns what you ask for with
`return_sequences`, like a single layer. The sublayers are in `deep.rnn_layers`.
"""

# %%
features = 4
deep = DeepVanillaRNN(16, num_layers=3, return_sequences=True)
x = rng.normal(size=(2, 12, features)).astype("float32")
deep_output = deep(x)
print("output shape:", tuple(deep_output.shape))
for layer in deep.rnn_layers:
    print(
        f"  {layer.name}: kernel {tuple(layer.kernel.shape)}, "
        f"recurrent_kernel {tuple(layer.recurrent_kernel.shape)}"
    )

by_hand = x
for layer in deep.rnn_layers:
    by_hand, _ = layer(by_hand)  # inside the stack each layer also returns its final state
difference = float(np.max(np.abs(keras.ops.convert_to_numpy(deep_output - by_hand))))
print(f"max |DeepVanillaRNN - its layers applied one after another| = {difference:.2e}")
results["stack_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## Parameters

The first layer has `D·H + H·H + H` parameters (input weights, recurrent weights,
bias); every layer above it reads `H` features instead of `D`, so it has
`2·H·H + H`. At the same number of units per layer, depth multiplies the size; to
compare depths fairly, we shrink the width so that the total stays about the same.
"""

# %%
for num_layers, units in [(1, 64), (2, 40), (3, 32), (4, 28)]:
    stack = DeepVanillaRNN(units, num_layers=num_layers)
    stack.build((None, None, features))
    print(f"{num_layers} layer(s) of {units:2d} units: {stack.count_params():5d} parameters")

# %% [markdown]
"""
## How far back does the output still "see"?

The answer at step `T` can only use an input `x_t` if changing `x_t` changes the output.
The size of that effect is the norm of the derivative `∂y_T / ∂x_t`. One backward pass
gives it for every `t` at once: take the gradient of the output at the last step
(summed over its units, to get one number) with respect to the whole input sequence. We plot its average norm against the distance
`T − t` for freshly initialized stacks of 1 to 4 layers of 32 units (Keras's default
initialization: orthogonal `W`).
"""

# %%
steps = 60
x = tf.constant(rng.normal(size=(64, steps, features)).astype("float32"))
sensitivity = {}
for num_layers in (1, 2, 3, 4):
    keras.utils.set_random_seed(0)
    stack = DeepVanillaRNN(32, num_layers=num_layers)  # returns the last step only
    with tf.GradientTape() as tape:
        tape.watch(x)
        last_output = stack(x)
        total = tf.reduce_sum(last_output)
    gradient = tape.gradient(total, x).numpy()  # (sequences, steps, features)
    # Norm per step, averaged over the sequences, indexed by distance T - t.
    sensitivity[num_layers] = np.linalg.norm(gradient, axis=-1).mean(axis=0)[::-1]

# %% [markdown]
"""
On a log scale, an exponential decay is a straight line. We fit its slope over the
distances 10 to 40 (past the first few steps, where the deeper stacks are still
"filling up") and report it as a factor per step: the output's dependence on an input
shrinks by this factor for every step of distance.
"""

# %%
distances = np.arange(steps)
fit_range = (distances >= 10) & (distances <= 40)
decay_factor = {}
fig, ax = plt.subplots(figsize=(8, 4))
for num_layers, norms in sensitivity.items():
    slope = np.polyfit(distances[fit_range], np.log(norms[fit_range]), deg=1)[0]
    decay_factor[num_layers] = float(np.exp(slope))
    ax.semilogy(
        distances,
        norms,
        label=f"{num_layers} layer(s): × {decay_factor[num_layers]:.3f} per step",
    )
    print(
        f"{num_layers} layer(s): the influence shrinks by × {decay_factor[num_layers]:.3f} per step"
    )
ax.set_xlabel("distance T − t between the input and the output")
ax.set_ylabel("mean ||∂y_T / ∂x_t||")
ax.set_title("How much the last output depends on earlier inputs (untrained stacks)")
ax.legend()
fig.tight_layout()
fig.savefig(OUT_DIR / "03_sensitivity.png", dpi=100)
plt.show()
results["decay_factor_per_step"] = {str(k): v for k, v in decay_factor.items()}
spread = max(decay_factor.values()) - min(decay_factor.values())
results["decay_factor_spread"] = spread
assert spread < 0.1

# %% [markdown]
"""
All four curves fall along (nearly) parallel straight lines: the influence of an input
decays exponentially with its distance, at about the same rate whatever the depth. The
deeper stacks start lower and peak a few steps later (an input has to climb through
the layers first), then forget about as fast.

Why: information from `x_t` reaches the output at step `T` only by being carried over
`T − t` time steps, and every carry goes through some layer's recurrence,
`tanh(... + h_{t-1} · W)`, which shrinks it by roughly the same factor in every layer.
Adding layers adds transformations along the way, not a shortcut through time.

## Training: a short and a long memory task

Now a small training run. The `delayed_recall` task shows one symbol (out of 8) per
step and asks, at every step, for the symbol seen `lag` steps earlier: a pure memory
task whose memory length is the `lag`. We compare a 1-layer and a 3-layer model with
about the same number of parameters, on a short lag and a long one, with the same
training budget. `experiments.models.build_model` builds the same models the
experiments use: the recurrent body plus a `Dense` head, compiled with the task's loss
and metrics.
"""

# %%
short_lag, long_lag = 4, 48
epochs, steps_per_epoch = (1, 15) if FAST else (8, 100)
models = {
    "1 layer (64 units)": ("vanilla", dict(units=64)),
    "3 layers (32 units)": ("deep", dict(units=32, num_layers=3)),
}
accuracy = {}
for lag in (short_lag, long_lag):
    task = datasets.make("delayed_recall", length=lag, seed=0, sequence_length=lag + 30)
    x_val, y_val = task.sample(256, seed=task.split_seeds["val"])
    for name, (kind, sizes) in models.items():
        # XLA compilation costs seconds per model: worth it only for long runs.
        hyperparameters = Hyperparameters(**sizes, lr=3e-3, clipnorm=1.0, jit_compile=not FAST)
        model = build_model(kind, hyperparameters, task, seed=0)
        model.fit(
            task.dataset(
                batch_size=32,
                steps_per_epoch=steps_per_epoch,
                seed=task.split_seeds["train"],
            ),
            epochs=epochs,
            verbose=0,
        )
        value = model.evaluate(
            x_val,
            y_val,
            sample_weight=task.sample_weight(len(x_val)),
            return_dict=True,
            verbose=0,
        )[task.metric]
        accuracy[(lag, name)] = value
        print(
            f"lag {lag:2d}, {name:20s} ({model.count_params()} parameters): "
            f"validation accuracy {value:.3f} (chance {task.chance:.3f})"
        )
results["accuracy"] = {f"lag{lag} {name}": value for (lag, name), value in accuracy.items()}

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
width = 0.35
for i, name in enumerate(models):
    values = [accuracy[(lag, name)] for lag in (short_lag, long_lag)]
    ax.bar(np.arange(2) + (i - 0.5) * width, values, width, label=name)
ax.axhline(1 / 8, color="gray", linestyle=":", label="chance (1/8)")
ax.set_xticks(np.arange(2), [f"lag {short_lag}", f"lag {long_lag}"])
ax.set_ylabel("validation accuracy")
ax.set_ylim(0, 1.05)
ax.set_title(f"delayed_recall after {epochs * steps_per_epoch} training batches")
ax.legend()
fig.tight_layout()
fig.savefig(OUT_DIR / "03_depth_training.png", dpi=100)
plt.show()

# %% [markdown]
"""
With the full budget (run the script without `VRL_TUTORIAL_FAST`), both models learn
the short lag, and neither gets far above chance at the long lag: three layers do not
recall a symbol 48 steps back any better than one. (In fast mode the budget is too
small to conclude anything: the short lag is only partly learned.)

This is one small run with one seed, not a proof. The `depth` experiments do it
properly: 1 to 4 layers at about equal parameter count, over several lengths and seeds,
tracked in MLflow, on `delayed_recall` (`depth`) and on the adding problem
(`depth_adding`). Run them with `make experiment NAME=depth` (and `NAME=depth_adding`) and
read their reports (which add the memory horizon against the number of layers) as in
lesson 4. In one `quick` run of `depth`, every depth from 1 to 4 recalled up to lag 16
and none recalled lag 32, where the deeper stacks did worse (accuracy 0.75, 0.48, 0.13,
0.13); on the adding problem the stacks held one or two lengths longer than one layer
(20 or 30 against 10), and all were at chance by length 50 (docs/results.md).

## Summary

- `DeepVanillaRNN` is a stack of `VanillaRNN` layers, each reading the state sequence of
  the one below; it computes exactly the layers applied in turn.
- Depth adds nonlinear processing between the input and the output **at each step**.
- It does not slow forgetting: the influence of an input on the output decays by about
  the same factor per step of distance for 1, 2, 3 or 4 layers, because the only way
  through time is the same kind of vanilla recurrence in every layer.

Next: [lesson 4](04_where_memory_breaks_down.py) measures where, as the dependency
length grows, vanilla RNNs stop learning, and compares them with LSTM and GRU.
"""

# %%
(OUT_DIR / "03_results.json").write_text(json.dumps(results, indent=2))
print(f"The numbers this lesson claims: {OUT_DIR / '03_results.json'}")
