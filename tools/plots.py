"""The pictures of compare.py: every implementation's loss curve, and how far each drifts from hand.

matplotlib is imported only here and only when a plot is asked for (it costs ~0.7 s), with the
Agg backend: PNG files, no display needed.
"""
import io
import math

import impls
from shared.store import write_atomic
from tools.tables import present


def plot_losses(run, path):
    """Two panels, one PNG: mean loss per epoch for each implementation, and |loss - hand's| on a log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, drift) = plt.subplots(1, 2, figsize=(11, 4.2))
    results = run["results"]
    hand = results["hand"].get("losses")
    for key in present(run):
        losses = results[key].get("losses")
        if not losses:
            continue
        epochs = range(1, len(losses) + 1)
        # One colour per implementation in both panels; dashes keep a curve visible when another
        # lies exactly on top of it, as they do here.
        index = impls.KEYS.index(key)
        style = {"color": f"C{index}", "label": key}
        curves.plot(epochs, losses, linestyle=("-", "--", "-.", ":")[index], **style)
        if key == "hand" or not hand:
            continue
        diffs = [abs(a - b) for a, b in zip(losses, hand)]
        shown = [(e, d) for e, d in zip(epochs, diffs) if math.isfinite(d) and d > 0]
        if shown:
            drift.plot(*zip(*shown), linewidth=1, **style)
        else:
            # A log scale cannot draw 0: say so rather than leave the line out silently.
            drift.plot([], [], color=style["color"], label=f"{key}: identical to hand at every epoch")
    c = run["config"]
    curves.set(title=f"Mean loss, {c['task']}, lr {c['lr']:g}, {c['dtype']}", xlabel="epoch", ylabel="mean (t - p)^2")
    drift.set(title=f"|loss - hand's float64 loss| per epoch, {c['dtype']}", xlabel="epoch",
              ylabel="absolute difference", yscale="log")
    for axes in (curves, drift):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    return save_png(figure, path)


def save_png(figure, path, dpi=110):
    """A matplotlib figure to a PNG at path, atomically; the figure is closed either way."""
    import matplotlib.pyplot as plt
    png = io.BytesIO()
    try:
        figure.savefig(png, format="png", dpi=dpi)
    finally:
        plt.close(figure)
    return write_atomic(path, png.getvalue())
