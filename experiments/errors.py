"""The errors the runner raises, each kind its own type, and how one is shown in one line.

Callers decide what to do from the type, never from the message text:

- `InputError` (a `ValueError`): what the user gave cannot be used (a flag, a name, an
  address); the command line shows its one line and exits 2. Any other exception is a
  bug of ours and keeps its traceback.
- `ConfigError` (an `InputError`): a config file, profile or `--set` that cannot be used.
- `TrackingError`: the tracking store cannot be used (broken `mlflow.yaml`, a server that
  does not answer, a database that is not writable).
- `StoreUnavailable` (a `TrackingError`): a tracking server did not answer for longer
  than the outage window (`outage_window_s` in `mlflow.yaml`).
- `DiskFull`: no space left on the disk of a folder the runner writes (the artifact root,
  the TensorBoard root): the sweep stops, since every run would fail the same way.
- `SweepBusy`: another driver runs this sweep on this store.
- `SweepFailed`: the driver could not go on (its store failed under it).
- `SweepInterrupted`: Ctrl-C or SIGTERM, once the runs in flight are marked KILLED.

The failure policy is one function, `sweep_stopper`: whether an error met while training
stops the whole sweep, or fails only the grid points that met it.
"""

import errno

# The errors of a write that found its disk (or the user's quota on it) full.
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class InputError(ValueError):
    """What the user gave (a flag, a name, an address, a value) cannot be used."""


class ConfigError(InputError):
    """A config file, profile or `--set` override that cannot be used."""


class TrackingError(RuntimeError):
    """The tracking store cannot be used (broken `mlflow.yaml`, unreachable server)."""


class StoreUnavailable(TrackingError):
    """A tracking server did not answer for longer than the outage window."""


class DiskFull(RuntimeError):
    """No space left on the disk of `path` (a file or folder the runner was writing).

    Args:
        path: what was being written when the disk was full.
        error: the one-line error (`one_line`) of the failed write.
    """

    def __init__(self, path, error):
        super().__init__(path, error)  # both in `args`: it pickles across processes
        self.path = path
        self.error = error

    def __str__(self):
        return f"no space left on the disk of {self.path} ({self.error})"


class SweepBusy(RuntimeError):
    """Another driver is running this sweep on this store."""


class SweepFailed(RuntimeError):
    """The driver could not go on (its tracking store failed under it): one line to show."""


class SweepInterrupted(Exception):
    """Raised by the driver after Ctrl-C / SIGTERM, once the runs are marked KILLED."""

    def __init__(self, signum, message):
        super().__init__(message)
        self.signum = signum


def one_line(error, limit=300):
    """`Type: first line of the message`, at most `limit` characters of message.

    What a progress line, a tag or a one-line stop shows of an exception; its traceback
    goes to a file or an artifact beside it.
    """
    lines = str(error).strip().splitlines()
    message = lines[0][:limit] if lines else ""
    name = type(error).__name__
    return f"{name}: {message}" if message else name


def causes(error):
    """`error` and the errors behind it (`__cause__`, `__context__`, and Ray's `cause`)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__ or getattr(error, "cause", None)


def find_cause(error, kind):
    """The first error of type `kind` behind `error` (itself included), or None."""
    return next((e for e in causes(error) if isinstance(e, kind)), None)


def written_path(error):
    """The file an `OSError` was writing: a copy's destination, else its one file."""
    return getattr(error, "filename2", None) or getattr(error, "filename", None)


def no_space(error):
    """The failed write behind `error` when its disk was full: a `DiskFull`, or an
    `OSError` with errno ENOSPC / EDQUOT; else None."""
    for cause in causes(error):
        if isinstance(cause, DiskFull):
            return cause
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return cause
    return None


def sweep_stopper(error):
    """The error behind `error` that stops the whole sweep, or None.

    Two failures are the sweep's, whichever grid point met them, since every other point
    would meet them too: a tracking server that did not answer for the outage window
    (`StoreUnavailable`: nothing can be written, the driver marks the runs once it can)
    and a full disk (`DiskFull`, or an `OSError` ENOSPC / EDQUOT, returned as a `DiskFull`
    naming what was written). Any other error is the grid point's own: its run fails
    with its traceback and the sweep goes on.
    """
    gone = find_cause(error, StoreUnavailable)
    if gone is not None:
        return gone
    full = no_space(error)
    if full is None or isinstance(full, DiskFull):
        return full
    return DiskFull(written_path(full) or "a file", one_line(full))
