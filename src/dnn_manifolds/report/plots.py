"""Figures of a run, drawn from the tidy table (:mod:`dnn_manifolds.report.tables`).

Every figure is written as PNG and PDF (same stem), atomically, with labelled axes and a legend:

* :func:`plot_capacity_vs_layer` — direct capacity α_c and mean-field-theory capacity α_M along
  the layers of each network (the paper's Fig. 2/3 style);
* :func:`plot_geometry_vs_layer` — manifold radius R_M, dimension D_M and centre correlation
  along the layers;
* :func:`plot_theory_vs_simulation` — α_M against α_c, one point per (network, layer,
  transform), with the identity line;
* :func:`plot_separability_curves` — the fraction of separable dichotomies f(n) against the
  number of features n, one curve per layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..data.files import NETCDF_ENGINE, atomic_path  # noqa: E402
from ..errors import UserError

DIRECT_CAPACITY = ("capacity", "capacity")
"""(analysis, measure) of the direct capacity α_c in the tidy table."""
THEORY_CAPACITY = ("geometry", "capacity")
"""(analysis, measure) of the mean-field-theory capacity α_M (harmonic mean over objects)."""
RADIUS = ("geometry", "radius")
DIMENSION = ("geometry", "dimension")
CENTRE_CORRELATION = ("geometry", "centre_correlation")

LABELS = {
    DIRECT_CAPACITY: r"direct capacity $\alpha_c = P/N_c$",
    THEORY_CAPACITY: r"theory capacity $\alpha_M$",
    RADIUS: r"manifold radius $R_M$",
    DIMENSION: r"manifold dimension $D_M$",
    CENTRE_CORRELATION: r"centre correlation $\rho_c$",
}


def save_figure(fig, path: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` atomically; close it; return the paths."""
    path = Path(path)
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=120, bbox_inches="tight")
        out.append(target)
    plt.close(fig)
    return out


def _select(table: pd.DataFrame, key: tuple[str, str]) -> pd.DataFrame:
    """Rows of one measure of one baseline analysis (experiments' variants left out)."""
    analysis, measure = key
    baseline = table["experiment"] == analysis if "experiment" in table else True
    return table[(table["analysis"] == analysis) & (table["measure"] == measure) & baseline]


