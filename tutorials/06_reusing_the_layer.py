# %% [raw]
"""
Title: Reusing the layer in your own Keras models
Author: vanilla-rnn-lab contributors
Date created: 2026/11/26
Last modified: 2026/11/26
Description: VanillaRNN in Sequential and Functional models, with masking and Bidirectional, saved to .keras and loaded back, and as a drop-in for a trained SimpleRNN.
"""

# %% [markdown]
"""
## Introduction

`rnn_layers.VanillaRNN` is an ordinary Keras 3 layer. It takes the same arguments as
`keras.layers.SimpleRNN`, holds the same weights under the same names, and computes the
same outputs; it is written with `keras.ops` only, so it runs on the TensorFlow, JAX and
PyTorch backends. It differs in how it computes: the input term `x_t · U + b` of all
steps is one matrix product before the time loop, which leaves only `h · W` inside it.

This lesson is a tour of the everyday uses:

1. in a `Sequential` model;
2. in the Functional API, with the state of every step and the final state;
3. on padded variable-length sequences, with masking;
4. inside `keras.layers.Bidirectional`;
5. saved to a `.keras` file and loaded back;
6. as a drop-in replacement for a trained `SimpleRNN`, weights included.

**Expected output:** every printed difference is below `1e-5` (padded vs unpadded
sequences, Bidirectional vs two hand-run layers, saved vs loaded model, SimpleRNN vs
VanillaRNN), the file `06_model.keras`, and the figure `06_training_curves.png`, on which
the training curves of a SimpleRNN model and of the same model built with VanillaRNN lie
on top of each other.
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
from rnn_layers import VanillaRNN, VanillaRNNCell

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
results = {}


def max_abs_diff(a, b):
    return float(np.max(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b))))


# %% [markdown]
"""
## A `Sequential` model

The data: the *adding problem* from the project's tasks. Each sequence has two
channels, random numbers and a marker that flags exactly two of them; the target is the
sum of the two flagged numbers. The sequences here are 20 steps long, and we train for
three epochs only: enough to watch the loss go below that of always predicting the
average sum (1/6), not to solve the task (lesson 4 does that properly).
"""

# %%
task = datasets.make("adding", length=20, seed=0)
print(task.describe())
x_train, y_train = task.sample(2048, seed=task.split_seeds["train"])
x_val, y_val = task.sample(512, seed=task.split_seeds["val"])

model = keras.Sequential(
    [
        keras.Input((None, task.input_dim)),  # any length, 2 features
        VanillaRNN(32),  # returns the last state, (batch, 32)
        keras.layers.Dense(1),  # the predicted sum
    ]
)
model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse")
model.summary()
history = model.fit(
    x_train, y_train, validation_data=(x_val, y_val), batch_size=32, epochs=3, verbose=2
)
print(
    f"validation MSE {history.history['val_loss'][-1]:.4f} "
    f"(predicting the mean gives {task.chance:.4f})"
)

# %% [markdown]
"""
## The Functional API: every step, and the final state

`return_sequences=True` returns the state after every step, `(batch, steps, units)`,
which is what you feed to another recurrent layer or to a per-step head.
`return_state=True` adds the final state as a second output. `initial_state` starts the
recurrence from a state of your choice instead of zeros, here computed from a second
input (say, a summary of a context the sequence belongs to).
"""

# %%
sequence_in = keras.Input((None, 2), name="sequence")
context_in = keras.Input((5,), name="context")
start_state = keras.layers.Dense(16, activation="tanh")(context_in)
every_step, final_state = VanillaRNN(16, return_sequences=True, return_state=True)(
    sequence_in, initial_state=start_state
)
per_step_prediction = keras.layers.Dense(1, name="per_step")(every_step)
summary_prediction = keras.layers.Dense(1, name="summary")(final_state)
functional = keras.Model([sequence_in, context_in], [per_step_prediction, summary_prediction])

per_step, summary = functional([x_val[:4], rng.normal(size=(4, 5)).astype("float32")])
print("per-step output", tuple(per_step.shape), " summary output", tuple(summary.shape))

# %% [markdown]
"""
For stacks, `DeepVanillaRNN` (lesson 3) does the wiring; it is the same as chaining
`VanillaRNN(..., return_sequences=True)` layers by hand.

