"""The errors the runner raises, each kind its own type, and how one is shown in one line.

Callers decide what to do from the type, never from the message text:

- `ConfigError` (a `ValueError`): a config file, profile or `--set` that cannot be used.
- `TrackingError`: the tracking store cannot be used (broken `mlflow.yaml`, a server that
  does not answer, a database that is not writable).
- `SweepBusy`: another driver runs this sweep on this store.
- `SweepFailed`: the driver could not go on (its store failed under it).
- `SweepInterrupted`: Ctrl-C or SIGTERM, once the runs in flight are marked KILLED.
"""


class ConfigError(ValueError):
    """A config file, profile or `--set` override that cannot be used."""


class TrackingError(RuntimeError):
    """The tracking store cannot be used (broken `mlflow.yaml`, unreachable server)."""


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
