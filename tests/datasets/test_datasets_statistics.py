"""The analytic chance levels match the empirical best input-independent predictor.

Every check fits the best input-independent predictor on 20k sampled
sequences (per-step majority class / per-step mean) and compares its score
with `task.chance` (and the classification cross-entropy with
`task.baseline_loss`).
"""

import math

import numpy as np
import pytest

import datasets

N = 20_000


def best_constant_accuracy(targets, scored):
    """Accuracy of the per-step majority class over the scored steps (targets (n, T) or (n,))."""
    targets = targets.reshape(len(targets), -1)[:, scored]
    num_classes = targets.max() + 1
    counts = np.stack([(targets == c).sum(axis=0) for c in range(num_classes)])  # (K, steps)
    return counts.max(axis=0).sum() / targets.size


def best_constant_cross_entropy(targets, weights):
    """Weighted mean CE of the per-step empirical class distribution (targets (n, T))."""
    num_classes = targets.max() + 1
    total = 0.0
    for t in range(targets.shape[1]):
        if weights[t] == 0:
            continue
        freq = np.bincount(targets[:, t], minlength=num_classes) / len(targets)
        nonzero = freq[freq > 0]
        total += weights[t] * -(nonzero * np.log(nonzero)).sum()
    return total / weights.sum()


@pytest.mark.parametrize(
    "name, length, params",
    [
        ("delayed_recall", 5, {"alphabet_size": 4, "sequence_length": 15}),
        ("copy_memory", 20, {}),
        ("first_symbol", 30, {"alphabet_size": 3}),
        ("temporal_order", 30, {}),
    ],
)
def test_classification_chance_matches_majority_predictor(name, length, params):
    task = datasets.make(name, length=length, **params)
    _, targets = task.sample(N, seed=1)
    if name == "delayed_recall":
        scored = task.step_weights > 0
    elif name == "copy_memory":
        scored = task.recall_steps > 0
    else:
        scored = np.ones(1, dtype=bool)
    accuracy = best_constant_accuracy(targets, scored)
    assert accuracy == pytest.approx(task.chance, rel=0.05)


@pytest.mark.parametrize(
    "name, length, params",
    [
        ("delayed_recall", 5, {"alphabet_size": 4, "sequence_length": 15}),
        ("copy_memory", 20, {}),
        ("copy_memory", 3, {"alphabet_size": 5, "copy_length": 4}),
    ],
)
def test_per_step_cross_entropy_baseline(name, length, params):
    task = datasets.make(name, length=length, **params)
    _, targets = task.sample(N, seed=2)
    weights = task.step_weights if task.step_weights is not None else np.ones(task.timesteps)
    assert best_constant_cross_entropy(targets, weights) == pytest.approx(
        task.baseline_loss, rel=0.02
    )


def test_copy_memory_baseline_is_papers_formula():
    for length in (1, 100, 500):
        task = datasets.make("copy_memory", length=length)
        assert task.timesteps == length + 20
        assert task.baseline_loss == pytest.approx(10 * math.log(8) / (length + 20))
        assert task.chance == pytest.approx(1 / 8)


@pytest.mark.parametrize("length", [2, 3, 50, 201])
def test_adding_constant_predictor_mse(length):
    task = datasets.make("adding", length=length)
    _, targets = task.sample(N, seed=3)
    best = targets.mean()
    assert best == pytest.approx(1.0, abs=0.02)
    assert np.mean((targets - best) ** 2) == pytest.approx(task.chance, rel=0.04)
    # The fixed predictor 1.0 of the papers gives the same value.
    assert np.mean((targets - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.04)


@pytest.mark.parametrize("length, alpha", [(1, 0.1), (7, 0.5), (60, 0.1), (40, 1.0), (300, 0.02)])
def test_ewma_constant_predictor_mse(length, alpha):
    task = datasets.make("ewma", length=length, alpha=alpha)
    x, y = task.sample(N, seed=4)
    per_step_mean = y.mean(axis=0, keepdims=True)
    empirical = np.mean((y - per_step_mean) ** 2)
    assert empirical == pytest.approx(task.chance, rel=0.04)
    # And per step: Var(y_t) = alpha^2 (1 - b^(2(t+1))) / (1 - b^2).
    b2 = (1 - alpha) ** 2
    t = np.arange(length)
    variance = alpha**2 * (1 - b2 ** (t + 1)) / (1 - b2) if b2 else np.ones(length)
    np.testing.assert_allclose(y[:, :, 0].var(axis=0), variance, rtol=0.1)
    np.testing.assert_allclose(x.std(), 1.0, rtol=0.02)


def test_input_distributions():
    x, _ = datasets.make("adding", length=100).sample(2000, seed=5)
    values = x[:, :, 0]
    assert 0.0 <= values.min() and values.max() < 1.0
    assert values.mean() == pytest.approx(0.5, abs=0.01)
    assert values.var() == pytest.approx(1 / 12, rel=0.03)
    # Symbol frequencies of delayed_recall are uniform.
    x, _ = datasets.make("delayed_recall", length=3, alphabet_size=5).sample(2000, seed=6)
    np.testing.assert_allclose(x.mean(axis=(0, 1)), np.full(5, 0.2), atol=0.01)
    # Classes of the sequence tasks are uniform.
    _, y = datasets.make("temporal_order", length=20).sample(N, seed=7)
    np.testing.assert_allclose(np.bincount(y) / N, np.full(4, 0.25), atol=0.015)
