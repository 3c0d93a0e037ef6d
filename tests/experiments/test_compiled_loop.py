"""The compiled loop takes the updates Keras takes, and a seed in a group those it takes alone.

Each epoch here is one update (`steps_per_epoch=1`), so the epoch logs are the losses of
the first 20 updates. The reference is Keras's own step (`train_on_batch`, what `fit`
runs) on the same batches; TensorFlow and JAX both run this file
(`test_the_compiled_loop_tests_pass_under_jax`).
"""

import dataclasses
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import datasets
from experiments.config import Hyperparameters
from experiments.config.grid import GridPoint
from experiments.models import build_model
from experiments.training import programs
from experiments.training.programs import stack

UPDATES = 20
HP = Hyperparameters(units=4, batch_size=8, steps_per_epoch=1, lr=1e-2, jit_compile=True)


def _setup(kind="vanilla", task_name="adding", length=6, hp=HP):
    task = datasets.make(task_name, length=length, seed=0)
    point = GridPoint(0, "t", {}, task_name, kind, kind, length, 0, hp, {})
    stream = task.dataset(hp.batch_size, hp.steps_per_epoch, seed=task.split_seeds["train"])
    return task, point, stream


def _train(program, seeds, kind, task, stream, active_at=None, poison=None, rates=None):
    """Trains members (one per seed, at `rates`: HP.lr by default) for UPDATES epochs;
    returns per-member loss lists and trained weights."""
    models = [build_model(kind, HP, task, seed=seed) for seed in seeds]
    program.start(models, rates or [HP.lr] * len(seeds))
    losses = [[] for _ in seeds]
    for epoch in range(UPDATES):
        active = [True] * len(seeds) if active_at is None else active_at(epoch)
        batches = [stream.epoch_arrays(epoch) for _ in seeds]
        if poison is not None:  # a member's data turned to NaN: its loss diverges
            batches[poison] = tuple(np.full_like(part, np.nan) for part in batches[poison])
        logs = program.train_epoch(stack(batches), active)
        for member, value in enumerate(logs["loss"]):
            losses[member].append(float(value))
    return losses, [program.state(m)[0] for m in range(len(seeds))]


@pytest.mark.parametrize("kind", ["vanilla", "lstm"])
def test_an_epoch_program_takes_the_updates_keras_takes(kind):
    task, point, stream = _setup(kind)
    program = programs.make_program(point, task, 1, HP.jit_compile)
    (losses,), (weights,) = _train(program, [0], kind, task, stream)
    reference = build_model(kind, HP, task, seed=0)
    expected = []
    for epoch in range(UPDATES):
        x, y = stream.epoch_arrays(epoch)[:2]  # one step: the epoch's only batch
        expected.append(float(reference.train_on_batch(x[0], y[0], return_dict=True)["loss"]))
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    for ours, theirs in zip(weights, reference.trainable_variables):
        np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), rtol=1e-4, atol=1e-6)


def test_a_seed_in_a_group_reproduces_itself_alone():
    task, point, stream = _setup()
    seeds = [0, 1, 2]
    group = programs.make_program(point, task, len(seeds), HP.jit_compile)
    grouped, grouped_weights = _train(group, seeds, "vanilla", task, stream)
    alone = programs.make_program(point, task, 1, HP.jit_compile)
    for member, seed in enumerate(seeds):
        (losses,), (weights,) = _train(alone, [seed], "vanilla", task, stream)
        np.testing.assert_allclose(grouped[member], losses, rtol=1e-5)
        for ours, theirs in zip(grouped_weights[member], weights):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert grouped[0] != grouped[1]  # three seeds, three trajectories


def test_seeds_and_rates_share_one_program_and_each_member_trains_as_alone():
    """A cell's seeds x rates in one program (one compile): each member's losses and
    weights are those of its own seed and rate trained alone, in a program built for its
    rate, step for step."""
    task, point, stream = _setup()
    members = [(0, 1e-2), (0, 3e-3), (1, 1e-3), (1, 3e-2)]
    seeds, rates = [s for s, _ in members], [r for _, r in members]
    group = programs.make_program(point, task, len(members), HP.jit_compile)
    grouped, grouped_weights = _train(group, seeds, "vanilla", task, stream, rates=rates)
    for member, (seed, rate) in enumerate(members):
        own = dataclasses.replace(HP, lr=rate)
        alone_point = dataclasses.replace(point, hyperparameters=own)
        alone = programs.make_program(alone_point, task, 1, HP.jit_compile)
        assert alone is programs.make_program(point, task, 1, HP.jit_compile)  # one compile
        (losses,), (weights,) = _train(alone, [seed], "vanilla", task, stream, rates=[rate])
        np.testing.assert_allclose(grouped[member], losses, rtol=1e-5)
        for ours, theirs in zip(grouped_weights[member], weights):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert grouped[0] != grouped[1]  # one seed, two rates, two trajectories


