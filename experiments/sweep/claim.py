"""One driver per sweep: the claim that keeps two runs of one command from doubling the runs.

Two drivers of the same sweep (same experiment, same config hash) on one store would
train every grid point twice, and the second would soft-delete the first one's runs in
flight as "earlier attempts". So a driver claims the sweep before it plans anything; a
second driver that finds the claim held stops at once with `SweepBusy` (one line: who
holds it, and what to do), before it writes anything. Different sweeps (another
experiment, profile or `--set`) never wait for each other.

- A SQLite store (one machine): an exclusive `fcntl.flock` on
  `<database>-locks/<experiment>-<config hash>.lock`. The kernel releases it when the
  driver exits, however it exits (SIGKILL included), so a claim can never go stale.
- Any other store (a tracking server shared by a team): tags on the parent run.
  A driver writes its identity (`sweep.driver`) and a heartbeat (`sweep.heartbeat`, every
  `HEARTBEAT_S`), waits `SETTLE_S` and reads them back: when two drivers write at once,
  the last write wins for both readers, and the other driver stops. A new parent run
  created by two drivers at once is settled the same way: after the wait, the newest
  parent of the config hash is the sweep, and a driver whose own parent is not it
  deletes its parent and stops. A claim whose driver has exited without releasing it
  (SIGKILL, or the server went away under it) is taken over: at once when that driver
  ran on this machine, else once its heartbeat is older than the claim says it may be
  (`sweep.stale_after_s`: `STALE_S` plus the driver's outage window and one beat). A
  driver rides out a server's outage for its window (`tracking.outage`), writing no
  heartbeat meanwhile: a second driver started during or right after an outage must not
  take that silence for a dead driver, or both would train the same grid points.
"""

import contextlib
import os
import re
import socket
import threading
import time
import uuid

from experiments import schema, tracking
from experiments.errors import SweepBusy
from experiments.tracking.locks import LockHeld, exclusive_lock, process_identity

HEARTBEAT_S = 20.0
STALE_S = 90.0
SETTLE_S = 2.0


def _busy_message(experiment, config_hash, holder, extra=""):
    return (
        f"Another driver is running this sweep of {experiment} (config {config_hash[:6]}) on "
        f"this store: {holder}.{extra} Wait for it to finish, then run the same command again "
        "(it skips what is done and redraws the report), or stop that driver; a different "
        "--profile or --set is a different sweep and may run beside it."
    )


def _gone(holder):
    """Whether a claim's driver ran on this machine and has exited (no need to wait it out)."""
    found = re.search(r"pid (\d+) on (\S+),", holder)
    if found is None or found.group(2) != socket.gethostname():
        return False
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SweepClaim:
    """Holds one sweep of a store for this driver; use it as a context manager.

    Args:
        client: the driver's `mlflow.MlflowClient`.
        tracking_config: the `tracking.TrackingConfig` of the store.
        experiment: the named experiment.
        config_hash: the sweep's config hash.

    Example:

    >>> with SweepClaim(client, tracking_config, "latch", config.config_hash) as claim:
    ...     parent_id = ...  # find or create the parent run
    ...     claim.hold_parent(parent_id, created=True)   # raises SweepBusy when not ours
    """

    def __init__(self, client, tracking_config, experiment, config_hash):
        self.client = client
        self.experiment = experiment
        self.config_hash = config_hash
        self.lock_path = tracking_config.sweep_lock_path(experiment, config_hash)
        self.stale_after_s = STALE_S + HEARTBEAT_S + tracking_config.outage_window_s
        self.token = f"{uuid.uuid4().hex[:12]} ({process_identity()})"
        self._file_lock = contextlib.ExitStack()
        self._holds_file = False
        self._parent_id = None
        self._stop = threading.Event()
        self._heartbeat = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def acquire(self):
        """Takes the lock file of a SQLite store (nothing to take yet on a server).

        Raises:
            SweepBusy: another driver holds it.
        """
        if self.lock_path is not None:
            try:
                self._file_lock.enter_context(exclusive_lock(self.lock_path, wait=False))
            except LockHeld as held:
                raise SweepBusy(
                    _busy_message(self.experiment, self.config_hash, held.holder)
                ) from None
            self._holds_file = True

    # ------------------------------------------------------ parent-run tags
    def hold_parent(self, parent_id, created):
        """Claims the parent run (`created`: this driver just created it).

        With the lock file held this only records the driver on the run. Without it
        (a server store), see the module docstring.

        Raises:
            SweepBusy: another live driver holds this sweep (a parent this driver
                created is deleted first).
        """
        if self._holds_file:
            self.client.set_tag(parent_id, schema.SWEEP_DRIVER, self.token)
            self._parent_id = parent_id
            return
        if not created:
            self._refuse_if_held(parent_id)
        self._write_claim(parent_id)
        time.sleep(SETTLE_S)
        newest = tracking.latest_parent_run(
            self.client, self._experiment_id(parent_id), self.config_hash
        )
        holder = self.client.get_run(parent_id).data.tags.get(schema.SWEEP_DRIVER)
        if newest is not None and newest.info.run_id != parent_id:
            if created:
                self.client.delete_run(parent_id)
            raise SweepBusy(
                _busy_message(
                    self.experiment,
                    self.config_hash,
                    newest.data.tags.get(schema.SWEEP_DRIVER, "a driver that started at once"),
                )
            )
        if holder != self.token:
            raise SweepBusy(_busy_message(self.experiment, self.config_hash, holder))
        self._parent_id = parent_id
        self._heartbeat = threading.Thread(target=self._beat, daemon=True)
        self._heartbeat.start()

    def _experiment_id(self, run_id):
        return self.client.get_run(run_id).info.experiment_id

    def _refuse_if_held(self, parent_id):
        tags = self.client.get_run(parent_id).data.tags
        holder = tags.get(schema.SWEEP_DRIVER)
        try:
            age = time.time() - float(tags.get(schema.SWEEP_HEARTBEAT, "0"))
        except ValueError:
            age = float("inf")
        try:  # what its driver said; an older driver said nothing: STALE_S
            stale_after = float(tags.get(schema.SWEEP_STALE_AFTER, STALE_S))
        except ValueError:
            stale_after = STALE_S
        if holder and holder != self.token and age < stale_after and not _gone(holder):
            extra = (
                f" Its last heartbeat was {age:.0f} s ago; a claim without a heartbeat for "
                f"{stale_after:.0f} s is taken over (its driver rides out a tracking "
                "server's outage that long)."
            )
            raise SweepBusy(_busy_message(self.experiment, self.config_hash, holder, extra))

    def _write_claim(self, parent_id):
        self.client.set_tag(parent_id, schema.SWEEP_DRIVER, self.token)
        self.client.set_tag(parent_id, schema.SWEEP_STALE_AFTER, f"{self.stale_after_s:.0f}")
        self.client.set_tag(parent_id, schema.SWEEP_HEARTBEAT, f"{time.time():.0f}")

    def _beat(self):
        # Through an outage the write waits for the store (the driver's guard); past the
        # window it fails, and the driver stops the sweep.
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):  # the driver reports store failures
                self.client.set_tag(self._parent_id, schema.SWEEP_HEARTBEAT, f"{time.time():.0f}")

    # --------------------------------------------------------------- release
    def release(self):
        """Gives the sweep up: stops the heartbeat, clears the tag, unlocks the file."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        if self._parent_id is not None:
            with contextlib.suppress(Exception):  # the store may be what failed
                self.client.set_tag(self._parent_id, schema.SWEEP_DRIVER, "")
            self._parent_id = None
        self._file_lock.close()  # unlocks the file, if held
        self._holds_file = False
