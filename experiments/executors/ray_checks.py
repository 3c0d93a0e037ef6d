"""What the Ray executor checks before any MLflow run exists (no Ray import needed).

A cluster's workers must reach the tracking store: a local file store (SQLite, `file:`)
with `--address` is refused, and so is a mistyped address, within seconds rather than
after Ray's minutes of retries.
"""

import ipaddress
import os
import socket
import urllib.parse

from experiments.errors import InputError

TENSORBOARD_MODE_ENV = "VRL_RAY_TENSORBOARD"
TENSORBOARD_MODES = ("direct", "sync")


def is_local_store(tracking_uri):
    scheme = urllib.parse.urlparse(tracking_uri).scheme.lower()
    # "" / "file": a folder; one letter: a Windows drive; sqlite: an embedded database file.
    return scheme in ("", "file", "sqlite") or len(scheme) == 1


def is_loopback_uri(tracking_uri):
    host = urllib.parse.urlparse(tracking_uri).hostname
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other nodes may resolve


def wants_cluster(address):
    return address is not None and address != "local"


def check_tracking_for_cluster(tracking_uri, address):
    """Refuses a tracking store that a remote cluster's workers cannot reach.

    Called by the driver before any MLflow run exists (and again when the
    executor starts).

    Args:
        tracking_uri: the tracking URI the driver resolved (`mlflow.yaml` or
            `MLFLOW_TRACKING_URI`).
        address: the `--address` given, or None (a local Ray instance).

    Raises:
        ValueError: with `--address`, when `tracking_uri` is a local file
            store (SQLite, `file:` or a plain path).
    """
    if wants_cluster(address) and is_local_store(tracking_uri):
        raise InputError(
            f"--executor ray --address {address}: the tracking store is {tracking_uri}, a file on "
            "this machine. Ray workers on other nodes cannot log there (and SQLite must not be "
            "shared over a network file system). Start a tracking server every node can reach, "
            'e.g. `make mlflow-server ARGS="--host 0.0.0.0"` on this machine, and point the sweep '
            "at it: MLFLOW_TRACKING_URI=http://<this host's name or IP>:5000. (Without --address "
            "the sweep runs on a local Ray instance and may use the SQLite store.)"
        )


def check_reachable(address, timeout=5.0):
    """Fails within seconds when nothing listens at `HOST:PORT` / `ray://HOST:PORT`.

    `ray.init` retries an unreachable GCS address for many minutes before it
    gives up; a mistyped `--address` should fail at once.
    """
    if not wants_cluster(address) or address == "auto":
        return
    target = address[len("ray://") :] if address.startswith("ray://") else address
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(
            f"--address {address!r}: expected auto, HOST:PORT (the head node's GCS port, 6379 by "
            "default) or ray://HOST:PORT (Ray Client, 10001 by default)."
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except OSError as error:
        raise InputError(
            f"--address {address}: nothing answers at {host}:{port} ({error}). Start the cluster "
            f"(`ray start --head` on the head node prints its address) or fix the address."
        ) from None


def preflight(workers=1, config=None, tracking=None, address=None):
    """The executor's input checks that need no cluster: run before any MLflow run exists.

    Args:
        workers: `--workers`.
        config: the `ExperimentConfig` (unused: its `resources` are validated on load).
        tracking: the driver's `tracking.TrackingConfig`.
        address: `--address`, or None.

    Raises:
        ValueError: see `check_tracking_for_cluster`; a malformed `--address`,
            or one where nothing answers.
    """
    del workers, config
    if tracking is not None:
        check_tracking_for_cluster(tracking.tracking_uri, address)
    tensorboard_mode(address)  # a bad VRL_RAY_TENSORBOARD fails here too
    check_reachable(address)


def tensorboard_mode(address):
    mode = os.environ.get(TENSORBOARD_MODE_ENV, "").strip().lower()
    if not mode:
        return "sync" if wants_cluster(address) else "direct"
    if mode not in TENSORBOARD_MODES:
        raise InputError(
            f"{TENSORBOARD_MODE_ENV}={os.environ[TENSORBOARD_MODE_ENV]!r}: expected one of "
            f"{', '.join(TENSORBOARD_MODES)} (direct: workers write into tensorboard_root, which "
            "every node must mount; sync: workers send their logs back to the driver). Unset it "
            "for the default."
        )
    return mode
