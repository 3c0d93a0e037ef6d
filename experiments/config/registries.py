"""The names a config may give for a probe or a report kind, and the code behind each.

They live here, as strings, so that checking a config reads them without importing
`experiments.probes` or `experiments.report` (nor Keras, TensorFlow or pandas): the code
is resolved only when a run builds its callbacks (`probes.probe_class`) or a report is
drawn (`report.kind_module`).
"""

# Probe name (the config's `probes` list) -> "module:class" of its Keras callback.
PROBES = {
    "weights": "experiments.probes.weights:WeightsProbe",
    "gradient_flow": "experiments.probes.gradient_flow:GradientFlowProbe",
}

# Report kind (the config's `report`) -> the module whose `add_to_report(report)` fills it.
REPORT_KINDS = {
    "breakdown": "experiments.report.breakdown",
    "depth": "experiments.report.depth",
    "two_weights": "experiments.report.two_weights",
    "gradient_flow": "experiments.report.gradient_flow",
    "horizon_levers": "experiments.report.horizon_levers",
}