## Masking: sequences of different lengths

A batch is one array, so shorter sequences are padded, usually with zeros. A mask tells
the recurrent layer which steps are padding: at a masked step it **keeps the previous
state** instead of updating it, so the padding leaves no trace. A
`keras.layers.Masking` layer (or an `Embedding(mask_zero=True)`) creates the mask, and
Keras passes it to the next layers automatically.

Check: the final state for a sequence of 7 real steps, padded to 12, equals the final
state of the same 7 steps without padding.
"""

# %%
masked_rnn = VanillaRNN(8)
masked = keras.Sequential(
    [keras.Input((None, 2)), keras.layers.Masking(mask_value=0.0), masked_rnn]
)

real_steps = rng.normal(size=(1, 7, 2)).astype("float32")
padded = np.concatenate([real_steps, np.zeros((1, 5, 2), "float32")], axis=1)  # 12 steps
difference = max_abs_diff(masked(padded), masked_rnn(real_steps))
print(f"max |padded with mask - unpadded| = {difference:.2e}")
unmasked_difference = max_abs_diff(masked_rnn(padded), masked_rnn(real_steps))
print(f"without the mask the padding changes the result by {unmasked_difference:.3f}")
results["masking_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
Padding at the end is the usual choice. (Post-padding and pre-padding both work with a
mask; without a mask, pre-padding does less damage, since zeros before the real steps
only delay the start.)

## Bidirectional

`keras.layers.Bidirectional` runs one copy of the layer forward in time and one
backward (`go_backwards=True`), and concatenates their outputs. Each output step then
summarizes both the past and the future of the sequence, useful when the whole sequence
is available at prediction time (tagging, classification), not for forecasting.
"""

# %%
bidirectional = keras.layers.Bidirectional(VanillaRNN(8))
sequences = rng.normal(size=(3, 10, 2)).astype("float32")
both = bidirectional(sequences)
print("Bidirectional output", tuple(both.shape), "= 8 forward units + 8 backward units")

