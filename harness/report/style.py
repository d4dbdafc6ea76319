"""The paper style shared by every figure: sizes, fonts, palette, and writing PDF + PNG.

Widths are those of a two-column paper (IEEE/ACM): one column 3.5 in, both columns 7.16 in. Fonts are
embedded as TrueType (Type 42), which publishers' checkers accept, never as Type 3. Text is at least
7 pt at print size. Colours are the Okabe–Ito palette, which stays distinct under the common forms of
colour blindness and in greyscale by its lightness; markers and hatches repeat the distinction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "DOUBLE_IN",
    "MARKERS",
    "PALETTE",
    "SINGLE_IN",
    "ci_bars",
    "color",
    "figure_legend",
    "legend_columns",
    "legend_height_in",
    "marker",
    "new_figure",
    "paper_style",
    "save_figure",
]

SINGLE_IN = 3.5
DOUBLE_IN = 7.16
PNG_DPI = 300

# Okabe & Ito (2008), "Color Universal Design"; black last, kept for reference lines.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

RC: dict[str, Any] = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "figure.dpi": 100,
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


def color(index: int) -> str:
    """The palette's colour for series ``index`` (wrapping; markers and hatches tell repeats apart)."""
    return PALETTE[index % len(PALETTE)]


def marker(index: int) -> str:
    """The marker of series ``index``, shifted by one each time the colours wrap.

    No two of the first 64 series share both colour and marker.
    """
    return MARKERS[(index + index // len(PALETTE)) % len(MARKERS)]


@contextmanager
def paper_style() -> Iterator[None]:
    """Apply the paper rcParams for the figures built inside the block."""
    with mpl.rc_context(RC):
        yield


def new_figure(width_in: float, height_in: float, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure of the given print size (inches) with ``ncols`` axes side by side, laid out to fit.

    Built without pyplot, so nothing is kept in a global registry and no figure needs closing.
    """
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False, **kwargs)
    return figure, list(axes[0])


def new_grid(width_in: float, height_in: float, nrows: int, ncols: int, **kwargs: Any) -> tuple[Figure, list[list[Any]]]:
    """A figure of ``nrows`` × ``ncols`` axes (a list of rows), laid out to fit, like ``new_figure``."""
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, **kwargs)
    return figure, [list(row) for row in axes]


def legend_columns(labels: Sequence[str], width_in: float) -> int:
    """The most legend columns whose labels (7 pt, laid out row by row) fit in ``width_in``."""

    def item_pt(label: str) -> float:
        return 3.6 * len(label) + 18  # DejaVu Sans at 7 pt: ~3.5 pt per character; handle, padding and spacing

    for ncols in range(len(labels), 1, -1):
        widths = [max(item_pt(label) for label in labels[column::ncols]) for column in range(ncols)]
        if sum(widths) <= width_in * 72 * 0.95:
            rows = -(-len(labels) // ncols)
            return -(-len(labels) // rows)  # as few columns as keep that many rows: rows come out balanced
    return 1


def legend_height_in(labels: Sequence[str], width_in: float) -> float:
    """Height (inches) a ``figure_legend`` of ``labels`` takes: figures add it so their axes keep their size."""
    ncols = legend_columns(labels, width_in)
    return 0.17 * -(-len(labels) // ncols) + 0.1


def figure_legend(figure: Figure, handles: Sequence[Any], labels: Sequence[str], width_in: float, **kwargs: Any) -> None:
    """A legend above the axes (never over the data), read row by row in the order given."""
    ncols = legend_columns(labels, width_in)
    order = [i for column in range(ncols) for i in range(column, len(labels), ncols)]  # matplotlib fills columns first
    figure.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="outside upper center",
        ncols=ncols,
        handlelength=1.0,
        handletextpad=0.4,
        columnspacing=0.8,
        **kwargs,
    )


def ci_bars(axes: Any, centre: Any, position: Any, low: Any, high: Any, horizontal: bool = True, color: str = "black") -> None:
    """95% CI error bars where the interval is known, and none (not a false zero width) where it is not."""
    centre, position, low, high = (np.asarray(v, dtype=float) for v in (centre, position, low, high))
    known = np.isfinite(low) & np.isfinite(high) & np.isfinite(centre)
    if not known.any():
        return
    err = np.array([centre[known] - low[known], high[known] - centre[known]]).clip(min=0)
    x, y = (centre[known], position[known]) if horizontal else (position[known], centre[known])
    axes.errorbar(
        x, y, xerr=err if horizontal else None, yerr=None if horizontal else err, fmt="none", ecolor=color, elinewidth=0.7, zorder=3
    )


def save_figure(figure: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name``.pdf (vector) and ``name``.png (300 dpi) into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.pdf", out_dir / f"{name}.png"]
    with mpl.rc_context(RC):
        for path in paths:
            figure.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    return paths