def test_a_member_rate_is_the_rate_keras_trains_with():
    task, point, stream = _setup()
    program = programs.make_program(point, task, 1, HP.jit_compile)
    rate = 3e-3  # not the template's 1e-2
    (losses,), _ = _train(program, [0], "vanilla", task, stream, rates=[rate])
    reference = build_model("vanilla", dataclasses.replace(HP, lr=rate), task, seed=0)
    expected = []
    for epoch in range(UPDATES):
        x, y = stream.epoch_arrays(epoch)[:2]
        expected.append(float(reference.train_on_batch(x[0], y[0], return_dict=True)["loss"]))
    np.testing.assert_allclose(losses, expected, rtol=1e-5)


def test_a_stopped_member_stops_changing_and_a_diverging_one_disturbs_no_other():
    task, point, stream = _setup()
    seeds = [0, 1, 2]
    group = programs.make_program(point, task, len(seeds), HP.jit_compile)
    # Member 1 stops after 5 updates; member 2 sees NaN data from the start.
    losses, weights = _train(
        group, seeds, "vanilla", task, stream, active_at=lambda e: [True, e < 5, True], poison=2
    )
    alone = programs.make_program(point, task, 1, HP.jit_compile)
    (solo_losses,), (solo_weights,) = _train(alone, [0], "vanilla", task, stream)
    np.testing.assert_allclose(losses[0], solo_losses, rtol=1e-5)
    (first_five,), (stopped_weights,) = _train(
        alone, [1], "vanilla", task, stream, active_at=lambda e: [e < 5]
    )
    np.testing.assert_allclose(losses[1][:5], first_five[:5], rtol=1e-5)
    for ours, theirs in zip(weights[1], stopped_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert np.isnan(losses[2]).all()
    assert all(np.isfinite(w).all() for w in weights[0] + weights[1])


def test_a_program_takes_epochs_of_any_length():
    """One program, epochs of 1, 3 and 2 steps (a retrace relaxes the step count): each
    epoch's loss is the mean of the steps Keras takes on the same batches."""
    task, point, _ = _setup()
    program = programs.make_program(point, task, 1, HP.jit_compile)
    program.start([build_model("vanilla", HP, task, seed=0)], [HP.lr])
    reference = build_model("vanilla", HP, task, seed=0)
    for steps in (1, 3, 2):
        x, y = task.dataset(HP.batch_size, steps, seed=steps).epoch_arrays(0)[:2]
        loss = program.train_epoch(stack([(x, y)]), [True])["loss"][0]
        expected = [
            reference.train_on_batch(x[i], y[i], return_dict=True)["loss"] for i in range(steps)
        ]
        np.testing.assert_allclose(loss, np.mean(expected), rtol=1e-5)


def test_evaluation_matches_keras_evaluate():
    task, point, stream = _setup()
    program = programs.make_program(point, task, 1, HP.jit_compile)
    model = build_model("vanilla", HP, task, seed=3)
    program.start([model], [HP.lr])
    fixed = task.fixed_set(20, seed=5, batch_size=8)  # 8 + 8 + 4: a short last batch
    ours = program.evaluate([stack([batch]) for batch in fixed.batches()])
    theirs = model.evaluate(fixed, return_dict=True, verbose=0)
    assert ours["loss"][0] == pytest.approx(theirs["loss"], rel=1e-5)
    assert ours["mse"][0] == pytest.approx(theirs["mse"], rel=1e-5)


def test_programs_are_kept_per_shape_and_group_size():
    task, point, _ = _setup()
    first = programs.make_program(point, task, 2, HP.jit_compile)
    assert programs.make_program(point, task, 2, HP.jit_compile) is first
    assert programs.make_program(point, task, 1, HP.jit_compile) is not first
    longer_task, longer_point, _ = _setup(length=7)
    assert programs.make_program(longer_point, longer_task, 2, HP.jit_compile) is not first


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="runs the file under JAX")
@pytest.mark.integration
def test_the_compiled_loop_tests_pass_under_jax():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": root}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
    assert result.returncode == 0, tail
    assert " passed" in tail and "skipped" in tail  # this test itself skips under JAX