forward = VanillaRNN(8)
backward = VanillaRNN(8, go_backwards=True)
forward.build(sequences.shape)
backward.build(sequences.shape)
forward.set_weights(bidirectional.forward_layer.get_weights())
backward.set_weights(bidirectional.backward_layer.get_weights())
by_hand = np.concatenate([forward(sequences), backward(sequences)], axis=-1)
difference = max_abs_diff(both, by_hand)
print(f"max |Bidirectional - forward and backward layers by hand| = {difference:.2e}")
results["bidirectional_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## Saving and loading

The layers are registered with Keras's serialization (package `rnn_layers`), so a model
containing them saves to the `.keras` format and loads back with
`keras.saving.load_model(path)`: no `custom_objects`, as long as `rnn_layers` has been
imported (that import is what registers the classes). `safe_mode=True`, the default,
works because nothing in the file is a Python lambda.
"""

# %%
path = OUT_DIR / "06_model.keras"
model.save(path)
restored = keras.saving.load_model(path)
difference = max_abs_diff(model.predict(x_val, verbose=0), restored.predict(x_val, verbose=0))
print(
    f"saved {path.name} ({path.stat().st_size} bytes); max |original - loaded| = {difference:.2e}"
)
print("layer classes after loading:", [type(layer).__name__ for layer in restored.layers])
results["save_load_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## Porting a `SimpleRNN` model

`VanillaRNN` stores `kernel` (U), `recurrent_kernel` (W) and `bias` (b) in the same
shapes and order as `SimpleRNN`, so `get_weights()` of one fits `set_weights()` of the
other. Build the same architecture twice, once with each layer, and copy the weights.
"""


# %%
def adding_model(recurrent_layer):
    return keras.Sequential(
        [keras.Input((None, task.input_dim)), recurrent_layer, keras.layers.Dense(1)]
    )


simple_model = adding_model(keras.layers.SimpleRNN(32))
vanilla_model = adding_model(VanillaRNN(32))
vanilla_model.set_weights(simple_model.get_weights())  # every weight, head included
difference = max_abs_diff(
    simple_model.predict(x_val, verbose=0), vanilla_model.predict(x_val, verbose=0)
)
print(f"max |SimpleRNN model - VanillaRNN model| = {difference:.2e}")
results["port_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
Since the two models compute the same function from the same weights, they also train
the same way: fit both from these identical starting weights on the same batches, and
the loss curves coincide up to float32 rounding.
"""

# %%
epochs = 3 if FAST else 10
curves = {}
for name, candidate in [("SimpleRNN", simple_model), ("VanillaRNN", vanilla_model)]:
    keras.utils.set_random_seed(1)  # the same batch order for both
    candidate.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse")
    fitted = candidate.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        batch_size=32,
        epochs=epochs,
        verbose=0,
    )
    curves[name] = fitted.history["val_loss"]
    print(f"{name:10s} validation MSE per epoch: {np.round(curves[name], 4)}")
results["curves_max_abs_diff"] = float(np.max(np.abs(np.subtract(*curves.values()))))

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(
    range(1, epochs + 1),
    curves["SimpleRNN"],
    "o-",
    linewidth=4,
    alpha=0.5,
    label="keras SimpleRNN",
)
ax.plot(range(1, epochs + 1), curves["VanillaRNN"], "k.--", label="rnn_layers VanillaRNN")
ax.axhline(task.chance, color="gray", linestyle=":", label="predict the mean (1/6)")
ax.set_xlabel("epoch")
ax.set_ylabel("validation MSE")
ax.set_title("Same weights, same data: the two layers train identically")
ax.legend()
fig.tight_layout()
fig.savefig(OUT_DIR / "06_training_curves.png", dpi=100)
plt.show()

# %% [markdown]
"""
The other direction works too: `simple_model.set_weights(vanilla_model.get_weights())`.
If you only need one step at a time (custom loops, `keras.layers.StackedRNNCells`), the
cell is available as `VanillaRNNCell` and runs inside `keras.layers.RNN`:
"""

# %%
rnn_from_cell = keras.layers.RNN(VanillaRNNCell(32))
rnn_from_cell.build((None, None, task.input_dim))
rnn_from_cell.set_weights(vanilla_model.layers[0].get_weights())
difference = max_abs_diff(rnn_from_cell(x_val[:8]), vanilla_model.layers[0](x_val[:8]))
print(f"max |RNN(VanillaRNNCell) - VanillaRNN| = {difference:.2e}")
results["cell_max_abs_diff"] = difference
assert difference < 1e-5

# %% [markdown]
"""
## Summary

- `VanillaRNN` drops into `Sequential` and Functional models like any Keras layer, with
  `return_sequences`, `return_state` and `initial_state` as in `SimpleRNN`.
- Masked steps carry the state over, so padded batches give the same result as the
  unpadded sequences.
- It works inside `Bidirectional`, and saves to / loads from `.keras` without
  `custom_objects` once `rnn_layers` is imported.
- `simple_rnn.get_weights()` fits `VanillaRNN.set_weights()` and back: port a trained
  model in one line, and expect identical outputs and identical training.

Other arguments shared with `SimpleRNN` that this tour did not show: `dropout` and
`recurrent_dropout`, regularizers and constraints, `stateful=True` with
`reset_state()`, `unroll=True`, and mixed precision policies.
"""

# %%
(OUT_DIR / "06_results.json").write_text(json.dumps(results, indent=2))
print(f"The numbers this lesson claims: {OUT_DIR / '06_results.json'}")
