# %% [raw]
"""
Title: The EWMA connection: a linear two-weight RNN is a moving average
Author: vanilla-rnn-lab contributors
Date created: 2026/11/26
Last modified: 2026/12/07
Description: Show that a one-unit linear RNN with u = alpha, w = 1 - alpha is an exponentially weighted moving average, train it, and look at its whole loss surface.
"""

# %% [markdown]
"""
## Introduction

The exponentially weighted moving average (EWMA) smooths a noisy signal `x_t` by
mixing each new value with the previous average:

```
y_t = α · x_t + (1 − α) · y_{t-1}        (0 < α ≤ 1, y starts at 0)
```

A small `α` averages over roughly the last `1/α` steps; `α = 1` just copies the input.

Now compare with the two-weight network of [lesson 1](01_the_recurrence.py), without its
`tanh`:

```
h_t = u · x_t + w · h_{t-1}
```

It is the same formula with `u = α` and `w = 1 − α`. So a one-unit *linear* vanilla RNN
does not merely resemble a moving average: for those two weights it **is** one. Two
differences remain, and this lesson looks at both:

- in the RNN, `u` and `w` are free: nothing forces `u + w = 1`; training has to find
  that relation in the data;
- the real layer has a `tanh`, which bends the formula.

With only two weights we can also do something impossible for real networks: draw the
loss over **every** possible pair `(u, w)` and watch training walk across it.

**Expected output:** the linear RNN with `(u, w) = (α, 1 − α)` reproduces the `ewma`
task's targets to float32 rounding; after training from a distant starting point, the
learned `u` and `w` are within 0.05 of `α` and `1 − α` (printed, and checked by the
tests); the figures `02_ewma_task.png`, `02_weights_during_training.png` and
`02_loss_surface.png`.
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
from lesson import FAST, OUT_DIR

import datasets
from rnn_layers import VanillaRNN

keras.utils.set_random_seed(0)
results = {}

# %% [markdown]
"""
## The `ewma` task

The project's `datasets` package has the EWMA as a task: the input is Gaussian noise,
one value per step, and the target at every step is its moving average. Its `alpha`
defaults to 0.1; we make it explicit. Inputs and targets are both shaped
`(sequences, steps, 1)`.
"""

# %%
alpha = 0.1
task = datasets.make("ewma", length=50, seed=0, alpha=alpha)
print(task.describe())
x_train, y_train = task.sample(256 if FAST else 1024, seed=task.split_seeds["train"])
x_test, y_test = task.sample(256, seed=task.split_seeds["test"])
print("inputs", x_train.shape, "targets", y_train.shape)

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(x_test[0, :, 0], color="0.7", label="input x_t (noise)")
ax.plot(y_test[0, :, 0], color="C0", linewidth=2, label=f"target y_t (EWMA, α = {alpha})")
ax.set_xlabel("step t")
ax.legend()
fig.tight_layout()
fig.savefig(OUT_DIR / "02_ewma_task.png", dpi=100)
plt.show()

# %% [markdown]
"""
## Setting the weights by hand

A model that outputs its state at every step is a `VanillaRNN` with one unit,
`use_bias=False` (no `b`), `activation=None` (linear) and `return_sequences=True`. There
is no `Dense` head: the state itself is the prediction, so the model has exactly the
two weights `u` and `w`. Set them to `α` and `1 − α` and compare with the targets.
"""


# %%
def two_weight_model(activation, u_start, w_start):
    """A one-unit vanilla RNN whose weights start at (u_start, w_start)."""
    return keras.Sequential(
        [
            keras.Input((None, 1)),
            VanillaRNN(
                1,
                activation=activation,
                use_bias=False,
                return_sequences=True,
                kernel_initializer=keras.initializers.Constant(u_start),
                recurrent_initializer=keras.initializers.Constant(w_start),
            ),
        ]
    )


ewma_rnn = two_weight_model(None, u_start=alpha, w_start=1 - alpha)
print("weights (u, w):", ", ".join(f"{float(v.numpy()[0, 0]):.4f}" for v in ewma_rnn.weights))
difference = float(np.max(np.abs(ewma_rnn.predict(x_test, verbose=0) - y_test)))
print(f"max |RNN(u=α, w=1−α) − EWMA target| = {difference:.2e}")
results["exact_weights_max_abs_diff"] = difference
assert difference < 1e-4

# %% [markdown]
"""
The difference is float32 rounding: the network with these two weights computes the
moving average.

## Learning the weights

