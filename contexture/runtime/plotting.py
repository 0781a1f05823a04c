"""One figure style for the whole book, and figure saving next to the executed notebook."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["use_style", "savefig", "PALETTE"]

PALETTE = "colorblind"


def use_style() -> None:
    """Apply the book's seaborn style (white grid, colour-blind palette, compact fonts)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE,
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "figure.figsize": (6.4, 3.6),
                      "axes.titlesize": "medium", "svg.hashsalt": "contexture"})


def savefig(fig: plt.Figure, name: str) -> None:
    """Save ``fig`` as ``<name>.png`` in ``$CONTEXTURE_FIGURES_DIR`` (default ``./figures``).

    Returns nothing, so that a cell ending with ``savefig(...)`` shows only the figure.
    """
    out = Path(os.environ.get("CONTEXTURE_FIGURES_DIR", "figures"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
