"""A real `mlflow server` process on a free loopback port, for tests.

Used by `tests/experiments/test_ray_executor.py`: the Ray
executor's workers must log through a tracking server, as they would on a
cluster, never into a SQLite file of their own.

Example:

>>> with MlflowServer(tmp_path) as server:
...     os.environ["MLFLOW_TRACKING_URI"] = server.uri
"""

import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from experiments.tracking.servers import mlflow_command

START_TIMEOUT_S = 90.0


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class MlflowServer:
    """Starts `mlflow server` with a SQL backend store and served artifacts; stops it on exit.

    Args:
        root: a folder for the server's files (its SQLite store, its artifacts, its log).
        backend_store_uri: the SQL store; default `sqlite:///<root>/mlflow.db`
            (e.g. `postgresql://user:pw@127.0.0.1/db`).
        host: the address to bind (loopback by default).
        port: the port; default a free one.

    Attributes:
        uri: `http://host:port`, the tracking URI clients use.
        log_path: the server's stdout/stderr (shown when it fails to start).
    """

    def __init__(self, root, backend_store_uri=None, host="127.0.0.1", port=None):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}"
        self.artifacts = self.root / "artifacts"
        self.host = host
        self.port = port or free_port(host)
        self.uri = f"http://{host}:{self.port}"
        self.log_path = self.root / "mlflow-server.log"
        self._process = None
        self._log = None

    def start(self):
        """Starts the server and waits until `/health` answers.

        Raises:
            RuntimeError: the server exited or did not answer within
                `START_TIMEOUT_S` (the message holds the end of its log).
        """
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        # MLflow 3 servers also start seven job-runner processes (GenAI jobs): not needed here.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        command = mlflow_command(
            "server",
            self.backend_store_uri,
            self.host,
            self.port,
            artifacts=self.artifacts,
            extra=("--workers", "1"),
        )
        self._log = open(self.log_path, "wb")
        # Own process group: stopping it stops the web server's workers too.
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"mlflow server at {self.uri} did not start:\n{tail}")

    def log_tail(self, lines=40):
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        """Stops the server (SIGTERM to its process group, SIGKILL after 10 s)."""
        if self._process is not None and self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
