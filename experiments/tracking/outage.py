"""Riding out a tracking server that stops answering for a while (a restart, a deploy).

MLflow's HTTP client retries each request a few times (`MLFLOW_HTTP_REQUEST_MAX_RETRIES`,
with backoff); past that, the request fails. A server restart takes longer than that,
so every process of a sweep that talks to a server keeps one `StoreGuard` per tracking
URI (`guard_for`), which knows whether the store answers and since when it does not:

- `StoreGuard.call(fn)`: a write that must happen before the caller goes on (a run's
  end, the driver's own writes): retried, with backoff, until the store answers, or
  `StoreUnavailable` once it has not answered for the outage window (`outage_window_s`
  in `mlflow.yaml`).
- `StoreGuard.attempt(fn)`: a write that may wait (a run's metrics while it trains):
  done now when the store answers, else left to the caller to keep (`RunLogger` keeps
  it, in order, and writes it once the store answers) without waiting.
- `GuardedClient`: an `mlflow.MlflowClient` whose every call goes through `call`.

While the store is down, at most one health check (`/health`, a few seconds at most)
is made per `PROBE_MAX_S`; nothing is retried against a store that does not answer it.
A local store (SQLite) never has an outage: its guard calls straight through, and its
errors are errors. The driver's guard says once that the store stopped answering, and
once that it answers again (`out`).
"""

import functools
import threading
import time

from experiments.errors import StoreUnavailable, TrackingError, causes
from experiments.terminal import format_seconds
from experiments.tracking.settings import TRACKING_KEYS, check_tracking_uri

DEFAULT_WINDOW_S = float(TRACKING_KEYS["outage_window_s"])
PROBE_TIMEOUT_S = 3.0
PROBE_FIRST_S = 1.0  # the first health check after a failure; then doubled up to:
PROBE_MAX_S = 10.0
# A store whose health check answers while a call keeps failing as if it did not (a
# proxy's 502, a server error retried by MLflow): the error is real after this many.
FAILURES_WHILE_ANSWERING = 3


def unreachable(error):
    """Whether `error` means the store did not answer (connection refused or reset, a
    timeout, a gateway error retried until MLflow gave up), not that it refused the call."""
    import requests
    import urllib3

    kinds = (
        ConnectionError,
        TimeoutError,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.RetryError,
        urllib3.exceptions.MaxRetryError,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.NewConnectionError,
    )
    return any(isinstance(cause, kinds) for cause in causes(error))


def store_answers(tracking_uri, timeout=PROBE_TIMEOUT_S):
    """Whether a tracking server answers its health check now (no retries)."""
    try:
        check_tracking_uri(tracking_uri, timeout=timeout)
    except TrackingError:
        return False
    return True


