"""The report kinds (the config's `report`, named in `config.registries.REPORT_KINDS`),
resolved only when a report is drawn, so that checking a config needs no pandas."""

import importlib

from experiments.config.registries import REPORT_KINDS


def kind_module(kind):
    """The module of a report kind, or a ValueError listing the known kinds."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"Unknown report kind {kind!r}; known kinds: {', '.join(REPORT_KINDS)}.")
    return importlib.import_module(REPORT_KINDS[kind])
