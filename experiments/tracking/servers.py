"""The servers the command line starts: TensorBoard, the MLflow UI, a team MLflow server.

Each `serve_*` function checks the port, prints the address to open, and becomes the
server (`os.execv`: no child left behind when it gets a signal). `mlflow_command` builds
the one `mlflow ui` / `mlflow server` command line (the tests start servers with it too).
"""

import json
import os
import socket
import sys
import urllib.parse

from experiments.errors import InputError
from experiments.tracking import tensorboard_logs
from experiments.tracking.settings import MODEL_TRAINING_VIEW, REPO_ROOT, load_tracking_config

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# TensorBoard 2.21's frontend selects every run by default only up to a number of runs:
# 40 in the SCALARS, IMAGES and TEXT dashboards (their run selector, `tf-multi-checkbox`:
# `maxNamesToEnableByDefault=40`, counting the runs that match its regex, which the
# address can set: `#images&regexInput=...`), 500 in TIME SERIES (`<= 500` when the runs
# load). Above a limit, the dashboard opens with no run selected.
LEGACY_DASHBOARD_RUN_LIMIT = 40
TIME_SERIES_RUN_LIMIT = 500

# TIME SERIES colours runs by a regular expression over their names when the address says
# so (`runColorGroup=regex:<regex>`; TensorBoard 2.21's `deserializeQueryParams`, group by
# REGEX: the runs whose capture groups match take one colour; its other choices are by run,
# the default, and by experiment, which needs several experiments in one TensorBoard).
# This one captures the model: of a grid point's run (`vanilla-L10-s0`, `exp/vanilla-L10-s0`)
# and of a report curve's run (`report/<sweep>/vanilla`), so a model's training curves and
# its breakdown curve share a colour. No folder layout or run name does it by itself.
RUN_COLOR_BY_MODEL = r"([^/]+?)(?:-L\d+-s\d+[^/]*)?$"
# What `python -m experiments tensorboard` opens: TIME SERIES without smoothing (each point
# is already an epoch's mean or a fixed validation set's value; TensorBoard's default
# smoothing, 0.6, only lags ~15 points, and would bend a curve against length), the runs
# coloured by model, and the loss curves pinned on top. The frontend reads them from the
# query (`smoothing`, `runColorGroup`, `pinnedCards`), as it reads `runFilter` and
# `tagFilter`. Its cards come in groups sorted by tag, the first two open: `breakdown/`
# (every grid point's result and the report's curves against length) and `loss/` (or the
# metric's, e.g. `accuracy/`); `outcome/` (the other final values) comes later, closed.
PINNED_LOSS_CARDS = json.dumps(
    [{"plugin": "scalars", "tag": tag} for tag in ("loss/validation", "loss/train")],
    separators=(",", ":"),
)
TIME_SERIES_QUERY = {
    "smoothing": 0,
    "runColorGroup": f"regex:{RUN_COLOR_BY_MODEL}",
    "pinnedCards": PINNED_LOSS_CARDS,
}
TIME_SERIES_PAGE = f"?{urllib.parse.urlencode(TIME_SERIES_QUERY)}#timeseries"
# The legacy dashboards keep their state in the fragment: `regexInput` is their run filter,
# `_smoothingWeight` SCALARS' smoothing.
REPORT_RUNS = "regexInput=report"
REPORT_CURVES = f"{REPORT_RUNS}&_smoothingWeight=0"

# Warnings about MLflow's own imports, printed once by each of the server's processes,
# that a user of the UI can do nothing about. The processes inherit the environment.
SERVER_WARNINGS_TO_HIDE = ("ignore:starlette.middleware.wsgi is deprecated:UserWarning",)


def client_address(host, port):
    """The address clients open: a wildcard bind is reached through this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://{host}:{port}/"


def check_can_serve(name, host, port):
    """Fails now, in one line, when the port is taken; warns when serving beyond loopback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise InputError(
                f"Cannot serve {name} on {host}:{port} ({error.strerror}): another server "
                f"may be using the port. Stop it, or choose another with --port."
            ) from None
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        print(
            f"WARNING: {name} listens on {host}, beyond this machine, with no "
            "authentication: anyone who can reach this port can read (and, for MLflow, "
            "change or delete) the runs. Use it only on a trusted network.",
            file=sys.stderr,
            flush=True,
        )


def _serve(name, command, host, port, page=""):
    check_can_serve(name, host, port)
    print(f"Open {client_address(host, port)}{page}  (Ctrl-C stops it)", flush=True)
    os.execv(command[0], command)


def mlflow_command(subcommand, backend_store_uri, host, port, *, artifacts=None, extra=()):
    """`python -m mlflow ui|server` over a store: artifacts under `artifacts` (a folder).

    `ui` serves a local store's artifacts from their folder (`--default-artifact-root`);
    `server` serves them itself (`--artifacts-destination`, `--serve-artifacts`), so that
    clients need no access to its disks.
    """
    command = [sys.executable, "-m", "mlflow", subcommand, "--backend-store-uri", backend_store_uri]
    if artifacts and subcommand == "ui":
        command += ["--default-artifact-root", str(artifacts)]
    elif artifacts:
        command += ["--artifacts-destination", os.path.abspath(artifacts), "--serve-artifacts"]
    return [*command, "--host", host, "--port", str(port), *extra]