def _layer_axis(ax, sub: pd.DataFrame) -> None:
    ticks = sub.drop_duplicates("layer_index").sort_values("layer_index")
    ax.set_xticks(ticks["layer_index"].to_numpy())
    ax.set_xticklabels(ticks["layer"].tolist(), rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("layer")


def plot_measures_vs_layer(
    table: pd.DataFrame,
    path: str | os.PathLike,
    *,
    measures: Mapping[tuple[str, str], str],
    title: str,
) -> list[Path]:
    """One panel per network and measure, one line per (manifold kind, transform) along the layers.

    Parameters
    ----------
    table : DataFrame
        The tidy table.
    measures : mapping
        ``{(analysis, measure): axis label}``; measures absent from the table are skipped, and
        a figure with none of them raises ``ValueError``.
    """
    present = [m for m in measures if not _select(table, m).empty]
    if not present:
        raise UserError(f"none of the measures {list(measures)} are in the table")
    networks = sorted(table["network"].unique())
    fig, axes = plt.subplots(
        len(present), len(networks), figsize=(4.2 * len(networks), 3.0 * len(present)), squeeze=False
    )
    for j, network in enumerate(networks):
        net = table[table["network"] == network]
        for i, measure in enumerate(present):
            ax = axes[i, j]
            sub = _select(net, measure).sort_values("layer_index")
            for (kind, transform), grp in sub.groupby(["kind", "transform"], sort=True):
                grp = grp.groupby(["layer_index", "layer"], as_index=False)["value"].mean()
                ax.plot(grp["layer_index"], grp["value"], marker="o", ms=3, label=f"{kind}: {transform}")
            if not sub.empty:
                _layer_axis(ax, sub)
            ax.set_ylabel(measures[measure])
            if i == 0:
                ax.set_title(network)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_capacity_vs_layer(table: pd.DataFrame, path) -> list[Path]:
    """Direct capacity α_c and theory capacity α_M against layer, per network."""
    return plot_measures_vs_layer(
        table,
        path,
        measures={k: LABELS[k] for k in (DIRECT_CAPACITY, THEORY_CAPACITY)},
        title="Classification capacity along the network",
    )


def plot_geometry_vs_layer(table: pd.DataFrame, path) -> list[Path]:
    """Manifold radius, dimension and centre correlation against layer, per network."""
    return plot_measures_vs_layer(
        table,
        path,
        measures={k: LABELS[k] for k in (RADIUS, DIMENSION, CENTRE_CORRELATION)},
        title="Manifold geometry along the network",
    )


def plot_theory_vs_simulation(table: pd.DataFrame, path) -> list[Path]:
    """Scatter of α_M (theory) against α_c (simulation) with the identity line."""
    keys = ["network", "kind", "layer", "layer_index", "transform"]
    a = _select(table, DIRECT_CAPACITY)[keys + ["value"]].rename(columns={"value": "direct"})
    b = _select(table, THEORY_CAPACITY)[keys + ["value"]].rename(columns={"value": "theory"})
    both = a.merge(b, on=keys)
    if both.empty:
        raise UserError("no (network, layer, transform) has both a direct and a theory capacity")
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for (network, kind), grp in both.groupby(["network", "kind"], sort=True):
        ax.scatter(grp["direct"], grp["theory"], s=14, label=f"{network} ({kind})")
    lo = float(np.nanmin(both[["direct", "theory"]].to_numpy()))
    hi = float(np.nanmax(both[["direct", "theory"]].to_numpy()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
    ax.set_xlabel(LABELS[DIRECT_CAPACITY])
    ax.set_ylabel(LABELS[THEORY_CAPACITY])
    ax.set_title("Theory vs simulation")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_separability_curves(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
    path,
    *,
    title: str = "Separability curves",
) -> list[Path]:
    """f(n), the fraction of separable dichotomies, against the number of features n.

    Parameters
    ----------
    curves : sequence of (label, n, fraction)
        One curve per entry (e.g. per layer); NaN fractions (untested n) are skipped.
    """
    if not curves:
        raise UserError("no separability curves to plot")
    fig, ax = plt.subplots(figsize=(6, 4))
    cmap = plt.get_cmap("viridis")
    for k, (label, n, frac) in enumerate(curves):
        n = np.asarray(n, dtype=float)
        frac = np.asarray(frac, dtype=float)
        keep = np.isfinite(frac)
        order = np.argsort(n[keep])
        ax.plot(n[keep][order], frac[keep][order], marker=".", ms=3, lw=1, color=cmap(k / max(len(curves) - 1, 1)), label=label)
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("number of features n")
    ax.set_ylabel("fraction separable f(n)")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_separability_curves_from_results(entries: Sequence[Mapping], path, *, per_panel_transform: str | None = None) -> list[Path]:
    """f(n) per layer from capacity results: one panel per (network, manifold set).

    Parameters
    ----------
    entries : sequence of mapping
        Each with ``path`` (a capacity result holding ``separable_fraction`` over
        ``n_features``), ``network``, ``manifold`` (or ``kind``), ``layer``, ``layer_index``
        and ``transform``. Per panel only one transform is drawn (``per_panel_transform``, or
        the first listed) so the curves stay readable; colour runs from the first layer
        (dark) to the last (light).
    """
    import xarray as xr


    panels: dict[tuple[str, str], list[Mapping]] = {}
    for e in entries:
        panels.setdefault((e["network"], e.get("manifold", e.get("kind", ""))), []).append(e)
    if not panels:
        raise UserError("no capacity results to draw separability curves from")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, ((network, manifold), group) in zip(axes[0], sorted(panels.items())):
        transform = per_panel_transform or group[0]["transform"]
        group = sorted((e for e in group if e["transform"] == transform), key=lambda e: e["layer_index"])
        for k, e in enumerate(group):
            with xr.open_dataset(e["path"], engine=NETCDF_ENGINE, group=e.get("group")) as ds:
                n = np.asarray(ds["n_features"].values, dtype=float)
                frac = np.asarray(ds["separable_fraction"].values, dtype=float)
            keep = np.isfinite(frac)
            order = np.argsort(n[keep])
            ax.plot(n[keep][order], frac[keep][order], marker=".", ms=3, lw=1,
                    color=cmap(k / max(len(group) - 1, 1)), label=e["layer"])
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("number of features n")
        ax.set_ylabel("fraction separable f(n)")
        ax.set_title(f"{network} / {manifold} ({transform})", fontsize=9)
        ax.legend(fontsize=5, ncol=2)
        ax.grid(alpha=0.3)
    fig.suptitle("Separability curves f(n)")
    fig.tight_layout()
    return save_figure(fig, path)
