"""Separability curves f(n): the fraction of random dichotomies whose object manifolds are
linearly separable after a random projection to n features, the curve whose 0.5 crossing is
N_c (α_c = P/N_c).

One figure per (network, manifold set), drawn from the capacity results of its sessions
(``separable_fraction`` over ``n_features``): one panel per (replicate, transform), at most
three panels a row so that the curves stay readable at the report's width, one curve per
layer (colour = depth, the same in every panel) with the layer key outside the panels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..data.files import fast_engine
from ..errors import UserError
from .plotting import (
    FONT,
    finish,
    layer_key,
    log_axis,
    no_data_figure,
    panel_grid,
    panel_title,
    save_figure,
    series_colours,
    style,
)

__all__ = ["curve_entries", "plot_separability_curves", "plot_separability_from_results", "read_curve"]


def read_curve(path, group: str | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(n, f(n), N_c) of a capacity result (of one group of the workflow's multi-set files);
    untested n (NaN fractions) removed, n sorted."""
    import xarray as xr

    with xr.open_dataset(path, engine=fast_engine(), group=group) as ds:
        n = np.asarray(ds["n_features"].values, dtype=float)
        frac = np.asarray(ds["separable_fraction"].values, dtype=float)
        n_c = float(ds["critical_n_features"].values) if "critical_n_features" in ds else float("nan")
    keep = np.isfinite(frac)
    order = np.argsort(n[keep])
    return n[keep][order], frac[keep][order], n_c


def plot_separability_curves(
    panels: Sequence[tuple[str, Sequence[tuple[str, int, np.ndarray, np.ndarray, float]]]],
    path,
    *,
    title: str = "Separability curves f(n)",
) -> list[Path]:
    """Small multiples of f(n).

    Parameters
    ----------
    panels : sequence of (panel title, curves)
        ``curves`` are ``(layer, layer_index, n, f(n), N_c)``; ``N_c`` (NaN: none) is marked
        on its curve at f = 0.5.
    """
    if not panels or not any(curves for _, curves in panels):
        return no_data_figure(path, title, "No separability curves: the capacity analysis did not run for this set.")
    layer_order = sorted({(idx, layer) for _, curves in panels for layer, idx, *_ in curves})
    layers = [layer for _, layer in layer_order]
    colours = dict(zip(layers, series_colours(len(layers))))
    with plt.rc_context({**FONT, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8}):
        fig, axes = panel_grid(len(panels), 3, width=3.7, height=2.9)
        for ax, (ptitle, curves) in zip(axes, panels):
            for layer, _, n, frac, n_c in sorted(curves, key=lambda c: c[1]):
                k = layers.index(layer)
                st = style(k, colours[layer]) | {"markersize": 3, "linewidth": 1.2}
                ax.plot(n, frac, label=layer, **st)
                if np.isfinite(n_c):
                    ax.plot([n_c], [0.5], marker="|", color=colours[layer], ms=9, mew=1.5)
            ax.axhline(0.5, color="k", lw=0.7, ls=":")
            log_axis(ax, "x")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("number of features n (log scale)")
            ax.set_ylabel("fraction separable f(n)")
            ax.set_title(ptitle)
            ax.grid(alpha=0.25, which="both")
        layer_key(fig, layers, [colours[layer] for layer in layers])
        finish(fig, title)
        fig.text(0.0, -0.005, "dotted: f = 0.5; tick on a curve: its N_c (the first tested n with f(n) ≥ 0.5), "
                 "α_c = P / N_c", ha="left", va="top", fontsize=7, color="0.3")
        return save_figure(fig, path)


def curve_entries(entries: Sequence[Mapping], network: str, manifold_set: str) -> list[Mapping]:
    """The baseline capacity entries (of the workflow's analysis entries) of one network and
    manifold set (every replicate)."""
    return [
        e for e in entries
        if e["network"] == network and e.get("manifold_set", e.get("manifold")) == manifold_set
        and e.get("experiment", e.get("analysis")) == "capacity" and e.get("analysis", "capacity") == "capacity"
    ]


def plot_separability_from_results(entries: Sequence[Mapping], path, *, network: str, manifold_set: str) -> list[Path]:
    """f(n) of one (network, manifold set): one panel per (replicate, transform), one curve per
    layer.

    Parameters
    ----------
    entries : sequence of mapping
        Capacity results, each with ``path`` and ``network``, ``manifold``, ``replicate``,
        ``layer``, ``layer_index``, ``transform`` (other networks and sets are ignored).
    """
    mine = curve_entries(entries, network, manifold_set)
    if not mine:
        raise UserError(f"no capacity results of network {network!r} and manifold set {manifold_set!r}")
    panels: dict[tuple[int, str], list] = {}
    names: dict[int, str] = {}
    for e in mine:
        rep = int(e.get("replicate", 0))
        names[rep] = e.get("manifold", manifold_set)
        n, frac, n_c = read_curve(e["path"], e.get("group"))
        panels.setdefault((rep, e["transform"]), []).append((e["layer"], int(e["layer_index"]), n, frac, n_c))
    many = len(names) > 1
    ordered = [
        (panel_title(names[rep] if many else None, transform), curves)
        for (rep, transform), curves in sorted(panels.items())
    ]
    kind = mine[0].get("kind", "")
    p = mine[0].get("n_objects", "")
    return plot_separability_curves(
        ordered, path, title=panel_title(f"Separability curves f(n): {network}", manifold_set, kind, f"P = {p}" if p != "" else "")
    )
