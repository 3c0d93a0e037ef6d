"""The command line's input errors and the tracking settings (subprocesses; no training).

Every bad input must end with a clear message and exit status 2, quickly:
the CLI validates before it imports TensorFlow. The subprocess `timeout`
only guards against a hang (the failure mode the issue names).
"""

import socket
import subprocess

import pytest

from experiments import tracking
from experiments.terminal import startup_noise
from tests.experiments.runner_helpers import REPO_ROOT, cli, cli_env, write_tracking_yaml

HANG_GUARD_S = 60
SWEEP_GUARD_S = 300  # a smoke sweep in spawned workers, on a loaded 2-core machine


def run_cli(*args, env, timeout=HANG_GUARD_S):
    return subprocess.run(
        cli(*args), env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.mark.parametrize(
    "given, executor, workers",
    [
        ([], "local", 2),
        ([], "ray", 1),
        (["--workers", "3"], "local", 3),
        (["--workers", "4"], "ray", 4),
    ],
)
def test_workers_default_is_makes_and_leaves_ray_uncapped(given, executor, workers):
    """The documented times are `make experiment`'s (WORKERS=2): the command line agrees."""
    from experiments import __main__ as cli_main

    args = cli_main._parser().parse_args(["run", "long_dependency", "--executor", executor, *given])
    assert cli_main._workers(args) == workers


def test_list_shows_names_and_descriptions(tmp_path):
    result = run_cli("list", env=cli_env())
    assert result.returncode == 0, result.stderr
    assert "long_dependency" in result.stdout and "Adding problem" in result.stdout


def test_unknown_name_prints_known_names(tmp_path):
    write_tracking_yaml(tmp_path)
    result = run_cli("run", "long_dependencies", "--profile", "smoke", env=cli_env(tmp_path))
    assert result.returncode == 2
    assert "Unknown experiment 'long_dependencies'" in result.stderr
    assert "Known experiments:" in result.stderr and "long_dependency" in result.stderr
    assert not (tmp_path / "mlflow.db").exists()  # nothing was created


@pytest.mark.parametrize(
    "override, expected",
    [
        ("lr=fast", "`lr` must be a finite number > 0"),
        ("epochz=2", "unknown key `epochz`"),
        ("units", "expected key=value"),
    ],
)
def test_bad_set(tmp_path, override, expected):
    write_tracking_yaml(tmp_path)
    result = run_cli(
        "run", "long_dependency", "--profile", "smoke", "--set", override, env=cli_env(tmp_path)
    )
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_broken_mlflow_yaml(tmp_path):
    (tmp_path / "mlflow.yaml").write_text("tracking_uri: [unclosed\n")
    result = run_cli("run", "long_dependency", "--profile", "smoke", env=cli_env(tmp_path))
    assert result.returncode == 2
    assert "mlflow.yaml: not valid YAML" in result.stderr
    (tmp_path / "mlflow.yaml").write_text("tracking_url: sqlite:///x.db\n")
    result = run_cli("run", "long_dependency", "--profile", "smoke", env=cli_env(tmp_path))
    assert result.returncode == 2 and "unknown key(s) 'tracking_url'" in result.stderr


def test_unreachable_tracking_server_fails_fast(tmp_path):
    write_tracking_yaml(tmp_path)
    uri = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(
        "run",
        "long_dependency",
        "--profile",
        "smoke",
        env=cli_env(tmp_path, MLFLOW_TRACKING_URI=uri),
    )
    assert result.returncode == 2
    assert f"Cannot reach the MLflow tracking server at {uri}" in result.stderr
    assert "make mlflow-server" in result.stderr


def test_bad_workers_and_executor(tmp_path):
    write_tracking_yaml(tmp_path)
    result = run_cli(
        "run", "long_dependency", "--profile", "smoke", "--workers", "0", env=cli_env(tmp_path)
    )
    assert result.returncode == 2 and "--workers must be an integer >= 1" in result.stderr
    result = run_cli(
        "run", "long_dependency", "--profile", "smoke", "--executor", "slurm", env=cli_env(tmp_path)
    )
    assert result.returncode == 2 and "Unknown executor 'slurm'" in result.stderr


# ------------------------------------------------------------ mlflow.yaml
def test_tracking_config_paths_are_relative_to_the_file(tmp_path):
    path = write_tracking_yaml(tmp_path / "cfg")
    settings = tracking.load_tracking_config(path, environ={})
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'cfg' / 'mlflow.db'}"
    assert settings.artifact_root == str(tmp_path / "cfg" / "mlartifacts")
    assert settings.tensorboard_root == str(tmp_path / "cfg" / "tb_logs")
    assert settings.experiment_name("long_dependency") == "test-long_dependency"
    assert settings.tb_run_dir("exp", "vanilla-L5-s0") == str(
        tmp_path / "cfg" / "tb_logs" / "exp" / "vanilla-L5-s0"
    )


