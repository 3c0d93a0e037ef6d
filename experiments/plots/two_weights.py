"""The two-weight network's figures: the loss over (u, w), and u and w during training."""

import numpy as np

from experiments.plots import color, pyplot


def plot_loss_surface(u_values, w_values, surface, trajectory, *, optimum=None, title=""):
    """Draws log10(loss) over the (u, w) plane with the training trajectory on top.

    Args:
        u_values, w_values: 1-D grids (x and y axes).
        surface: array (len(w_values), len(u_values)) of losses.
        trajectory: array (k, 2) of (u, w) points, the first at initialization.
        optimum: optional (u, w) point to mark (e.g. (alpha, 1 - alpha) for ewma).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    plt = pyplot()
    surface = np.asarray(surface, dtype=np.float64)
    finite = surface[np.isfinite(surface)]
    floor = max(finite.min(), 1e-12) if finite.size else 1e-12
    # Cap the colour scale at the 75th percentile: the exploding corners (|w| > 1) are
    # orders of magnitude above the rest and would flatten the valley into one colour.
    cap = np.percentile(np.log10(np.clip(finite, floor, None)), 75) if finite.size else 1.0
    log_surface = np.clip(
        np.log10(np.clip(np.nan_to_num(surface, posinf=1e300), floor, None)), None, cap
    )
    figure, axes = plt.subplots(figsize=(6.4, 5.2))
    contour = axes.contourf(u_values, w_values, log_surface, levels=30, cmap="viridis")
    figure.colorbar(contour, ax=axes, label="log10 loss (capped)")
    trajectory = np.asarray(trajectory, dtype=np.float64).reshape(-1, 2)
    if optimum is not None:
        axes.plot(
            *optimum,
            "*",
            markerfacecolor="none",
            markeredgecolor="magenta",
            markersize=18,
            markeredgewidth=1.5,
            label="(alpha, 1 - alpha)",
        )
    axes.plot(
        trajectory[:, 0],
        trajectory[:, 1],
        "-o",
        color="white",
        markersize=3,
        label="after each epoch",
    )
    axes.plot(*trajectory[0], "s", color="orange", markersize=8, label="initial")
    axes.plot(*trajectory[-1], "o", color="red", markersize=6, label="trained")
    axes.set_xlabel("u (input weight)")
    axes.set_ylabel("w (recurrent weight)")
    axes.set_title(title)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure


def plot_two_weights(df, histories, alpha, *, title=""):
    """u and w against epoch for every run, coloured by curve, with alpha and 1 - alpha."""
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.0), sharex=True)
    for index, (curve, group) in enumerate(df.groupby("curve", sort=True)):
        curve_color = color(index)
        for n, (_, run) in enumerate(group.iterrows()):
            history = histories.get(run["run_id"], {})
            for axes, key in ((left, "u"), (right, "w")):
                points = history.get(key, [])
                if points:
                    axes.plot(
                        [p[0] for p in points],
                        [p[1] for p in points],
                        color=curve_color,
                        alpha=0.8,
                        label=str(curve) if n == 0 else None,
                    )
    if alpha is not None:
        left.axhline(alpha, color="black", linestyle=":", label=f"alpha = {alpha:g}")
        right.axhline(1 - alpha, color="black", linestyle=":", label=f"1 - alpha = {1 - alpha:g}")
    for axes, name in ((left, "u (input weight)"), (right, "w (recurrent weight)")):
        axes.set_xlabel("epoch (-1: initialization)")
        axes.set_ylabel(name)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
