"""Figures, in one place: every plot of the reports and the probes.

Figures are drawn off-screen (matplotlib's Agg backend, chosen by `pyplot()` where the
process has not chosen one),
returned as matplotlib `Figure`s, and saved by the caller (as a PNG artifact, a
TensorBoard image or a file).

- `breakdown`: the breakdown curve and the horizon against depth.
- `two_weights`: the two-weight network's loss surface and its (u, w) trajectories.
- `gradient_flow`: gradient norm against distance.
- `levers`: the horizon per lever, its seed band, and the horizons the decay predicts.
"""

import io


def pyplot():
    """`matplotlib.pyplot`, on the off-screen Agg backend (no display needed) unless the
    process chose its backend already: a notebook that runs a sweep keeps showing its own
    figures (switching the backend is process-wide)."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_to_png(figure, dpi=100):
    """Renders a figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def color(index):
    """The `index`-th colour of matplotlib's default cycle (wrapping around)."""
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return colors[index % len(colors)]