def test_repo_mlflow_yaml_and_env_override():
    settings = tracking.load_tracking_config(environ={})
    assert settings.tracking_uri == f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
    assert settings.tensorboard_root == str(REPO_ROOT / "tb_logs")
    assert settings.experiment_name("x") == "x"
    remote = tracking.load_tracking_config(environ={"MLFLOW_TRACKING_URI": "http://10.0.0.1:5000"})
    assert (
        remote.tracking_uri == "http://10.0.0.1:5000"
        and remote.is_remote
        and remote.artifact_root is None
    )


def test_check_tracking_uri_refuses_closed_port():
    with pytest.raises(tracking.TrackingError, match="Cannot reach"):
        tracking.check_tracking_uri(f"http://127.0.0.1:{closed_port()}", timeout=2)


# ------------------------------------------------------- stores, run ids, servers
def test_a_store_that_is_not_a_database_is_one_line_and_untouched(tmp_path):
    write_tracking_yaml(tmp_path)
    store = tmp_path / "mlflow.db"
    store.write_text("my notes, not a database\n" * 100)
    result = run_cli("run", "long_dependency", "--profile", "smoke", env=cli_env(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "is not an MLflow SQLite database" in result.stderr
    assert "Traceback" not in result.stderr and "sqlalchemy" not in result.stderr.lower()
    assert store.read_text() == "my notes, not a database\n" * 100


def test_a_store_path_that_is_a_folder_is_one_line(tmp_path):
    write_tracking_yaml(tmp_path)
    (tmp_path / "mlflow.db").mkdir()
    result = run_cli("run", "long_dependency", "--profile", "smoke", env=cli_env(tmp_path))
    assert result.returncode == 2 and "is a folder, not a database file" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_of_a_run_id_that_does_not_exist(tmp_path):
    write_tracking_yaml(tmp_path)
    result = run_cli("report", "long_dependency", "--run-id", "f" * 32, env=cli_env(tmp_path))
    assert result.returncode == 2
    assert f"No run '{'f' * 32}' in the tracking store" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3


@pytest.mark.parametrize("command", ["tensorboard", "mlflow-ui", "mlflow-server"])
def test_a_server_on_a_taken_port_exits_with_one_line(tmp_path, command):
    write_tracking_yaml(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(command, "--port", str(port), env=cli_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serving_beyond_loopback_warns_and_names_a_reachable_address(capsys):
    from experiments.tracking.servers import check_can_serve, client_address

    check_can_serve("TensorBoard", "127.0.0.1", closed_port())
    assert capsys.readouterr().err == ""
    check_can_serve("TensorBoard", "0.0.0.0", closed_port())
    assert "no authentication" in capsys.readouterr().err
    assert "0.0.0.0" not in client_address("0.0.0.0", 5000)
    assert client_address("0.0.0.0", 5000) == f"http://{socket.gethostname()}:5000/"


def test_mlflow_server_serves_the_store_the_runner_logs_to(tmp_path):
    write_tracking_yaml(tmp_path)
    store = f"sqlite:///{tmp_path / 'team.db'}"
    with socket.socket() as taken:  # stops the command after it has chosen its store
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        chosen = run_cli(
            "mlflow-server", "--port", port, env=cli_env(tmp_path, MLFLOW_TRACKING_URI=store)
        )
        default = run_cli("mlflow-server", "--port", port, env=cli_env(tmp_path))
    assert f"store {store}," in chosen.stdout
    assert f"store sqlite:///{tmp_path / 'mlflow.db'}," in default.stdout


def test_a_sweep_prints_no_tensorflow_startup_lines(tmp_path):
    # From the driver and from both workers; TF_CPP_MIN_LOG_LEVEL does not stop these lines.
    write_tracking_yaml(tmp_path)
    env = cli_env(tmp_path)
    env.pop("TF_CPP_MIN_LOG_LEVEL")
    result = run_cli(
        *("run", "long_dependency", "--profile", "smoke", "--workers", "2"),
        *("--set", "grid.model=[vanilla]"),
        env=env,
        timeout=SWEEP_GUARD_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = (result.stdout + result.stderr).splitlines()
    noise = [line for line in output if startup_noise(line) or "cuInit" in line]
    assert not noise, "\n".join(noise)
    assert not [line for line in output if "INFO mlflow" in line]
    assert any(line.startswith("  vanilla-L5-s0: test mse") for line in output)
    # The last lines open MLflow on the runs, in its model-training view.
    view = "?workflowType=machine_learning"
    runs, parent = output[-2:]
    assert runs.startswith("This sweep's runs") and "/#/experiments/1/runs?" in runs
    assert view[1:] in runs and "searchFilter=tags.%60mlflow.parentRunId%60" in runs
    assert parent.startswith("Its parent run") and "/#/experiments/1/runs/" in parent
    assert parent.endswith(f"/model-metrics{view}")
    # The filter keeps what is not a known start-up notice, and cuInit failing where a GPU is.
    assert not startup_noise("E0000 00:00:1.2  1 some_kernel.cc:7] a real error")
    cuinit = "E0000 00:00:1796.3    1988 cuda_platform.cc:52] failed call to cuInit: INTERNAL"
    assert startup_noise(cuinit, has_nvidia_device=False)
    assert not startup_noise(cuinit, has_nvidia_device=True)


def test_mlflow_ui_prints_an_address_that_opens_the_model_training_view(tmp_path):
    import os
    import signal
    import time
    import urllib.request

    write_tracking_yaml(tmp_path)
    port = closed_port()
    server = subprocess.Popen(
        cli("mlflow-ui", "--port", str(port)),
        env=cli_env(tmp_path),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        address = f"http://127.0.0.1:{port}/#/experiments?workflowType=machine_learning"
        assert lines[1].startswith(f"Open {address}  (Ctrl-C stops it)"), lines
        deadline = time.monotonic() + HANG_GUARD_S
        while True:  # the page the address names is served
            try:
                with urllib.request.urlopen(address.split("#")[0], timeout=5) as page:
                    assert page.status == 200 and b"<html" in page.read(2000).lower()
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    # The process that served the page imported MLflow's server: no warning about its imports.
    assert "DeprecationWarning" not in server.stdout.read()


@pytest.mark.integration
def test_backend_jax_trains_every_grid_point_in_workers_on_jax(tmp_path):
    """The driver loads Keras on TensorFlow; `--backend jax` must reach the spawned workers
    before their Keras loads (and a KERAS_BACKEND in the shell must not decide it)."""
    import mlflow

    write_tracking_yaml(tmp_path)
    env = cli_env(tmp_path, KERAS_BACKEND="tensorflow")
    result = run_cli(
        *("run", "long_dependency", "--profile", "smoke", "--workers", "2", "--backend", "jax"),
        *("--set", "grid.model=[vanilla,gru]", "--set", "grid.length=[5]"),
        env=env,
        timeout=SWEEP_GUARD_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Note: KERAS_BACKEND=tensorflow is set, but grid points train on" in result.stdout
    settings = tracking.load_tracking_config(tmp_path / "mlflow.yaml")
    client = mlflow.MlflowClient(settings.tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(settings.experiment_name("long_dependency")).experiment_id],
        filter_string="tags.grid_point != ''",
    )
    assert sorted(r.data.tags["grid_point"] for r in runs) == ["gru-L5-s0", "vanilla-L5-s0"]
    assert {r.data.tags["keras.backend"] for r in runs} == {"jax"}
    assert all("version.jax" in r.data.tags for r in runs)
    # The compiled programs stay in the persistent cache of mlflow.yaml's folder: a rerun
    # of the same shapes compiles nothing (every entry already there is reused).
    cache = tmp_path / "jax_cache"
    assert settings.jax_cache_dir == str(cache) and any(cache.iterdir())


@pytest.mark.parametrize("error", [ValueError("a bug of ours"), TypeError("a bug of ours")])
def test_an_internal_error_keeps_its_traceback_instead_of_reading_as_input(monkeypatch, error):
    from experiments import __main__ as cli_main
    from experiments import config as config_module

    def broken():
        raise error

    monkeypatch.setattr(config_module, "experiment_names", broken)
    with pytest.raises(type(error), match="a bug of ours"):
        cli_main.main(["list"])


def test_an_input_error_is_one_line_and_exit_2(monkeypatch, capsys):
    from experiments import __main__ as cli_main
    from experiments import config as config_module
    from experiments.errors import InputError

    def refused():
        raise InputError("--flag 3: expected 1 or 2.")

    monkeypatch.setattr(config_module, "experiment_names", refused)
    assert cli_main.main(["list"]) == cli_main.EXIT_INPUT_ERROR
    assert capsys.readouterr().err == "error: --flag 3: expected 1 or 2.\n"
