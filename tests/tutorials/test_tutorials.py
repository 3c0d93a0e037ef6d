"""The tutorials run end to end in fast mode, write their figures, and keep their claims.

Each lesson runs as a user would run it (`python tutorials/0N_*.py`, from the repository
root) in a subprocess with `VRL_TUTORIAL_FAST=1` (small budgets), `VRL_TUTORIAL_OUT` set
to a temporary folder, and the tracking redirected to a temporary MLflow store and
TensorBoard root (`MLFLOW_TRACKING_URI` and a temporary `mlflow.yaml` named by
`VRL_MLFLOW_CONFIG`), so nothing is written into the repository. Every lesson saves the
numbers it claims to `<out>/0N_results.json`; the tests check those claims against the
bounds the lesson text states, and that the figures exist and are PNG files.

`test_notebooks.py` turns every lesson into a notebook as `make notebooks` does and runs one.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS_DIR = REPO_ROOT / "tutorials"
LESSONS = sorted(path.stem for path in TUTORIALS_DIR.glob("0[0-9]_*.py"))

# The figures (and other files) each lesson promises in its "Expected output".
EXPECTED_FILES = {
    "01_the_recurrence": ["01_impulse_response.png", "01_gradient_per_step.png"],
    "02_the_ewma_connection": [
        "02_ewma_task.png",
        "02_weights_during_training.png",
        "02_loss_surface.png",
    ],
    "03_going_deep": ["03_sensitivity.png", "03_depth_training.png"],
    "04_where_memory_breaks_down": [
        "04_short_dependency_breakdown.png",
        "04_long_dependency_breakdown.png",
    ],
    "05_why_vanishing_gradients": [
        "05_gradient_norms.png",
        "05_clipping.png",
        "05_gradient_flow_report.png",
    ],
    "06_reusing_the_layer": ["06_training_curves.png", "06_model.keras"],
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LESSON_TIMEOUT_S = 600

TRACKING_YAML = """\
tracking_uri: sqlite:///mlflow.db
artifact_location: mlartifacts
experiment_prefix: ""
tensorboard_root: tb_logs
"""


def test_every_lesson_has_a_test():
    assert LESSONS == sorted(EXPECTED_FILES), (
        "Every tutorials/0N_*.py needs an entry in EXPECTED_FILES and a claims test."
    )


def run_lesson(name, tmp_path):
    """Runs one lesson in fast mode; returns (results dict, output folder)."""
    out_dir = tmp_path / "out"
    tracking_dir = tmp_path / "tracking"
    tracking_dir.mkdir()
    (tracking_dir / "mlflow.yaml").write_text(TRACKING_YAML)
    env = {
        **os.environ,
        "VRL_TUTORIAL_FAST": "1",
        "VRL_TUTORIAL_OUT": str(out_dir),
        "VRL_MLFLOW_CONFIG": str(tracking_dir / "mlflow.yaml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tracking_dir / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    }
    env.pop("VRL_TUTORIAL_PROFILE", None)
    process = subprocess.run(
        [sys.executable, str(TUTORIALS_DIR / f"{name}.py")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LESSON_TIMEOUT_S,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, f"{name} failed:\n{output[-6000:]}"
    for file_name in EXPECTED_FILES[name]:
        path = out_dir / file_name
        assert path.is_file(), f"{name} did not write {file_name}"
        assert path.stat().st_size > 0, f"{name} wrote an empty {file_name}"
        if file_name.endswith(".png"):
            assert path.read_bytes()[:8] == PNG_MAGIC, f"{file_name} is not a PNG"
    results_file = out_dir / f"{name[:2]}_results.json"
    assert results_file.is_file(), f"{name} did not save its claims to {results_file.name}"
    return json.loads(results_file.read_text()), out_dir


def test_01_the_recurrence(tmp_path):
    results, _ = run_lesson("01_the_recurrence", tmp_path)
    # VanillaRNN == NumPy loop == unrolled network; shared-weight gradient == sum over copies.
    for key in (
        "univariate_max_abs_diff",
        "matrix_max_abs_diff",
        "unrolled_max_abs_diff",
        "gradient_sum_max_abs_diff",
    ):
        assert results[key] < 1e-5, key
    assert results["parameters"] == 3 * 4 + 4 * 4 + 4  # D·H + H·H + H, whatever the length
    # The early steps' share of the gradient of W is much smaller than the last step's.
    assert results["contribution_last_step"] > 10 * results["contribution_first_step"]


def test_02_the_ewma_connection(tmp_path):
    results, _ = run_lesson("02_the_ewma_connection", tmp_path)
    alpha = results["alpha"]
    assert results["exact_weights_max_abs_diff"] < 1e-4  # u = α, w = 1 − α is the EWMA
    # The claim of the lesson (and of the issue): trained u, w within 0.05 of α, 1 − α.
    assert abs(results["linear_u"] - alpha) < 0.05
    assert abs(results["linear_w"] - (1 - alpha)) < 0.05
    assert results["linear_test_mse"] < 0.01 * results["chance_mse"]  # solved
    # tanh: a close approximation (far below chance), but not the exact EWMA,
    # and it saturates on a signal ten times larger.
    assert results["tanh_test_mse"] < 0.05 * results["chance_mse"]
    assert abs(results["tanh_u"] - alpha) < 0.05
    assert results["tanh_w"] > results["linear_w"]
    assert (
        results["tanh_best_relative_mse_scale_10"] > 10 * results["tanh_best_relative_mse_scale_1"]
    )


def test_03_going_deep(tmp_path):
    results, _ = run_lesson("03_going_deep", tmp_path)
    assert results["stack_max_abs_diff"] < 1e-5
    factors = results["decay_factor_per_step"]
    assert sorted(factors) == ["1", "2", "3", "4"]
    assert all(0 < factor < 1 for factor in factors.values())  # every depth forgets
    assert results["decay_factor_spread"] < 0.1  # ... at about the same rate
    assert len(results["accuracy"]) == 4


def _check_sweep(summary, models):
    assert summary["children"] > 0
    assert summary["children_finished"] == summary["children"]
    assert sorted(summary["horizons"]) == sorted(models)
    assert summary["tensorboard_runs"] == summary["children"]


def test_04_where_memory_breaks_down(tmp_path):
    results, _ = run_lesson("04_where_memory_breaks_down", tmp_path)
    assert results["profile"] == "smoke"
    # Fast mode sweeps two models (vanilla and LSTM) on each experiment.
    _check_sweep(results["short_dependency"], ["vanilla", "lstm"])
    _check_sweep(results["long_dependency"], ["vanilla", "lstm"])
    assert results["short_dependency"]["metric"] == "accuracy"
    assert results["long_dependency"]["metric"] == "mse"
    # Everything went to the temporary store, nothing into the repository.
    assert (tmp_path / "tracking" / "mlflow.db").is_file()
    assert (tmp_path / "tracking" / "tb_logs" / "long_dependency").is_dir()


def test_05_why_vanishing_gradients(tmp_path):
    results, _ = run_lesson("05_why_vanishing_gradients", tmp_path)
    assert results["bound_holds"]  # ||dL/dh_{T-k}|| <= sigma_max(W)^k ||dL/dh_T||
    decay = results["decay"]
    assert decay["0.8"]["fitted_factor_per_step"] <= decay["0.8"]["sigma_max"] + 1e-3
    assert decay["1.0"]["fitted_factor_per_step"] < 1.0  # tanh' < 1: vanishes anyway
    assert decay["0.8"]["norm_at_max_distance_over_last"] < 1e-3
    exploding = results["exploding: linear, W × 1.1"]
    vanishing = results["vanishing: tanh, W × 0.8"]
    assert exploding["clip_factor"] < 1e-2  # clipping tames the exploding gradient
    for case in (exploding, vanishing):  # ... and never changes its shape over time
        assert case["far_over_near_clipped"] == pytest.approx(case["far_over_near"], rel=1e-6)
    assert vanishing["far_over_near_clipped"] < 1e-3  # the vanished part stays vanished
    assert (tmp_path / "tracking" / "mlflow.db").is_file()


def test_06_reusing_the_layer(tmp_path):
    results, _ = run_lesson("06_reusing_the_layer", tmp_path)
    for key in (
        "masking_max_abs_diff",
        "bidirectional_max_abs_diff",
        "save_load_max_abs_diff",
        "port_max_abs_diff",
        "cell_max_abs_diff",
    ):
        assert results[key] < 1e-5, key
    assert results["curves_max_abs_diff"] < 1e-3  # SimpleRNN and VanillaRNN train alike


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_header_follows_the_tutobook_format(name):
    text = (TUTORIALS_DIR / f"{name}.py").read_text()
    header = text.split('"""')[1]
    fields = dict(line.split(": ", 1) for line in header.strip().splitlines())
    assert list(fields) == [
        "Title",
        "Author",
        "Date created",
        "Last modified",
        "Description",
    ]
    assert fields["Author"] == "vanilla-rnn-lab contributors"
