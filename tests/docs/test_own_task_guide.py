"""The "Your own task" guide (docs/guides/own_task.md) works as written.

The guide's code blocks are taken from the page itself, by the file they say they are:
the task module (`# datasets/echo.py`) is run as a module, registered as step 3 of the
guide registers it (here by patching the registry for the test, not by editing
`datasets/__init__.py`), and then

- step 4's check, as printed on the page, runs;
- the task keeps the contract the other tasks keep (the generic checks of
  `tests/datasets/`), and its constants are what a measurement gives: the constant
  predictor scores `chance` and its loss is `baseline_loss`; the predictor that reads
  step 0 is solved;
- a Keras model trains on it through the task's own stream, loss and metrics, and learns
  (its validation MSE falls far below chance at a short length);
- the config of step 6 loads through the lab's config loader, and every grid point of its
  profiles builds its task.

A guide whose example is broken, or no longer fits the contract, fails here.
"""

import os
import pathlib
import re
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import datasets

GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guides" / "own_task.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def guide_block(first_line):
    """The code block of the guide whose first line is `first_line`."""
    blocks = [code for _, code in BLOCK.findall(GUIDE.read_text())]
    found = [code for code in blocks if code.splitlines()[0].strip() == first_line]
    assert len(found) == 1, f"the guide has {len(found)} blocks starting {first_line!r}"
    return found[0]


def guide_check_block():
    """Step 4's block: the Python block that calls `datasets.make("echo", ...)`."""
    blocks = [code for lang, code in BLOCK.findall(GUIDE.read_text()) if lang == "python"]
    found = [code for code in blocks if 'datasets.make("echo"' in code]
    assert len(found) == 1, "the guide's step 4 (datasets.make('echo', ...)) is missing"
    return found[0]


@pytest.fixture
def echo(monkeypatch):
    """The guide's task module, registered as step 3 says; returns the class."""
    module = types.ModuleType("datasets.echo")
    module.__file__ = str(GUIDE)
    exec(compile(guide_block("# datasets/echo.py"), "datasets/echo.py", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "datasets.echo", module)
    cls = module.Echo
    monkeypatch.setitem(datasets._TASK_CLASSES, cls.name, cls)
    monkeypatch.setattr(datasets, "TASKS", (*datasets.TASKS, cls.name))
    return cls


def test_the_guide_registers_the_class_it_defines():
    registration = guide_block("from datasets.echo import Echo")
    assert "Echo" in registration.split("_TASK_CLASSES", 1)[1]
    # The registry the guide edits is the one `datasets/__init__.py` really has.
    assert set(datasets._TASK_CLASSES) == set(datasets.TASKS)


def test_step_4_runs_as_printed(echo, capsys):
    exec(compile(guide_check_block(), "own_task.md step 4", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("echo(length=20, scale=1.0): recall the first")
    assert printed[1] == "(4096, 21, 1) float32 (4096, 1) float32"
    assert printed[-1] == "True False"


def test_the_task_keeps_the_contract(echo):
    task = datasets.make("echo", length=9, seed=3)
    assert isinstance(task, echo) and task.name in datasets.TASKS
    x, y = task.sample(7)
    assert x.dtype == np.float32 and x.shape == (7, task.timesteps, task.input_dim)
    assert y.dtype == np.float32 and y.shape == (7, task.output.units)
    assert task.output == datasets.Output("regression", per_step=False, units=1)
    np.testing.assert_array_equal(y, x[:, :1, 0])  # the target is step 0's number
    again, _ = datasets.make("echo", length=9, seed=3).sample(7)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, task.sample(7, seed=4)[0])
    assert task.metrics()[0].name == task.metric and task.loss is not task.loss
    assert task.is_solved(task.solved_threshold) and not task.is_solved(task.chance)
    assert "\n" not in task.describe() and task.sample_weight(7) is None
    with pytest.raises(datasets.TaskParameterError, match="scale must be a number > 0"):
        datasets.make("echo", length=5, scale=0)
    with pytest.raises(datasets.TaskParameterError, match="Its parameters are: scale"):
        datasets.make("echo", length=5, alpha=0.1)


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_chance_and_baseline_are_what_a_measurement_gives(echo, scale):
    task = datasets.make("echo", length=4, seed=0, scale=scale)
    _, y = task.sample(200_000, seed=1)
    constant = np.zeros_like(y)  # the best input-independent prediction, E[x_0]
    assert np.mean((y - constant) ** 2) == pytest.approx(task.chance, rel=0.01)
    assert float(task.loss(y, constant)) == pytest.approx(task.baseline_loss, rel=0.01)
    assert task.solved_threshold < task.chance / 10


def test_a_vanilla_rnn_learns_it_through_the_tasks_own_stream(echo):
    import keras

    from rnn_layers import VanillaRNN

    keras.utils.set_random_seed(0)
    task = datasets.make("echo", length=3, seed=0)
    model = keras.Sequential([keras.Input((None, 1)), VanillaRNN(16), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), loss=task.loss, metrics=task.metrics())
    validation = task.fixed_set(512, seed=task.split_seeds["val"])
    history = model.fit(
        task.dataset(batch_size=32, steps_per_epoch=100),
        epochs=4,
        validation_data=validation,
        verbose=0,
    )
    val_mse = history.history[f"val_{task.metric}"]
    assert val_mse[-1] < task.chance / 10, val_mse  # learned: far below chance


def test_the_config_of_step_6_loads_and_builds_every_grid_point(echo, tmp_path):
    from experiments import config as experiment_config

    (tmp_path / "echo.yaml").write_text(guide_block("# experiments/configs/echo.yaml"))
    for profile in ("smoke", "quick", "full"):
        config = experiment_config.load_config("echo", profile, config_dir=tmp_path)
        points = experiment_config.expand_grid(config)
        assert points and {point.task for point in points} == {"echo"}
        for point in points:
            task = datasets.make(
                point.task, length=point.length, seed=point.seed, **point.task_params
            )
            assert task.timesteps == point.length + 1
    assert [p.name for p in points][:2] == ["vanilla-L5-s0", "vanilla-L5-s1"]