Now forget the answer. Start from `(u, w) = (0.8, 0.0)`, far from `(0.1, 0.9)`, and let
gradient descent find the weights from the data, with the mean squared error as the
loss. A small callback records `(u, w)` after every batch so that we can draw the path.
"""


# %%
class RecordWeights(keras.callbacks.Callback):
    """Stores the two weights (u, w) after every training batch."""

    def __init__(self):
        super().__init__()
        self.path = []

    def on_train_begin(self, logs=None):
        self.path.append(self.current())

    def on_train_batch_end(self, batch, logs=None):
        self.path.append(self.current())

    def current(self):
        rnn = self.model.layers[0]
        return float(rnn.kernel.numpy()[0, 0]), float(rnn.recurrent_kernel.numpy()[0, 0])


u_start, w_start = 0.8, 0.0
epochs = 15 if FAST else 40


def train(activation):
    keras.utils.set_random_seed(0)
    model = two_weight_model(activation, u_start, w_start)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="mse")
    recorder = RecordWeights()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, callbacks=[recorder], verbose=0)
    test_mse = model.evaluate(x_test, y_test, verbose=0)
    return np.array(recorder.path), test_mse


linear_path, linear_mse = train(None)
u_learned, w_learned = linear_path[-1]
print(f"learned u = {u_learned:.4f} (α = {alpha}), w = {w_learned:.4f} (1 − α = {1 - alpha})")
print(f"test MSE {linear_mse:.2e}; predicting 0 everywhere gives {task.chance:.4f}")
results.update(
    alpha=alpha,
    linear_u=u_learned,
    linear_w=w_learned,
    linear_test_mse=linear_mse,
    chance_mse=task.chance,
)
assert abs(u_learned - alpha) < 0.05 and abs(w_learned - (1 - alpha)) < 0.05

# %% [markdown]
"""
Training recovers `u ≈ α` and `w ≈ 1 − α`, and with them the relation `u + w = 1` that
the RNN was never told about. The test loss ends more than a thousand times below that
of the best input-independent guess (predicting 0 at every step).
"""

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
batches = np.arange(len(linear_path))
ax.plot(batches, linear_path[:, 0], label="u (input weight)")
ax.plot(batches, linear_path[:, 1], label="w (recurrent weight)")
ax.axhline(alpha, color="C0", linestyle=":", label="α")
ax.axhline(1 - alpha, color="C1", linestyle=":", label="1 − α")
ax.set_xlabel("training batch")
ax.set_ylabel("weight value")
ax.set_title("The two weights during training (linear RNN)")
ax.legend(loc="right")
fig.tight_layout()
fig.savefig(OUT_DIR / "02_weights_during_training.png", dpi=100)
plt.show()

# %% [markdown]
"""
## The whole loss surface

With two weights, the loss is a function of two numbers, and we can simply evaluate it
on a grid. The function below runs the one-unit recurrence for all grid points at once
in NumPy (float64) and returns the mean squared error against the targets.
"""


# %%
def loss_surface(x, y, u_values, w_values, activation):
    """MSE of h_t = act(u·x_t + w·h_{t-1}) against y, for every (u, w) of a grid."""
    act = np.tanh if activation == "tanh" else (lambda z: z)
    u_grid, w_grid = np.meshgrid(u_values, w_values)  # shape (len(w), len(u))
    u_grid, w_grid = u_grid[..., None], w_grid[..., None]  # broadcast over sequences
    x, y = x[..., 0].astype("float64"), y[..., 0].astype("float64")
    h = np.zeros(u_grid.shape[:2] + (x.shape[0],))
    squared_error = np.zeros_like(h)
    with np.errstate(over="ignore", invalid="ignore"):  # |w| > 1 blows a linear RNN up
        for t in range(x.shape[1]):
            h = act(u_grid * x[:, t] + w_grid * h)
            squared_error += (h - y[:, t]) ** 2
    loss = squared_error.mean(axis=-1) / x.shape[1]
    return np.where(np.isfinite(loss), loss, np.inf)


u_values = np.linspace(-0.2, 1.0, 49 if FAST else 121)
w_values = np.linspace(-0.4, 1.2, 49 if FAST else 121)
x_grid, y_grid = x_test[:64], y_test[:64]
linear_surface = loss_surface(x_grid, y_grid, u_values, w_values, activation=None)
index = np.unravel_index(np.argmin(linear_surface), linear_surface.shape)
print(
    f"grid minimum of the linear surface at u = {u_values[index[1]]:.3f}, "
    f"w = {w_values[index[0]]:.3f}"
)

# %% [markdown]
"""
## What `tanh` changes

