"""Shared machinery of the report's figures: selecting rows of the tidy table, replicate means,
pixel-layer normalisation, styles that keep series apart, legends outside the axes, the
"no data" panel and atomic PNG + PDF output (``docs/report.md#report-reading``).

Selection rules every figure follows:

* a measure is picked by ``(analysis, measure)`` and by experiment (the baseline analyses
  are the rows whose ``experiment`` equals their ``analysis``);
* flagged rows (solver failures, or an experiment's variant that does not apply to the data)
  and non-finite values are never drawn; figures count them in a footnote;
* replicates of a manifold set (rows of one ``manifold_set``, ``replicate`` 0 … K) are drawn as
  their mean with the standard error of the mean, s.e. = sd / √K+1, as error bars; a set
  without replicates has no error bar.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..data.files import atomic_path

DIRECT = ("capacity", "capacity")
"""(analysis, measure) of the direct (simulated) capacity α_c."""
THEORY = ("geometry", "capacity")
"""(analysis, measure) of the mean-field-theory capacity α_M."""
RADIUS = ("geometry", "radius")
DIMENSION = ("geometry", "dimension")
CENTRE_CORRELATION = ("geometry", "centre_correlation")
GEOMETRY_MEASURES = (RADIUS, DIMENSION, CENTRE_CORRELATION)

LABELS = {
    DIRECT: r"capacity $\alpha_c$",
    THEORY: r"theory capacity $\alpha_M$",
    RADIUS: r"radius $R_M$",
    DIMENSION: r"dimension $D_M$",
    CENTRE_CORRELATION: r"centre correlation $\rho_c$",
}

PIXEL_LAYER = "pixels"
KIND_NAMES = {"point-cloud": "point clouds", "1d": "1-d manifolds", "2d": "2-d manifolds"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")
DASHES = ("-", "--", "-.", ":")
DPI = 110
FONT = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
        "xtick.labelsize": 7, "ytick.labelsize": 7, "figure.titlesize": 10}


# ----------------------------------------------------------------------------- output


def save_figure(fig, path: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` atomically (legends outside the axes
    included); close it; return the paths."""
    path = Path(path)
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=DPI, bbox_inches="tight")
        out.append(target)
    plt.close(fig)
    return out


def no_data_figure(path, title: str, reason: str) -> list[Path]:
    """A figure that says it has no data in this configuration, and why (so that a rule's
    fixed outputs always exist and a reader knows which configuration would fill it)."""
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(6.5, 2.4))
        ax.set_axis_off()
        ax.text(0.5, 0.62, "No data for this figure in this configuration", ha="center", va="center",
                fontsize=11, weight="bold", transform=ax.transAxes)
        ax.text(0.5, 0.3, reason, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
        fig.suptitle(title)
        return save_figure(fig, path)


def subplots(n_rows: int, n_cols: int, *, width: float = 3.0, height: float = 2.3, **kwargs):
    """A grid of panels of the given size (inches), always 2-d."""
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False, **kwargs)
    return fig, axes


def panel_grid(n_panels: int, n_cols: int, *, width: float = 3.0, height: float = 2.3):
    """``n_panels`` panels wrapped into rows of at most ``n_cols`` (figures stay at most a few
    panels wide, so they are readable at the report's width); unused cells are hidden.
    Returns the figure and the list of the ``n_panels`` axes, row-major."""
    n_cols = max(1, min(n_cols, n_panels))
    n_rows = max(1, -(-n_panels // n_cols))
    fig, axes = subplots(n_rows, n_cols, width=width, height=height)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_axis_off()
    return fig, flat[:n_panels]


def finish(fig, title: str) -> None:
    """The figure's title above the panels (room kept for it whatever the figure's height),
    then a tight layout."""
    fig.tight_layout()
    height = fig.get_size_inches()[1]
    fig.suptitle(title, y=1.0 + 0.08 / height, va="bottom")  # above the panels; saved with them


def footnote(fig, lines: Iterable[str]) -> None:
    """Small text under the panels (dropped values, normalisation, replicates)."""
    text = "\n".join(line for line in lines if line)
    if text:
        fig.text(0.0, -0.005, text, ha="left", va="top", fontsize=6.5, color="0.3")


def legend_outside(fig, handles: Sequence, labels: Sequence[str], *, title: str | None = None, ncol: int | None = None) -> None:
    """One figure legend to the right of the panels (never over a curve)."""
    if not handles:
        return
    ncol = ncol or (1 if len(labels) <= 18 else 2)
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.98), frameon=False,
               title=title, ncol=ncol, borderaxespad=0.2)


