"""One figure style for the whole book; figures are saved and glued for numbered captions."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

__all__ = ["use_style", "savefig", "show", "PALETTE", "FULL_WIDTH", "ROW_HEIGHT"]

PALETTE = "colorblind"
#: Width in inches of a figure that fills the book's text column (about 784 px at 110 dpi).
FULL_WIDTH = 7.1
#: Height in inches of one row of panels.
ROW_HEIGHT = 3.0


def use_style() -> None:
    """Apply the book's seaborn style: white grid, colour-blind palette, a white figure
    background (readable in dark mode too) and fonts of at least 10 pt at the column width."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=0.95,
                  rc={"figure.dpi": 110, "savefig.dpi": 150,
                      "figure.figsize": (FULL_WIDTH, ROW_HEIGHT + 0.4),
                      "figure.facecolor": "white", "savefig.facecolor": "white",
                      "legend.framealpha": 0.9, "axes.titlesize": "medium",
                      "svg.hashsalt": "contexture"})


def savefig(fig: plt.Figure, name: str) -> None:
    """Save ``fig`` as ``<name>.png`` in ``$CONTEXTURE_FIGURES_DIR`` (default ``./figures``).

    Returns nothing, so that a cell ending with ``savefig(...)`` shows only the figure.
    """
    out = Path(os.environ.get("CONTEXTURE_FIGURES_DIR", "figures"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})


def show(fig: plt.Figure, name: str) -> None:
    """Save ``fig`` and glue it under ``name`` for a numbered, captioned figure in the prose::

        ```{glue:figure} fig_context_scaling
        :name: fig-context-scaling
        :alt: what the figure shows, in words

        Caption saying what to see.
        ```

    The figure is closed, so the (hidden) plotting cell itself displays nothing.
    """
    savefig(fig, name)
    try:
        from myst_nb import glue
    except ImportError:  # outside the book toolchain: just show it
        plt.show()
        return
    glue(name, fig, display=False)
    plt.close(fig)