The layer's default activation is `tanh`. Train the same two weights with it, from the
same starting point, and draw its surface too.
"""

# %%
tanh_path, tanh_mse = train("tanh")
u_tanh, w_tanh = tanh_path[-1]
print(f"tanh: learned u = {u_tanh:.4f}, w = {w_tanh:.4f}; test MSE {tanh_mse:.2e}")
print(
    f"      the task counts MSE <= {task.solved_threshold:.2e} as solved: "
    f"{task.is_solved(tanh_mse)}"
)
results.update(tanh_u=u_tanh, tanh_w=w_tanh, tanh_test_mse=tanh_mse)
tanh_surface = loss_surface(x_grid, y_grid, u_values, w_values, activation="tanh")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
panels = [
    (axes[0], linear_surface, linear_path, "linear: h_t = u·x_t + w·h_{t-1}"),
    (axes[1], tanh_surface, tanh_path, "tanh: h_t = tanh(u·x_t + w·h_{t-1})"),
]
levels = np.linspace(-4.5, 1, 23)
for ax, surface, path, title in panels:
    log_loss = np.log10(np.clip(surface, 10**-4.5, 10.0))
    contours = ax.contourf(u_values, w_values, log_loss, levels=levels, cmap="viridis")
    ax.plot(u_values, 1 - u_values, "w--", linewidth=1, label="u + w = 1 (every EWMA)")
    ax.plot(path[:, 0], path[:, 1], "r.-", markersize=2, linewidth=1, label="training path")
    ax.plot(*path[0], "rs", label="start")
    ax.plot(alpha, 1 - alpha, "w*", markersize=14, label="(α, 1 − α)")
    ax.set_xlim(u_values[0], u_values[-1])
    ax.set_ylim(w_values[0], w_values[-1])
    ax.set_xlabel("u (input weight)")
    ax.set_title(title)
axes[0].set_ylabel("w (recurrent weight)")
axes[0].legend(loc="lower left", fontsize=8)
fig.colorbar(contours, ax=axes, label="log10(test MSE)")
fig.suptitle(f"Loss over the (u, w) plane on the ewma task (α = {alpha}, {task.timesteps} steps)")
fig.savefig(OUT_DIR / "02_loss_surface.png", dpi=100)
plt.show()

# %% [markdown]
"""
How to read the two surfaces:

- **Linear.** The loss has a single deep minimum at `(α, 1 − α)`, and training walks
  into it. Above `w = 1` the states grow like `w^t` and the loss explodes (the flat
  top of the color scale): a linear RNN is only stable with `|w| < 1`. Near the minimum
  the valley runs along a curve rather than a round bowl, because `u` and `w` can
  partly trade for each other (a bit more input weight with a bit less memory makes a
  similar average).
- **tanh.** Nothing explodes any more: `tanh` keeps the state in (-1, 1), so the loss
  stays finite even for `w > 1`. The minimum is still close to `(α, 1 − α)`, but not on
  it. `tanh` shrinks every state slightly (`|tanh(z)| < |z|`), and the network answers
  with a slightly larger `w` to keep a bit more of the past, as the printed weights
  show. The result is a very good approximation of the EWMA, not the EWMA itself: the
  MSE stays above the task's "solved" bar (1% of the chance level).

The approximation works here only because the average stays small (|y| is about 0.2),
where `tanh(z) ≈ z`. Scale the signal up, and `tanh` saturates: the state can never
leave (-1, 1), whatever `u` and `w` are. The surface tells us the best any pair of
weights can do, without training:
"""

# %%
for scale in (1.0, 10.0):
    surface = loss_surface(scale * x_grid, scale * y_grid, u_values, w_values, activation="tanh")
    relative = surface.min() / np.mean((scale * y_grid) ** 2)
    print(f"signal x{scale:4.0f}: best tanh MSE / MSE of predicting 0 = {relative:.3f}")
    results[f"tanh_best_relative_mse_scale_{scale:g}"] = float(relative)

# %% [markdown]
"""
At scale 1 the best `tanh` pair leaves a few percent of the variance unexplained; at
scale 10 about half of it, because the output is stuck below 1 while the targets are not.
(A real model adds a `Dense` head after the recurrent layer, which can rescale the
output; but the state itself always lives in (-1, 1).)

## Summary

- A one-unit linear RNN, `h_t = u · x_t + w · h_{t-1}`, is an exponentially weighted
  moving average when `u = α` and `w = 1 − α`; trained on EWMA targets, gradient descent
  finds these two values without being told that `u + w = 1`.
- `w` is the memory: the weight of the past shrinks like `w^t`, so `w = 1 − α = 0.9`
  means an input is still felt ~10 steps later and mostly forgotten after ~50.
- `tanh` bounds the state, which makes the loss surface safe for `|w| ≥ 1`, but it
  also bends the recurrence: the best weights shift, and large signals saturate.

The project also runs this as a tracked experiment, with `u` and `w` logged to MLflow
at every epoch and the same surface drawn from the logs:
`make experiment NAME=two_weights` (see lesson 4 for how to browse
the results).

Next: [lesson 3](03_going_deep.py) stacks vanilla layers on top of each other.
"""

# %%
(OUT_DIR / "02_results.json").write_text(json.dumps(results, indent=2))
print(f"The numbers this lesson claims: {OUT_DIR / '02_results.json'}")
