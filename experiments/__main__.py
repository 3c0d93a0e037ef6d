"""Command line: `python -m experiments <command>`.

    list                          the named experiments, one line each
    run NAME [--profile P] [--set key=value ...] [--workers N] [--backend tensorflow|jax]
             [--executor local|ray] [--address ADDR] [--force]
                                  run (or resume) a sweep into MLflow + TensorBoard
    report NAME [--run-id ID]     redraw the report of the latest sweep from MLflow
    register NAME [--grid-point P] register the sweep's best model in the MLflow Model Registry
    tensorboard [NAME] [--port 6006]
                                  serve TensorBoard on 127.0.0.1 over the log root, or
                                  over one experiment's logs
    mlflow-ui [--port 5000]       serve the MLflow UI on 127.0.0.1 over the tracking store
    mlflow-server [--host H] [--port P] [--backend-store-uri URI] [--artifacts-destination DIR]
                                  a team tracking server (SQL store, served artifacts)

Every command reads the tracking settings from `mlflow.yaml` (or the file
in `--mlflow-config` / `$VRL_MLFLOW_CONFIG`); `MLFLOW_TRACKING_URI` overrides
the store. Input errors exit with status 2 and a message, before TensorFlow
loads; failed grid points exit 1; a sweep that another driver is running on the
same store exits 75 (try again later) before writing anything; an interrupted sweep
exits 130 (Ctrl-C) or 143 (SIGTERM).
"""

import argparse
import json
import os
import socket
import sys
import urllib.parse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from experiments import config as config_module  # noqa: E402  (no TensorFlow here)
from experiments import tracking  # noqa: E402