def handles_of(axes_list: Iterable) -> tuple[list, list[str]]:
    """The distinct (label → handle) pairs drawn over several panels, in drawing order."""
    seen: dict[str, object] = {}
    for ax in axes_list:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab and not lab.startswith("_") and lab not in seen:
                seen[lab] = h
    return list(seen.values()), list(seen)


def blank(ax, text: str = "no data") -> None:
    """Mark a panel of a grid that has nothing to draw."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=7, color="0.45", transform=ax.transAxes)


# ----------------------------------------------------------------------------- rows


def experiment_of(table: pd.DataFrame) -> pd.Series:
    return table["experiment"].astype(str) if "experiment" in table else table["analysis"].astype(str)


def is_baseline(table: pd.DataFrame) -> pd.Series:
    """Rows of the baseline analyses (not of an experiment's variants)."""
    return experiment_of(table) == table["analysis"].astype(str)


class Dropped:
    """Counts of rows left out of a figure (flagged or non-finite), for its footnote."""

    def __init__(self) -> None:
        self.flagged = 0
        self.nonfinite = 0

    def add(self, flagged: int, nonfinite: int) -> None:
        self.flagged += int(flagged)
        self.nonfinite += int(nonfinite)

    def note(self) -> str:
        parts = []
        if self.flagged:
            parts.append(f"{self.flagged} flagged value(s) (solver failures or a variant that does not apply) not drawn")
        if self.nonfinite:
            parts.append(f"{self.nonfinite} undefined (NaN) value(s) not drawn")
        return "; ".join(parts)


def select(
    table: pd.DataFrame,
    key: tuple[str, str],
    *,
    experiment: str | None = None,
    dropped: Dropped | None = None,
) -> pd.DataFrame:
    """Trusted rows of one measure: of the baseline analysis (``experiment=None``) or of one
    experiment; flagged and non-finite values removed (and counted in ``dropped``)."""
    analysis, measure = key
    rows = table[(table["analysis"] == analysis) & (table["measure"] == measure)]
    rows = rows[is_baseline(rows)] if experiment is None else rows[experiment_of(rows) == experiment]
    flagged = rows["flagged"].astype(bool) if "flagged" in rows else pd.Series(False, index=rows.index)
    finite = np.isfinite(pd.to_numeric(rows["value"], errors="coerce"))
    if dropped is not None:
        dropped.add(flagged.sum(), (~finite & ~flagged).sum())
    return rows[finite & ~flagged].copy()


def replicate_stats(rows: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, standard error of the mean and count of ``value`` over the replicates of each
    group ``by`` (which should name ``manifold_set``, never ``manifold`` or ``replicate``).

    Returns one row per group with columns ``by`` + ``mean``, ``sem`` (NaN for one replicate)
    and ``n``.
    """
    if rows.empty:
        return pd.DataFrame(columns=[*by, "mean", "sem", "n"])
    grouped = rows.groupby(list(by), dropna=False, sort=True)[value]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"])
    out.loc[out["n"] < 2, "sem"] = np.nan
    return out.drop(columns="sd")


def normalise_to_pixels(rows: pd.DataFrame, keys: Sequence[str]) -> tuple[pd.DataFrame, bool]:
    """Divide ``value`` by its value at the pixel layer of the same ``keys`` group (e.g.
    network, manifold, transform, variant), as the paper plots capacity.

    A group without a ``pixels`` row is divided by its lowest recorded layer instead. Returns
    the normalised rows (column ``reference_layer`` added) and whether every group had pixels.
    """
    if rows.empty:
        return rows.assign(reference_layer=pd.Series(dtype=str)), True
    rows = rows.copy()
    order = rows.assign(_not_pixels=(rows["layer"] != PIXEL_LAYER).astype(int)).sort_values(["_not_pixels", "layer_index"])
    ref = order.groupby(list(keys), dropna=False, sort=False)[["value", "layer"]].first()
    ref = ref.rename(columns={"value": "_ref", "layer": "reference_layer"})
    rows = rows.join(ref, on=list(keys))
    rows["value"] = rows["value"] / rows["_ref"]
    rows = rows[np.isfinite(rows["value"])]
    return rows.drop(columns="_ref"), bool((ref["reference_layer"] == PIXEL_LAYER).all())


def networks_in(table: pd.DataFrame) -> list[str]:
    return sorted(table["network"].astype(str).unique())


def manifold_sets(rows: pd.DataFrame) -> list[str]:
    """Manifold sets of ``rows`` ordered by range factor (then name)."""
    sets = rows.drop_duplicates("manifold_set")[["manifold_set", "range_factor"]].copy()
    sets["_rf"] = pd.to_numeric(sets["range_factor"], errors="coerce").fillna(np.inf)
    return sets.sort_values(["_rf", "manifold_set"])["manifold_set"].astype(str).tolist()


def rf_text(value) -> str:
    v = pd.to_numeric(value, errors="coerce")
    if v is None or not np.isfinite(v):
        return ""
    return f"{v:g}"


def set_label(rows: pd.DataFrame, manifold_set: str) -> str:
    """``"rf 4 (affine_1d_rf4)"`` for a set with a range factor, else the set's name."""
    sub = rows[rows["manifold_set"] == manifold_set]
    rf = rf_text(sub["range_factor"].iloc[0]) if len(sub) else ""
    return f"range factor {rf} ({manifold_set})" if rf else manifold_set


def replicate_note(stats: pd.DataFrame) -> str:
    if stats.empty or not (stats["n"] > 1).any():
        return ""
    ns = sorted(int(n) for n in stats.loc[stats["n"] > 1, "n"].unique())
    return f"error bars: ± standard error over the replicates of a manifold set (n = {', '.join(map(str, ns))})"


# ----------------------------------------------------------------------------- styles


def series_colours(n: int, cmap: str = "viridis") -> list:
    """``n`` distinguishable colours along a sequential colour map (ordered series, e.g. range
    factors or layers: dark = first; the pale end of the map is not used)."""
    if n <= 0:
        return []
    if n == 1:
        return [plt.get_cmap(cmap)(0.3)]
    return [plt.get_cmap(cmap)(0.8 * k / (n - 1)) for k in range(n)]


def category_colours(n: int) -> list:
    """``n`` distinguishable colours for unordered series (networks, variants)."""
    base = plt.get_cmap("tab10").colors
    return [base[k % len(base)] for k in range(n)]


def style(k: int, colour) -> dict:
    """Line style ``k``: colour, a marker and a dash pattern that both change with ``k`` so
    that overlapping series stay distinguishable."""
    return {"color": colour, "marker": MARKERS[k % len(MARKERS)], "linestyle": DASHES[k % len(DASHES)],
            "markersize": 4.5, "linewidth": 1.3, "alpha": 0.9, "markerfacecolor": "none" if k % 2 else colour}


def dodge(k: int, n: int, width: float = 0.3) -> float:
    """Horizontal offset of series ``k`` of ``n`` on a categorical (layer) axis, so markers and
    error bars of equal values do not sit on top of each other."""
    return 0.0 if n <= 1 else width * (k / (n - 1) - 0.5)


def draw_series(ax, x, y, sem=None, *, label: str | None = None, **kw) -> None:
    """A line with markers and, where ``sem`` is finite, error bars of ± s.e."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ax.plot(x, y, label=label, **kw)
    if sem is not None:
        s = np.asarray(sem, dtype=float)[order]
        ok = np.isfinite(s)
        if ok.any():
            ax.errorbar(x[ok], y[ok], yerr=s[ok], fmt="none", ecolor=kw.get("color"), elinewidth=0.9,
                        capsize=2.0, alpha=kw.get("alpha", 0.9))


def layer_ranks(layers: pd.DataFrame) -> dict[int, int]:
    """Evenly spaced x positions of the layers of ``layers`` (its ``layer_index`` values in
    depth order → 0, 1, 2, …): layers are categories, drawn in network order."""
    idx = sorted({int(i) for i in layers["layer_index"]})
    return {i: k for k, i in enumerate(idx)}


def layer_x(rows: pd.DataFrame, ranks: Mapping[int, int], offset: float = 0.0) -> np.ndarray:
    """x positions of ``rows`` on a layer axis of ``ranks``, shifted by ``offset``."""
    return np.asarray([ranks[int(i)] for i in rows["layer_index"]], dtype=float) + offset


def layer_axis(ax, layers: pd.DataFrame, *, max_labels: int = 24) -> dict[int, int]:
    """Layer names as x tick labels at their :func:`layer_ranks` positions (thinned when there
    are many); returns the positions."""
    ranks = layer_ranks(layers)
    names = layers.drop_duplicates("layer_index").set_index("layer_index")["layer"].astype(str)
    idx = sorted(ranks)
    step = max(1, math.ceil(len(idx) / max_labels))
    keep = list(range(0, len(idx), step))
    if keep and keep[-1] != len(idx) - 1:
        keep.append(len(idx) - 1)
    ax.set_xticks([ranks[idx[k]] for k in keep])
    ax.set_xticklabels([names[idx[k]] for k in keep], rotation=60, ha="right", fontsize=6.5)
    if idx:
        ax.set_xlim(-0.5, len(idx) - 0.5)
    ax.set_xlabel("")
    return ranks


def log_axis(ax, which: str = "xy", base: float = 10) -> None:
    """Logarithmic axes with plain-number tick labels (0.5, 1, 2 rather than 5×10⁻¹)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        (ax.set_xscale if name == "x" else ax.set_yscale)("log", base=base)
        if base == 10:
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(fmt)
        axis.set_minor_formatter(NullFormatter())


def layer_key(fig, layers: Sequence[str], colours: Sequence, *, title: str = "layer") -> None:
    """A key of layer colours outside the panels: a legend for few layers, a discrete colour
    bar with the layer names for many."""
    if len(layers) <= 16:
        handles = [Line2D([], [], **style(k, c)) for k, c in enumerate(colours)]
        legend_outside(fig, handles, list(layers), title=title)
        return
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap(list(colours))
    norm = BoundaryNorm(np.arange(len(layers) + 1) - 0.5, len(layers))
    cax = fig.add_axes([1.01, 0.1, 0.015, 0.8])
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, ticks=np.arange(len(layers)))
    bar.ax.set_yticklabels(list(layers), fontsize=6)
    bar.set_label(title)


def identity_line(ax, values: Iterable[float], *, label: str = "y = x") -> None:
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], dtype=float)
    if not len(v):
        return
    lo, hi = v.min() / 1.2, v.max() * 1.2
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.9, ls="--", label=label, zorder=0)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)


def panel_title(*parts: object) -> str:
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def option_columns(rows: pd.DataFrame) -> list[str]:
    """The ``variant_<option>`` columns an experiment's rows actually use (status excluded)."""
    cols = []
    for col in rows.columns:
        if not col.startswith("variant_") or col == "variant_status":
            continue
        values = rows[col]
        used = values.notna() & (values.astype(str) != "") & (values.astype(str) != "nan")
        if used.any():
            cols.append(col)
    return cols


def experiments_by_option(table: pd.DataFrame) -> Mapping[str, list[str]]:
    """``{experiment: [option, …]}`` for every experiment in the table (options without the
    ``variant_`` prefix)."""
    exps = table[~is_baseline(table)]
    out: dict[str, list[str]] = {}
    for name, rows in exps.groupby(experiment_of(exps), sort=True):
        out[str(name)] = [c[len("variant_"):] for c in option_columns(rows)]
    return out
