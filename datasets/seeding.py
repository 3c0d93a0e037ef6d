"""Seeds and argument checks shared by every task and stream (NumPy only).

Seeding (so that train, validation and test never share a stream):

- `task.sample(n, seed=s)` draws from `SeedSequence([SAMPLE_DOMAIN, s])`.
- `task.dataset(batch_size, steps_per_epoch, seed=s)` draws batch `i` of epoch
  `e` from `SeedSequence([STREAM_DOMAIN, s, e, i])`.
- `task.fixed_set(n, seed=s, batch_size=b)` (a fixed validation or test set,
  streamed) draws its batch `i` from `SeedSequence([FIXED_DOMAIN, s, b, i])`.
- `split_seed(seed, "train" | "val" | "test")` hashes a run seed into three
  unrelated 63-bit seeds; `task.split_seeds` holds them for `task.seed`.

The domain word comes first, so a sampled set and a streamed batch can never
coincide even when the caller passes the same integer to both.
"""

import numbers

import numpy as np


class TaskParameterError(ValueError):
    """A task parameter that cannot be used; `parameter` names it (e.g. `length`)."""

    def __init__(self, parameter, message):
        super().__init__(message)
        self.parameter = parameter


SPLITS = ("train", "val", "test")

# First word of every SeedSequence entropy: keeps the seed domains apart.
# (SeedSequence pads short entropy with zeros, so [s] == [s, 0]; a leading
# domain word that differs between domains rules such collisions out.)
SAMPLE_DOMAIN = 0x5A3D1E
STREAM_DOMAIN = 0x57AE4D
SPLIT_DOMAIN = 0x5B117A
FIXED_DOMAIN = 0x5F1DED


def check_int(value, name, *, minimum=1):
    """Returns `value` as a Python int, or raises a `ValueError` that says why.

    Booleans are refused (`True` is an int in Python, but never a length).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TaskParameterError(
            name,
            f"`{name}` must be an integer >= {minimum}; received {value!r} "
            f"of type {type(value).__name__}. Pass a whole number such as "
            f"{max(minimum, 10)}.",
        )
    value = int(value)
    if value < minimum:
        raise TaskParameterError(
            name, f"`{name}` must be an integer >= {minimum}; received {value}."
        )
    return value


def check_seed(seed, name="seed"):
    """Returns a non-negative int seed or raises a `ValueError`."""
    return check_int(seed, name, minimum=0)


def generator(*words):
    """A NumPy `Generator` seeded by a fixed-length tuple of integers."""
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


def split_seed(seed, split):
    """Derives the seed of one data split from a run seed.

    Args:
        seed: the run seed (non-negative int).
        split: `"train"`, `"val"` or `"test"`.

    Returns:
        A non-negative int below 2**63, unrelated to `seed` and to the other
        splits' seeds (a hash through `numpy.random.SeedSequence`).

    Example:

    ```pycon
    >>> task = datasets.make("adding", length=100, seed=3)
    >>> x_val, y_val = task.sample(1000, seed=datasets.split_seed(3, "val"))
    ```
    """
    seed = check_seed(seed)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}. Known splits: {', '.join(SPLITS)}.")
    state = np.random.SeedSequence([SPLIT_DOMAIN, seed, SPLITS.index(split)]).generate_state(
        1, np.uint64
    )[0]
    return int(state >> np.uint64(1))