EXIT_INPUT_ERROR = 2
EXIT_BUSY = 75  # sysexits.h EX_TEMPFAIL: the same command works once the other driver ends


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Named RNN memory experiments, tracked in MLflow and TensorBoard.",
    )
    parser.add_argument(
        "--mlflow-config",
        default=None,
        help="tracking settings file (default: $VRL_MLFLOW_CONFIG or <repo>/mlflow.yaml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="list the named experiments")

    run = commands.add_parser("run", help="run (or resume) a named experiment's sweep")
    run.add_argument("name", help="a named experiment (see `list`)")
    run.add_argument(
        "--profile",
        default=config_module.DEFAULT_PROFILE,
        help="smoke | quick | full (default quick)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set lr=0.01 --set grid.seed=[0,1] (repeatable)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="grid points trained in parallel (default 1; with --executor ray: as many as the "
        "cluster fits, N > 1 caps it)",
    )
    run.add_argument(
        "--backend",
        choices=config_module.BACKENDS,
        default=None,
        help="Keras backend of every grid point (default: the config's, tensorflow); "
        "the same as --set backend=...",
    )
    run.add_argument("--executor", default="local", help="local (default) or ray")
    run.add_argument(
        "--address",
        default=None,
        help="Ray cluster: auto (started on this machine with `ray start --head`), HOST:6379 "
        "(from a cluster node) or ray://HOST:10001 (Ray Client); default: a local Ray instance",
    )
    run.add_argument(
        "--force", action="store_true", help="start a new sweep: rerun every grid point"
    )

    register = commands.add_parser(
        "register", help="register the best model of the latest sweep in the Model Registry"
    )
    register.add_argument("name")
    register.add_argument("--run-id", default=None, help="a sweep's parent run (default: newest)")
    register.add_argument(
        "--grid-point",
        default=None,
        help="the grid point to register, e.g. gru-L100-s0 (default: the solved one of the "
        "longest length, best test metric on ties)",
    )
    register.add_argument(
        "--model-name", default=None, help="registered model name (default: <experiment>-<model>)"
    )

    report = commands.add_parser("report", help="redraw the report of the latest sweep")
    report.add_argument("name")
    report.add_argument(
        "--run-id", default=None, help="a parent run id (default: the latest sweep)"
    )

    board = commands.add_parser("tensorboard", help="serve TensorBoard on 127.0.0.1")
    board.add_argument(
        "name",
        nargs="?",
        default=None,
        help="serve one experiment's logs (its runs only, its HParams table); default: all",
    )
    board.add_argument("--port", type=int, default=6006)
    board.add_argument("--host", default="127.0.0.1")

    ui = commands.add_parser("mlflow-ui", help="serve the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=tracking.MLFLOW_UI_PORT)
    ui.add_argument("--host", default="127.0.0.1")

    server = commands.add_parser(
        "mlflow-server",
        help="start a team MLflow tracking server (extra arguments go to `mlflow server`)",
    )
    server.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1; 0.0.0.0 for a team)"
    )
    server.add_argument("--port", type=int, default=5000)
    server.add_argument(
        "--backend-store-uri",
        default=None,
        help="SQL store: sqlite:///path.db (default: the SQLite file of mlflow.yaml) or postgresql://user:pw@host/db",
    )
    server.add_argument(
        "--artifacts-destination",
        default=None,
        help="where the server stores the artifacts it serves "
        "(default: artifact_location of mlflow.yaml)",
    )
    return parser


def _list(args):
    names = config_module.experiment_names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        try:
            description = config_module.describe(name)
        except config_module.ConfigError as error:
            description = f"(invalid config: {error})"
        print(f"{name:<{width}}  {description}")
    return 0


def _run(args):
    from experiments import sweep

    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    try:
        backend = [f"backend={args.backend}"] if args.backend else []
        result = sweep.run_sweep(
            args.name,
            args.profile,
            [*args.overrides, *backend],
            workers=args.workers,
            executor=args.executor,
            address=args.address,
            force=args.force,
            tracking_config=tracking_config,
        )
    except sweep.SweepInterrupted as interrupted:
        return 128 + int(interrupted.signum)
    except sweep.SweepBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except sweep.SweepFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


def _sweep_parent_id(args):
    """`(client, parent run id)` of `--run-id`, or of the newest sweep of `args.name`."""
    config_module.config_path(args.name)  # unknown name: the known ones
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    client = tracking.open_store(tracking_config)
    if args.run_id is not None:
        _check_parent_run(client, args.run_id, args.name)
        return client, args.run_id
    experiment = client.get_experiment_by_name(tracking_config.experiment_name(args.name))
    parent = (
        None if experiment is None else tracking.latest_parent_run(client, experiment.experiment_id)
    )
    if parent is None:
        raise ValueError(
            f"No sweep of {args.name!r} in {tracking_config.tracking_uri}. "
            f"Run one first: python -m experiments run {args.name}"
        )
    return client, parent.info.run_id


def _report(args):
    client, run_id = _sweep_parent_id(args)
    from experiments import quiet, report

    quiet.import_tensorflow()
    report.write_report(run_id, client=client)  # prints its summary
    return 0


def _register(args):
    client, run_id = _sweep_parent_id(args)
    from experiments import register, schema

    version, child = register.register_sweep_model(
        client, run_id, grid_point=args.grid_point, model_name=args.model_name
    )
    metric = schema.SweepInfo.from_run(client.get_run(run_id)).metric
    value = child.data.metrics.get(schema.test_metric_name(metric))
    print(
        f"Registered {child.data.tags.get(schema.GRID_POINT)} (test {metric} {value:.4g}) as "
        f"model {version.name!r} version {version.version}.\n"
        f"Load it: mlflow.pyfunc.load_model('models:/{version.name}/{version.version}')"
    )
    return 0


def _check_parent_run(client, run_id, name):
    from experiments import schema

    try:
        run = client.get_run(run_id)
    except Exception:
        raise ValueError(
            f"No run {run_id!r} in the tracking store. `--run-id` takes a sweep's parent run "
            f"id (printed as `parent run <id>` by `python -m experiments run {name}`); "
            "leave it out for the latest sweep."
        ) from None
    if schema.SWEEP_HASH not in run.data.tags:
        raise ValueError(
            f"Run {run_id!r} is not a sweep's parent run (a grid point's run?). `--run-id` "
            "takes the id printed as `parent run <id>`; leave it out for the latest sweep."
        )


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _client_address(host, port):
    """The address clients open: a wildcard bind is reached through this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://{host}:{port}/"


def _check_can_serve(name, host, port):
    """Fails now, in one line, when the port is taken; warns when serving beyond loopback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ValueError(
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
    _check_can_serve(name, host, port)
    print(f"Open {_client_address(host, port)}{page}  (Ctrl-C stops it)", flush=True)
    # Become the server (no child left behind when this process gets a signal).
    os.execv(command[0], command)


# TensorBoard 2.21's frontend selects every run by default only up to a number of runs:
# 40 in the SCALARS, IMAGES and TEXT dashboards (their run selector, `tf-multi-checkbox`:
# `maxNamesToEnableByDefault=40`, counting the runs that match its regex, which the
# address can set: `#images&regexInput=...`), 500 in TIME SERIES (`<= 500` when the runs
# load). Above a limit, the dashboard opens with no run selected.
LEGACY_DASHBOARD_RUN_LIMIT = 40
TIME_SERIES_RUN_LIMIT = 500


# What `python -m experiments tensorboard` opens: TIME SERIES without smoothing (each point
# is already an epoch's mean or a fixed validation set's value; TensorBoard's default
# smoothing, 0.6, only lags ~15 points) and with the loss curves pinned on top. The
# frontend reads both from the query (`smoothing`, `pinnedCards`), as it reads `runFilter`
# and `tagFilter`.
PINNED_LOSS_CARDS = json.dumps(
    [{"plugin": "scalars", "tag": tag} for tag in ("loss/validation", "loss/train")],
    separators=(",", ":"),
)
TIME_SERIES_PAGE = (
    f"?{urllib.parse.urlencode({'smoothing': 0, 'pinnedCards': PINNED_LOSS_CARDS})}#timeseries"
)
# The legacy dashboards keep their state in the fragment: `regexInput` is their run filter.
REPORT_RUNS = "regexInput=report"


def _tensorboard_guide(address, n_runs, name, n_experiments):
    """The other addresses worth opening, and what the run count means for each dashboard."""
    lines = [
        f"  one row per grid point (HPARAMS): {address}#hparams",
        f"  the report's figures (IMAGES):    {address}#images&{REPORT_RUNS}",
        f"  the report's tables (TEXT):       {address}#text&{REPORT_RUNS}",
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


def _tensorboard(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    os.makedirs(tracking_config.tensorboard_root, exist_ok=True)
    root = tracking_config.tensorboard_root
    experiments = sorted(e.name for e in os.scandir(root) if e.is_dir())
    logdir = root
    if args.name is not None:
        logdir = tracking_config.tb_experiment_dir(args.name)  # a name, never a path
        if not os.path.isdir(logdir):
            raise ValueError(
                f"No TensorBoard logs of {args.name!r} under {root} (there are: "
                f"{', '.join(experiments) or 'none'}). Run it first: "
                f"python -m experiments run {args.name}"
            )
    # TensorBoard imports TensorFlow: through `quiet`, so its start-up notices stay out.
    serve_quietly = (
        f"import sys; sys.path.insert(0, {str(tracking.REPO_ROOT)!r}); "
        "from experiments.quiet import import_tensorflow; import_tensorflow(); "
        "from tensorboard.main import run_main; sys.argv[0] = 'tensorboard'; run_main()"
    )
    command = [
        sys.executable,
        "-c",
        serve_quietly,
        "--logdir",
        logdir,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    n_runs = tracking.count_runs(logdir)
    print(f"TensorBoard over {logdir} ({n_runs} run{'' if n_runs == 1 else 's'})")
    address = _client_address(args.host, args.port)
    print(_tensorboard_guide(address, n_runs, args.name, len(experiments)))
    return _serve("TensorBoard", command, args.host, args.port, page=TIME_SERIES_PAGE)


def _mlflow_ui(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    if tracking_config.is_remote:
        print(
            f"The tracking store is a server: open {tracking_config.ui_address()} "
            "(its UI is served there)."
        )
        return 0
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        tracking_config.tracking_uri,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    if tracking_config.artifact_root:
        command += ["--default-artifact-root", tracking_config.artifact_root]
    print(f"MLflow UI over {tracking_config.tracking_uri}")
    _hide_server_deprecation_warnings()
    # The experiments list in the model-training view (MLflow 3 opens on GenAI otherwise).
    page = f"#/experiments?{tracking.MODEL_TRAINING_VIEW}"
    return _serve("the MLflow UI", command, args.host, args.port, page)


# Warnings about MLflow's own imports, printed once by each of the server's processes,
# that a user of the UI can do nothing about. The processes inherit the environment.
SERVER_WARNINGS_TO_HIDE = ("ignore:starlette.middleware.wsgi is deprecated:UserWarning",)


def _hide_server_deprecation_warnings():
    filters = [os.environ.get("PYTHONWARNINGS", ""), *SERVER_WARNINGS_TO_HIDE]
    os.environ["PYTHONWARNINGS"] = ",".join(f for f in filters if f)


def _mlflow_server(args, extra):
    # The store the runner logs to (MLFLOW_TRACKING_URI included), unless that is a
    # server itself: then this server serves mlflow.yaml's store.
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    if tracking_config.is_remote:
        tracking_config = tracking.load_tracking_config(args.mlflow_config, environ={})
    backend = args.backend_store_uri or tracking_config.tracking_uri
    artifacts = args.artifacts_destination or tracking_config.artifact_root or "mlartifacts"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        os.path.abspath(artifacts),
        "--serve-artifacts",
        "--host",
        args.host,
        "--port",
        str(args.port),
        *extra,
    ]
    print(f"MLflow tracking server: store {backend}, artifacts {os.path.abspath(artifacts)}")
    address = _client_address(args.host, args.port).rstrip("/")
    print(f"Point the suite at it with: MLFLOW_TRACKING_URI={address}")
    _hide_server_deprecation_warnings()
    return _serve("the MLflow tracking server", command, args.host, args.port)


def main(argv=None):
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "mlflow-server":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.mlflow_config:
        # Workers, the report and every other module read the same file.
        os.environ[tracking.CONFIG_ENV] = os.path.abspath(args.mlflow_config)
    handlers = {
        "list": _list,
        "run": _run,
        "report": _report,
        "register": _register,
        "tensorboard": _tensorboard,
        "mlflow-ui": _mlflow_ui,
    }
    try:
        if args.command == "mlflow-server":
            return _mlflow_server(args, extra)
        return handlers[args.command](args)
    except (config_module.ConfigError, tracking.TrackingError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
