"""`make results`: docs/results.md written from the store, a template's directives filled."""

import json

from experiments import schema, sweep, tracking
from experiments.report import results_doc

TEMPLATE = """# Results

Some literature context.

{{sweep long_dependency smoke}}

{{figure long_dependency smoke breakdown}}

{{figure long_dependency smoke no_such_figure}}

{{sweep latch quick}}
"""


def test_results_are_written_from_the_newest_finished_sweep(tracking_dir, tmp_path):
    overrides = ["grid.model=[vanilla]", "grid.length=[5]"]
    result = sweep.run_sweep("long_dependency", "smoke", overrides, out=lambda line: None)
    template = tmp_path / "results.template.md"
    template.write_text(TEMPLATE)
    out = tmp_path / "docs" / "results.md"
    out.parent.mkdir()
    settings = tracking.load_tracking_config()
    missing = results_doc.main(template, out, settings)
    text = out.read_text()
    assert missing == ["latch quick"]
    assert "Some literature context." in text and "{{" not in text
    assert "**`smoke` profile**: sweep `long_dependency-smoke-" in text
    assert (
        "Reproduce: `make experiment NAME=long_dependency PROFILE=smoke "
        'ARGS="--set grid.model=[vanilla] --set grid.length=[5]"`.'
    ) in text
    assert "#### Memory horizon" in text and "| vanilla |" in text  # the report's tables
    assert (
        "![long_dependency, smoke profile: breakdown](long_dependency_smoke_breakdown.png)" in text
    )
    assert (out.parent / "long_dependency_smoke_breakdown.png").read_bytes()[:4] == b"\x89PNG"
    assert "*Not run in this store yet: `make experiment NAME=latch`.*" in text
    assert "*The sweep's report has no `report/no_such_figure.png`" in text  # and the page goes on
    # The commit the sweep ran at, as its parent run records it.
    import mlflow

    parent = mlflow.MlflowClient(settings.tracking_uri).get_run(result.parent_run_id)
    assert f"commit `{parent.data.tags[schema.GIT_COMMIT][:7]}" in text


def test_the_command_names_the_backend_and_the_sets_but_not_twice():
    class Run:
        class data:
            tags = {
                schema.KERAS_BACKEND: "jax",
                schema.SWEEP_OVERRIDES: json.dumps(["lr=0.01", "backend=jax"]),
            }

    command = results_doc.command("latch", "long", Run)
    assert command == 'make experiment NAME=latch PROFILE=long BACKEND=jax ARGS="--set lr=0.01"'
