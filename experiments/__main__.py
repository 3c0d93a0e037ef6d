"""Command line: `python -m experiments <command>`.

    list                          the named experiments, one line each
    run NAME [--profile P] [--set key=value ...] [--workers N] [--executor local|ray]
             [--address ADDR] [--force]
                                  run (or resume) a sweep into MLflow + TensorBoard
    report NAME [--run-id ID]     redraw the report of the latest sweep from MLflow
    tensorboard [--port 6006]     serve TensorBoard on 127.0.0.1 over the log root
    mlflow-ui [--port 5000]       serve the MLflow UI on 127.0.0.1 over the tracking store
    mlflow-server [--host H] [--port P] [--backend-store-uri URI] [--artifacts-destination DIR]
                                  a team tracking server (SQL store, served artifacts)

Every command reads the tracking settings from `mlflow.yaml` (or the file
in `--mlflow-config` / `$VRL_MLFLOW_CONFIG`); `MLFLOW_TRACKING_URI` overrides
the store. Input errors exit with status 2 and a message, before TensorFlow
loads; failed grid points exit 1; an interrupted sweep exits 130 (Ctrl-C) or
143 (SIGTERM).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from experiments import config as config_module  # noqa: E402  (no TensorFlow here)
from experiments import tracking  # noqa: E402

EXIT_INPUT_ERROR = 2


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

    report = commands.add_parser("report", help="redraw the report of the latest sweep")
    report.add_argument("name")
    report.add_argument(
        "--run-id", default=None, help="a parent run id (default: the latest sweep)"
    )

    board = commands.add_parser("tensorboard", help="serve TensorBoard on 127.0.0.1")
    board.add_argument("--port", type=int, default=6006)
    board.add_argument("--host", default="127.0.0.1")

    ui = commands.add_parser("mlflow-ui", help="serve the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
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
        result = sweep.run_sweep(
            args.name,
            args.profile,
            args.overrides,
            workers=args.workers,
            executor=args.executor,
            address=args.address,
            force=args.force,
            tracking_config=tracking_config,
        )
    except sweep.SweepInterrupted as interrupted:
        return 128 + int(interrupted.signum)
    return 0 if result.ok else 1


def _report(args):
    config_module.config_path(args.name)  # unknown name: the known ones
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    client = tracking.configure_mlflow(tracking_config.tracking_uri)
    experiment = client.get_experiment_by_name(tracking_config.experiment_name(args.name))
    run_id = args.run_id
    if run_id is None:
        parent = (
            None
            if experiment is None
            else tracking.latest_parent_run(client, experiment.experiment_id)
        )
        if parent is None:
            raise ValueError(
                f"No sweep of {args.name!r} in {tracking_config.tracking_uri}. "
                f"Run one first: python -m experiments run {args.name}"
            )
        run_id = parent.info.run_id
    from experiments import report

    report.write_report(run_id, client=client)  # prints its summary
    return 0


def _serve(command, address):
    print(f"Open {address}  (Ctrl-C stops it)", flush=True)
    # Become the server (no child left behind when this process gets a signal).
    os.execv(command[0], command)


def _tensorboard(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    os.makedirs(tracking_config.tensorboard_root, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        tracking_config.tensorboard_root,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"TensorBoard over {tracking_config.tensorboard_root}")
    return _serve(command, f"http://{args.host}:{args.port}/")


def _mlflow_ui(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    if tracking_config.is_remote:
        print(
            f"The tracking store is a server: open {tracking_config.tracking_uri} "
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
    return _serve(command, f"http://{args.host}:{args.port}/")


def _mlflow_server(args, extra):
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
    print(f"Point the suite at it with: MLFLOW_TRACKING_URI=http://{args.host}:{args.port}")
    return _serve(command, f"http://{args.host}:{args.port}/")


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