class StoreGuard:
    """Whether one tracking store answers, and since when it has not; see the module.

    Args:
        tracking_uri: the store; only an http(s) server can be out.
        window_s: how long an outage is ridden out before `StoreUnavailable`.
        out: a function taking the lines that say the store went away and came back,
            or None (worker processes: the driver says it).
    """

    def __init__(self, tracking_uri, window_s=DEFAULT_WINDOW_S, out=None):
        self.tracking_uri = tracking_uri
        self.window_s = float(window_s)
        self.out = out
        self.enabled = tracking_uri.startswith(("http://", "https://"))
        self.since = None  # wall time the outage began, None while the store answers
        self._next_probe = 0.0
        self._probe_every = PROBE_FIRST_S
        self._lock = threading.Lock()

    # ------------------------------------------------------------ writes
    def call(self, fn, *args, **kwargs):
        """`fn(*args, **kwargs)`, retried through an outage; its result.

        Raises:
            StoreUnavailable: the store has not answered for the window.
            What `fn` raises for any other reason.
        """
        if not self.enabled:
            return fn(*args, **kwargs)
        answering_failures = 0
        while True:
            if self.since is not None:
                self.wait_for_store()
            began = time.time()
            try:
                result = fn(*args, **kwargs)
            except Exception as error:
                if not unreachable(error):
                    raise
                if self._probe():  # it answers: a blip, or an error that looks like one
                    answering_failures += 1
                    if answering_failures >= FAILURES_WHILE_ANSWERING:
                        raise
                    time.sleep(PROBE_FIRST_S * answering_failures)
                    continue
                self.lost(began)
                continue
            self.answered()
            return result

    def attempt(self, fn, *args, **kwargs):
        """`fn(*args, **kwargs)` if the store answers; whether it was done.

        During an outage this returns False at once, but for a health check now and
        then (when one is due), so a training loop never waits for the store.

        Raises:
            StoreUnavailable: the store has not answered for the window.
            What `fn` raises for any other reason.
        """
        if not self.enabled:
            fn(*args, **kwargs)
            return True
        if self.since is not None:
            self.check()
            if not self._probe_due() or not self._probe():
                return False
        began = time.time()
        try:
            fn(*args, **kwargs)
        except Exception as error:
            if not unreachable(error):
                raise
            self.lost(began)
            return False
        self.answered()
        return True

    # ------------------------------------------------------------ state
    def check(self):
        """Raises `StoreUnavailable` once the store has not answered for the window."""
        since = self.since
        if since is not None and time.time() - since >= self.window_s:
            raise StoreUnavailable(self.unavailable_message(since))

    def wait_for_store(self, timeout=None):
        """Waits until the store answers its health check; whether it did.

        Args:
            timeout: seconds to wait; None: until the outage window ends, then raise.

        Raises:
            StoreUnavailable: (timeout None) the window ended first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if deadline is None:
                self.check()
            elif time.monotonic() >= deadline:
                return False
            if self._probe():
                return True
            pause = self._probe_every
            self._probe_every = min(self._probe_every * 2, PROBE_MAX_S)
            if deadline is not None:
                pause = min(pause, max(deadline - time.monotonic(), 0.0))
            time.sleep(pause)

    def lost(self, began):
        """Records that a call begun at `began` (wall time) found the store unreachable."""
        with self._lock:
            if self.since is not None:
                return
            self.since = began
            self._probe_every = PROBE_FIRST_S
            self._next_probe = time.monotonic() + PROBE_FIRST_S
        if self.out is not None:
            self.out(
                f"The tracking store {self.tracking_uri} does not answer (since "
                f"{time.strftime('%H:%M:%S', time.localtime(began))}): training goes on, and "
                "what the runs log is kept until it answers, for up to "
                f"{format_seconds(self.window_s)} (outage_window_s in mlflow.yaml)."
            )

    def answered(self):
        """Records that the store answered (the end of an outage, if one was on)."""
        if self.since is None:  # the normal path: no lock
            return
        with self._lock:
            since, self.since = self.since, None
        if since is not None and self.out is not None:
            self.out(
                f"The tracking store answers again (after {format_seconds(time.time() - since)}"
                " without it); writing what was kept."
            )

    def stop_waiting(self, down=False):
        """From now on no call waits for the store: for a driver that stops (Ctrl-C, or
        past the window) and must not wait for it again.

        A call that finds the store unreachable then raises `StoreUnavailable` at once;
        while the store is known to be down (`down`: it is, from now), none is tried.
        """
        with self._lock:
            self.window_s = 0.0
            if down and self.since is None:
                self.since = time.time()

    def unavailable_message(self, since):
        return (
            f"the tracking store {self.tracking_uri} has not answered since "
            f"{time.strftime('%H:%M:%S', time.localtime(since))}, longer than its outage "
            f"window ({format_seconds(self.window_s)}, outage_window_s in mlflow.yaml)"
        )

    def _probe_due(self):
        now = time.monotonic()
        with self._lock:
            if now < self._next_probe:
                return False
            self._next_probe = now + self._probe_every
            self._probe_every = min(self._probe_every * 2, PROBE_MAX_S)
        return True

    def _probe(self):
        return store_answers(self.tracking_uri)


_GUARDS = {}
_GUARDS_LOCK = threading.Lock()


def guard_for(tracking_uri, window_s=None, out=None):
    """This process's guard of a store (made on first use); `window_s` and `out`, when
    given, replace the guard's."""
    with _GUARDS_LOCK:
        guard = _GUARDS.get(tracking_uri)
        if guard is None:
            guard = _GUARDS[tracking_uri] = StoreGuard(tracking_uri)
    if window_s is not None:
        guard.window_s = float(window_s)
    if out is not None:
        guard.out = out
    return guard


class GuardedClient:
    """An `mlflow.MlflowClient` whose every call goes through a `StoreGuard` (`call`).

    Attributes:
        raw: the client itself, for writes made through `guard.attempt`.
        guard: the store's `StoreGuard`.
    """

    def __init__(self, client, guard):
        self.raw = client
        self.guard = guard

    def __getattr__(self, name):
        value = getattr(self.raw, name)
        if not callable(value) or not self.guard.enabled:
            return value
        return functools.partial(self.guard.call, value)


def guard_of(client):
    """The guard of a `GuardedClient`; a guard that calls straight through for any other
    client (tests hand `RunLogger` a plain `MlflowClient`)."""
    guard = getattr(client, "guard", None)
    return guard if isinstance(guard, StoreGuard) else StoreGuard("")


def raw_client(client):
    """The `MlflowClient` behind a `GuardedClient` (the client itself otherwise)."""
    return client.raw if isinstance(client, GuardedClient) else client
