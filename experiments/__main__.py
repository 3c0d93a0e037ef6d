"""Command line: `python -m experiments <command>`.

    list                          the named experiments, one line each
    keys                          every config key, its default and what it means
    run NAME [--profile P] [--set key=value ...] [--workers N] [--backend tensorflow|jax]
             [--executor local|ray] [--address ADDR] [--force]
                                  run (or resume) a sweep into MLflow + TensorBoard
    report NAME [--run-id ID]     redraw the report of the latest sweep from MLflow
    results                       write docs/results.md from the store (docs/results.template.md)
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
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from experiments import config as config_module  # noqa: E402  (no TensorFlow here)
from experiments import tracking  # noqa: E402
from experiments.errors import (  # noqa: E402
    ConfigError,
    InputError,
    SweepBusy,
    SweepFailed,
    SweepInterrupted,
    TrackingError,
)
from experiments.tracking import servers  # noqa: E402

RESULTS_TEMPLATE = tracking.REPO_ROOT / "docs" / "results.template.md"
RESULTS_DOC = tracking.REPO_ROOT / "docs" / "results.md"
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
    keys = commands.add_parser(
        "keys", help="list every config key with its default (what --set can change)"
    )
    keys.add_argument("--markdown", action="store_true", help="as the table of docs/config_keys.md")
    _add_run(commands)
    _add_sweep_readers(commands)
    _add_servers(commands)
    return parser


def _add_run(commands):
    run = commands.add_parser(
        "run",
        help="run (or resume) a named experiment's sweep",
        epilog=config_module.key_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("name", help="a named experiment (see `list`)")
    run.add_argument(
        "--profile",
        default=config_module.DEFAULT_PROFILE,
        help="smoke | quick | long | full: long where the config defines it (default quick)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set lr=0.01 --set grid.seed=[0,1] (repeatable; "
        "the keys are listed below)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="grid points trained in parallel (default 2, as `make experiment`; with --executor "
        "ray: as many as the cluster fits, N > 1 caps it)",
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


def _add_sweep_readers(commands):
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
    results = commands.add_parser(
        "results", help="write docs/results.md from the store (the newest sweep of each profile)"
    )
    results.add_argument("--template", default=str(RESULTS_TEMPLATE))
    results.add_argument("--out", default=str(RESULTS_DOC))
    report = commands.add_parser("report", help="redraw the report of the latest sweep")
    report.add_argument("name")
    report.add_argument(
        "--run-id", default=None, help="a parent run id (default: the latest sweep)"
    )


def _add_servers(commands):
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
        help="SQL store: sqlite:///path.db (default: the SQLite file of mlflow.yaml) or "
        "postgresql://user:pw@host/db",
    )
    server.add_argument(
        "--artifacts-destination",
        default=None,
        help="where the server stores the artifacts it serves "
        "(default: artifact_location of mlflow.yaml)",
    )


def _list(args):
    names = config_module.experiment_names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        try:
            description = config_module.describe(name)
        except ConfigError as error:
            description = f"(invalid config: {error})"
        print(f"{name:<{width}}  {description}")
    return 0


KEYS_DOC_HEADER = """# Config keys

Every key a named experiment's YAML file (`experiments/configs/<name>.yaml`), a profile or
`--set key=value` can set, with its default and the part of the code that reads it:
`sweep` (what is swept), `execution` (where it runs), `model` (the network) and `training`
(the loop that trains and evaluates it). `model` and `training` keys may also be grid axes
(`grid.units: [32, 64]`) and model-variant overrides (`models.deep3: {kind: deep,
num_layers: 3}`). Each key is declared once, in `experiments/config/settings.py`; this
table is generated from there (`make docs`), as is the `--set` help of
`python -m experiments run --help`.

"""


def _keys(args):
    if args.markdown:
        print(KEYS_DOC_HEADER + config_module.key_table_markdown(), end="")
    else:
        print(config_module.key_help())
    return 0


def _workers(args):
    # Make's WORKERS=2 (both cores of a small machine); on Ray no cap unless one is given.
    if args.workers is not None:
        return args.workers
    return 1 if args.executor == "ray" else 2


def _run(args):
    from experiments import sweep

    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    try:
        backend = [f"backend={args.backend}"] if args.backend else []
        result = sweep.run_sweep(
            args.name,
            args.profile,
            [*args.overrides, *backend],
            workers=_workers(args),
            executor=args.executor,
            address=args.address,
            force=args.force,
            tracking_config=tracking_config,
        )
    except SweepInterrupted as interrupted:
        return 128 + int(interrupted.signum)
    except SweepBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return EXIT_BUSY
    except SweepFailed as failed:
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
        raise InputError(
            f"No sweep of {args.name!r} in {tracking_config.tracking_uri}. "
            f"Run one first: python -m experiments run {args.name}"
        )
    return client, parent.info.run_id


def _report(args):
    client, run_id = _sweep_parent_id(args)
    from experiments import report, terminal

    terminal.import_tensorflow()
    report.write_report(run_id, client=client)  # prints its summary
    return 0


def _results(args):
    from experiments.report import results_doc

    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    results_doc.main(args.template, args.out, tracking_config)
    return 0


def _register(args):
    client, run_id = _sweep_parent_id(args)
    from experiments import schema
    from experiments.tracking import registry

    version, child = registry.register_sweep_model(
        client, run_id, grid_point=args.grid_point, model_name=args.model_name
    )
    metric = schema.SweepInfo.from_run(client.get_run(run_id)).metric
    value = child.data.metrics.get(schema.test_metric_name(metric))
    tracking_uri = tracking.load_tracking_config(args.mlflow_config).tracking_uri
    print(
        f"Registered {child.data.tags.get(schema.GRID_POINT)} (test {metric} {value:.4g}) as "
        f"model {version.name!r}, version {version.version}.\n"
        "Load it from any folder (the tracking URI names the store; without it MLflow "
        "would open, or create, ./mlflow.db):\n"
        f"{registry.load_snippet(tracking_uri, version)}"
    )
    return 0


def _check_parent_run(client, run_id, name):
    from experiments import schema

    try:
        run = client.get_run(run_id)
    except Exception:
        raise InputError(
            f"No run {run_id!r} in the tracking store. `--run-id` takes a sweep's parent run "
            f"id (printed as `parent run <id>` by `python -m experiments run {name}`); "
            "leave it out for the latest sweep."
        ) from None
    if schema.SWEEP_HASH not in run.data.tags:
        raise InputError(
            f"Run {run_id!r} is not a sweep's parent run (a grid point's run?). `--run-id` "
            "takes the id printed as `parent run <id>`; leave it out for the latest sweep."
        )


def _tensorboard(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    return servers.serve_tensorboard(tracking_config, args.name, args.host, args.port)


def _mlflow_ui(args):
    tracking_config = tracking.load_tracking_config(args.mlflow_config)
    return servers.serve_mlflow_ui(tracking_config, args.host, args.port)


def _mlflow_server(args, extra):
    return servers.serve_mlflow_server(
        args.mlflow_config,
        args.host,
        args.port,
        store=args.backend_store_uri,
        artifacts=args.artifacts_destination,
        extra=extra,
    )


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
        "keys": _keys,
        "run": _run,
        "report": _report,
        "results": _results,
        "register": _register,
        "tensorboard": _tensorboard,
        "mlflow-ui": _mlflow_ui,
    }
    try:
        if args.command == "mlflow-server":
            return _mlflow_server(args, extra)
        return handlers[args.command](args)
    except (InputError, TrackingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
