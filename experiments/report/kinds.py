"""The report kinds (the config's `report`), resolved only when a report is drawn, so that
checking a config needs no pandas."""

import importlib

# Report kind (the config's `report`) -> the module whose `add_to_report(report)` fills
# it. Resolved only when a report is drawn, so that checking a config needs no pandas.
REPORT_KINDS = {
    "breakdown": "experiments.report.breakdown",
    "depth": "experiments.report.depth",
    "two_weights": "experiments.report.two_weights",
    "gradient_flow": "experiments.report.gradient_flow",
    "horizon_levers": "experiments.report.horizon_levers",
}


def kind_module(kind):
    """The module of a report kind, or a ValueError listing the known kinds."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"Unknown report kind {kind!r}; known kinds: {', '.join(REPORT_KINDS)}.")
    return importlib.import_module(REPORT_KINDS[kind])