def _hide_server_deprecation_warnings():
    filters = [os.environ.get("PYTHONWARNINGS", ""), *SERVER_WARNINGS_TO_HIDE]
    os.environ["PYTHONWARNINGS"] = ",".join(f for f in filters if f)


def tensorboard_guide(address, n_runs, name, n_experiments):
    """The other addresses worth opening, and what the run count means for each dashboard."""
    lines = [
        f"  the breakdown per curve (SCALARS): {address}#scalars&{REPORT_CURVES}",
        f"  one row per grid point (HPARAMS):  {address}#hparams",
        f"  the report's figures (IMAGES):     {address}#images&{REPORT_RUNS}",
        f"  the report's tables (TEXT):        {address}#text&{REPORT_RUNS}",
    ]
    if n_runs > TIME_SERIES_RUN_LIMIT:
        lines.append(
            f"{n_runs} runs: above {TIME_SERIES_RUN_LIMIT} TIME SERIES selects none by default; "
            "serve one experiment: python -m experiments tensorboard NAME"
        )
    elif n_runs > LEGACY_DASHBOARD_RUN_LIMIT:
        lines.append(
            f"{n_runs} runs: TIME SERIES selects them all; SCALARS, IMAGES and TEXT select "
            f"none above {LEGACY_DASHBOARD_RUN_LIMIT} unless their run filter matches fewer "
            "(as in the report's links)."
        )
    if name is None and n_experiments > 1:
        lines.append(
            f"{n_experiments} experiments: HPARAMS shows one experiment's columns and merges "
            "runs of the same name; python -m experiments tensorboard NAME shows one."
        )
    return "\n".join(lines)


def serve_tensorboard(tracking_config, name, host, port):
    """TensorBoard over the log root, or over one experiment's logs (a name, never a path)."""
    root = tracking_config.tensorboard_root
    os.makedirs(root, exist_ok=True)
    experiments = sorted(e.name for e in os.scandir(root) if e.is_dir())
    logdir = root
    if name is not None:
        logdir = tracking_config.tb_experiment_dir(name)
        if not os.path.isdir(logdir):
            raise InputError(
                f"No TensorBoard logs of {name!r} under {root} (there are: "
                f"{', '.join(experiments) or 'none'}). Run it first: "
                f"python -m experiments run {name}"
            )
    # TensorBoard imports TensorFlow: through `terminal`, so its start-up notices stay out.
    serve_quietly = (
        f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); "
        "from experiments.terminal import import_tensorflow; import_tensorflow(); "
        "from tensorboard.main import run_main; sys.argv[0] = 'tensorboard'; run_main()"
    )
    command = [sys.executable, "-c", serve_quietly, "--logdir", logdir]
    command += ["--host", host, "--port", str(port)]
    n_runs = tensorboard_logs.count_runs(logdir)
    print(f"TensorBoard over {logdir} ({n_runs} run{'' if n_runs == 1 else 's'})")
    print(tensorboard_guide(client_address(host, port), n_runs, name, len(experiments)))
    return _serve("TensorBoard", command, host, port, page=TIME_SERIES_PAGE)


def serve_mlflow_ui(tracking_config, host, port):
    """The MLflow UI over the local store (a server store serves its own UI)."""
    if tracking_config.is_remote:
        print(
            f"The tracking store is a server: open {tracking_config.ui_address()} "
            "(its UI is served there)."
        )
        return 0
    command = mlflow_command(
        "ui", tracking_config.tracking_uri, host, port, artifacts=tracking_config.artifact_root
    )
    print(f"MLflow UI over {tracking_config.tracking_uri}")
    _hide_server_deprecation_warnings()
    # The experiments list in the model-training view (MLflow 3 opens on GenAI otherwise).
    return _serve("the MLflow UI", command, host, port, f"#/experiments?{MODEL_TRAINING_VIEW}")


def serve_mlflow_server(config_path, host, port, store=None, artifacts=None, extra=()):
    """A team tracking server: a SQL store, artifacts served by the server itself.

    The store the runner logs to (`MLFLOW_TRACKING_URI` included), unless that is a server
    itself: then this server serves `mlflow.yaml`'s store.
    """
    tracking_config = load_tracking_config(config_path)
    if tracking_config.is_remote:
        tracking_config = load_tracking_config(config_path, environ={})
    store = store or tracking_config.tracking_uri
    artifacts = os.path.abspath(artifacts or tracking_config.artifact_root or "mlartifacts")
    command = mlflow_command("server", store, host, port, artifacts=artifacts, extra=extra)
    print(f"MLflow tracking server: store {store}, artifacts {artifacts}")
    address = client_address(host, port).rstrip("/")
    print(f"Point the suite at it with: MLFLOW_TRACKING_URI={address}")
    _hide_server_deprecation_warnings()
    return _serve("the MLflow tracking server", command, host, port)
