"""The report: read a sweep back from MLflow and show where memory breaks down.

`write_report(parent_run_id)` is called by the runner at the end of every sweep and by
`python -m experiments report NAME`. It reads only what was logged (the FINISHED child
runs of the parent), so any past sweep can be redrawn. The parent's `report` tag names
its kind, a key of `REPORT_KINDS`:

- `breakdown`: test metric against dependency length, one curve per model (a "curve" is
  a model variant plus any other grid axis that varies within it), the band over seeds,
  the chance level and the solved threshold; the fraction of seeds that solved each
  length; each curve's memory horizon, logged on the parent run as `horizon_<curve>`.
  Every other kind starts from it.
- `depth`: the breakdown, plus the horizon against the number of layers.
- `two_weights`: u and w during training against their targets alpha and 1 - alpha.
- `gradient_flow`: the gradient norm against distance at initialization and after
  training, and the fitted per-step decay factor beside sigma_max(W) and its bound.
- `horizon_levers`: the breakdown per lever (a model variant), each lever's horizon with
  its seed band, and the horizon its gradient decay predicts beside the one measured.

Modules: `results` (the runs as a table), `horizon` (the analysis), `text` (Markdown and
the terminal summary), `to_tensorboard`, `writer` (the entry point), `kinds` (the
registry), and one module per kind. Adding a kind: a module with `add_to_report(report)`
and one entry in `config.registries.REPORT_KINDS`.
"""

from experiments.config.registries import REPORT_KINDS
from experiments.report.kinds import kind_module


def write_report(parent_run_id, *, out_dir=None, client=None, tracking_config=None):
    """Draws and logs the report of one sweep; see `experiments.report.writer.write_report`."""
    from experiments.report import writer

    return writer.write_report(
        parent_run_id, out_dir=out_dir, client=client, tracking_config=tracking_config
    )


__all__ = ["REPORT_KINDS", "kind_module", "write_report"]
