"""File locks of this machine: what must happen once on a local (SQLite) store.

An exclusive `fcntl.flock` is released by the kernel when its process exits, however it
exits, so a lock can never go stale. The holder writes who it is into the file, for the
message of whoever finds it held.
"""

import contextlib
import datetime
import fcntl
import os
import pathlib
import socket


class LockHeld(RuntimeError):
    """The lock is held by another process; `holder` says which (as it wrote itself)."""

    def __init__(self, holder):
        super().__init__(holder)
        self.holder = holder


def process_identity():
    """`pid 123 on host, started 2026-12-01 10:00:00`: how a lock holder names itself."""
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return f"pid {os.getpid()} on {socket.gethostname()}, started {started}"


@contextlib.contextmanager
def exclusive_lock(path, *, wait=True):
    """Holds an exclusive lock on the file `path` (created with its folder) within the block.

    Args:
        path: the lock file.
        wait: wait for the holder to release it; False: raise `LockHeld` at once.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.read(fd, 1000).decode(errors="replace").strip()
            raise LockHeld(holder or "another process") from None
        os.ftruncate(fd, 0)
        os.write(fd, process_identity().encode())
        yield
    finally:
        os.close(fd)  # releases the lock
