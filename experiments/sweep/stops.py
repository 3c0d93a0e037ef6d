"""How a sweep that cannot go on says so: one line (what happened, what was left, how to
resume), its traceback in a file the line names.

- A tracking server that did not answer for the outage window (`StoreUnavailable`).
- A full disk (`errors.no_space`): the line names the configured folder on that disk
  (the artifact root, the TensorBoard root, the SQLite store's folder).
- Anything else the store raised under the driver.
"""

import tempfile
import traceback

from experiments.errors import (
    DiskFull,
    StoreUnavailable,
    find_cause,
    no_space,
    one_line,
    written_path,
)


def stop_line(error, names, unmarked, tracking_config):
    """The one line of a driver that cannot go on; its traceback goes to a file it names.

    Args:
        error: what stopped the driver.
        names: the runs in flight it stopped.
        unmarked: those (and "the parent run") the store would not mark FAILED.
        tracking_config: the sweep's `tracking.TrackingConfig` (its folders, to name
            the one whose disk is full).
    """
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="vrl-sweep-error-", suffix=".txt", delete=False
        ) as file:
            file.write("".join(traceback.format_exception(error)))
        details = f" Traceback: {file.name}."
    except OSError:
        details = ""
    stopped = f" {len(names)} run(s) in flight stopped" if names else ""
    left = (
        f"; {', '.join(unmarked)} could not be marked FAILED and stay RUNNING until the "
        "next run of this command replaces them"
        if unmarked
        else ""
    )
    full = no_space(error)
    if full is not None:
        return (
            f"The sweep stopped: {no_space_line(full, tracking_config)}.{stopped}{left}. "
            f"Free space there, then run the same command to resume.{details}"
        )
    gone = find_cause(error, StoreUnavailable)
    cause = f"{gone}" if gone is not None else one_line(error)
    return (
        f"The sweep stopped: {cause}.{stopped}{left}. When the "
        "tracking store works again (server running, disk space free), run the same "
        f"command to resume.{details}"
    )


def no_space_line(full, tracking_config):
    """`no space left on the disk of the TensorBoard root /x/tb_logs (<the error>)`."""
    if isinstance(full, DiskFull):  # from a worker (Ray wraps it: read it with care)
        path, error = getattr(full, "path", ""), getattr(full, "error", "")
    else:
        path, error = written_path(full), ""
    path = str(path or "")
    error = error or one_line(full)
    roots = (
        ("the artifact root", tracking_config.artifact_root),
        ("the TensorBoard root", tracking_config.tensorboard_root),
        (
            "the MLflow store's folder",
            tracking_config.sqlite_path and tracking_config.sqlite_path.parent,
        ),
    )
    for label, root in roots:
        if root and (path == str(root) or path.startswith(str(root).rstrip("/") + "/")):
            return f"no space left on the disk of {label} {root} ({error})"
    return f"no space left on the disk of {path or 'a folder it writes'} ({error})"
