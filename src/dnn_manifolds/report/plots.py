"""The report's figures along the layers, drawn from the tidy table (:mod:`.tables`).

Each figure function is a pure function of the table that writes ``<path>.png`` and
``<path>.pdf`` (atomically) and returns both paths; when the table holds nothing the figure
could show, it draws a labelled "no data in this configuration" panel instead of failing, so a
workflow's fixed outputs always exist. :func:`draw_figures` draws every figure of
:data:`FIGURES` into a folder. What each figure shows and which rows it reads:
``docs/report.md#report-figures``.

* :func:`plot_capacity_layers` — direct capacity α_c along the layers, divided by its value at
  the pixel layer, one line per range factor (point clouds: per set and transform), one
  panel per network and transform (the paper's Figs 4, 5b, c);
* :func:`plot_capacity_vs_range_factor` — the last-layer / pixel-layer capacity ratio against
  the range factor (Fig. 5d);
* :func:`plot_geometry_layers` — radius R_M, dimension D_M and centre correlation ρ_c along the
  layers (Figs 6, 7);
* :func:`plot_theory_vs_simulation` — α_M against α_c over every layer and network;
* :func:`plot_trained_vs_untrained` — the networks of one architecture, trained and untrained
  (Figs 3e–g, 7).

The experiments' figures (controls, manipulations, spheres, finite size) are in
:mod:`.experiment_plots`, the separability curves f(n) in :mod:`.curves`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..errors import UserError
from . import experiment_plots
from .catalogue import FIGURE_SPECS, FIGURES
from .plotting import (
    CENTRE_CORRELATION,
    DIMENSION,
    DIRECT,
    FONT,
    GEOMETRY_MEASURES,
    KIND_NAMES,
    LABELS,
    MARKERS,
    PIXEL_LAYER,
    RADIUS,
    THEORY,
    Dropped,
    blank,
    category_colours,
    dodge,
    draw_series,
    finish,
    footnote,
    handles_of,
    identity_line,
    layer_axis,
    layer_x,
    legend_outside,
    log_axis,
    manifold_sets,
    networks_in,
    no_data_figure,
    normalise_to_pixels,
    panel_grid,
    panel_title,
    replicate_note,
    replicate_stats,
    save_figure,
    select,
    series_colours,
    set_label,
    style,
    subplots,
)

__all__ = [
    "FIGURES",
    "draw_figure",
    "draw_figures",
    "plot_capacity_layers",
    "plot_capacity_vs_range_factor",
    "plot_geometry_layers",
    "plot_theory_vs_simulation",
    "plot_trained_vs_untrained",
]

KINDS = ("point-cloud", "1d", "2d")
LAYER_STATS = ["network", "manifold_set", "range_factor", "transform", "layer", "layer_index"]


def _series_for_kind(rows: pd.DataFrame, kind: str) -> tuple[list[tuple], list[str | None]]:
    """Series and panel rows of a layer figure: smooth manifolds get one line per manifold set
    (range factor) and one panel row per transform; point clouds one line per (set, transform)
    in a single row."""
    sets = manifold_sets(rows)
    transforms = sorted(rows["transform"].astype(str).unique())
    if kind == "point-cloud":
        series = [(s, t) for s in sets for t in transforms if ((rows["manifold_set"] == s) & (rows["transform"] == t)).any()]
        return series, [None]
    return [(s, None) for s in sets], transforms


def _series_label(rows: pd.DataFrame, series: tuple) -> str:
    """The legend label of a series: the set (and transform), and how many replicates the
    set has in the figure (its lines are their mean)."""
    manifold_set, transform = series
    label = set_label(rows, manifold_set) if transform is None else f"{manifold_set} · {transform}"
    n = rows.loc[rows["manifold_set"] == manifold_set, "replicate"].nunique()
    return label + (f", {n} replicates" if n > 1 else "")


def _along_layers(
    panels: Sequence[tuple[str, str, str, pd.DataFrame] | None],
    rows: pd.DataFrame,
    kind: str,
    *,
    n_cols: int,
    title: str,
    notes: Sequence[str],
    hline: float | None = None,
    path,
) -> list[Path]:
    """The grid shared by the capacity and geometry figures: one panel per entry of ``panels``
    (``(network, panel title, y label, replicate statistics)``, or None for an empty cell),
    wrapped into rows of ``n_cols``, one line per series of :func:`_series_for_kind` (the same colour, marker and
    dashes in every panel; neighbouring series dodged sideways)."""
    series, _ = _series_for_kind(rows, kind)
    colours = series_colours(len(series)) if kind != "point-cloud" else category_colours(len(series))
    with plt.rc_context(FONT):
        fig, axes = panel_grid(len(panels), n_cols, width=3.1, height=2.35)
        for ax, panel in zip(axes, panels):
            if panel is None:
                ax.set_axis_off()
                continue
            network, ptitle, ylabel, stats = panel
            if stats.empty:
                blank(ax, f"{ptitle}: no data")
                continue
            ranks = layer_axis(ax, rows[rows["network"] == network])
            for k, (manifold_set, transform) in enumerate(series):
                sub = stats[stats["manifold_set"] == manifold_set]
                if transform is not None:
                    sub = sub[sub["transform"] == transform]
                if sub.empty:
                    continue
                st = style(k, colours[k]) | ({"markersize": 2.5} if len(ranks) > 15 else {})
                draw_series(ax, layer_x(sub, ranks, dodge(k, len(series))), sub["mean"], sub["sem"],
                            label=_series_label(rows, (manifold_set, transform)), **st)
            if hline is not None:
                ax.axhline(hline, color="0.5", lw=0.7, ls=":", zorder=0)
            ax.grid(alpha=0.25)
            ax.set_ylabel(ylabel)
            ax.set_title(ptitle)
        handles, labels = handles_of(axes)
        legend_outside(fig, handles, labels, title="manifold set" if kind != "point-cloud" else "set · transform")
        finish(fig, title)
        drawn = [p[3] for p in panels if p is not None]
        stats = pd.concat(drawn) if drawn else pd.DataFrame(columns=["n"])
        footnote(fig, [*notes, replicate_note(stats)])
        return save_figure(fig, path)


def plot_capacity_layers(table: pd.DataFrame, path, *, kind: str) -> list[Path]:
    """Direct capacity α_c along the layers for manifold sets of one ``kind``, divided by its
    value at the pixel layer of the same (network, manifold, transform); replicates averaged
    after normalising. Lines: range factors (point clouds: set · transform)."""
    stem = f"capacity_layers_{kind.replace('-', '_')}"
    title = FIGURE_SPECS[stem].title if stem in FIGURE_SPECS else f"Capacity along the layers: {kind}"
    dropped = Dropped()
    rows = select(table, DIRECT, dropped=dropped)
    rows = rows[rows["kind"] == kind]
    if rows.empty:
        return no_data_figure(path, title, f"The table has no baseline direct capacity of {KIND_NAMES.get(kind, kind)} "
                              f"(a manifold set of kind '{kind}' with capacity enabled draws it).")
    norm, all_pixels = normalise_to_pixels(rows, ["network", "manifold", "transform"])
    ref = PIXEL_LAYER if all_pixels else "first recorded layer"
    ylabel = r"$\alpha_c$ / $\alpha_c$" + f"({ref})"
    _, transforms = _series_for_kind(rows, kind)
    n_cols = 3 if len(transforms) == 1 else 4
    panels: list = []
    for network in networks_in(rows):
        block = []
        for t in transforms:
            sub = norm[norm["network"] == network]
            sub = sub if t is None else sub[sub["transform"] == t]
            block.append((network, panel_title(network, t), ylabel, replicate_stats(sub, LAYER_STATS)))
        # with many transforms, each network starts a row of its own
        panels += block + ([None] * (-len(block) % n_cols) if len(block) > 2 else [])
    notes = [dropped.note(), "" if all_pixels else "groups without a pixel layer are divided by their first recorded layer"]
    return _along_layers(panels, rows, kind, n_cols=n_cols, title=title, notes=notes, hline=1.0, path=path)


def plot_geometry_layers(table: pd.DataFrame, path, *, kind: str) -> list[Path]:
    """Manifold radius R_M, dimension D_M and centre correlation ρ_c along the layers for one
    ``kind`` (not normalised); one panel row per (transform, measure)."""
    stem = f"geometry_layers_{kind.replace('-', '_')}"
    title = FIGURE_SPECS[stem].title if stem in FIGURE_SPECS else f"Geometry along the layers: {kind}"
    dropped = Dropped()
    parts = []
    for key in GEOMETRY_MEASURES:
        sel = select(table, key, dropped=dropped)
        parts.append(sel[sel["kind"] == kind])
    rows = pd.concat(parts)
    if rows.empty:
        return no_data_figure(path, title, f"The table has no baseline geometry of {KIND_NAMES.get(kind, kind)} "
                              f"(a manifold set of kind '{kind}' with geometry enabled draws it).")
    _, transforms = _series_for_kind(rows, kind)
    measures = [key for key in GEOMETRY_MEASURES if (rows["measure"] == key[1]).any()]
    panels = []
    for network in networks_in(rows):
        for t in transforms:
            for key in measures:
                sub = rows[(rows["network"] == network) & (rows["measure"] == key[1])]
                sub = sub if t is None else sub[sub["transform"] == t]
                panels.append((network, panel_title(network, t), LABELS[key], replicate_stats(sub, LAYER_STATS)))
    return _along_layers(panels, rows, kind, n_cols=len(measures), title=title, notes=[dropped.note()], path=path)


def _last_over_pixels(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (network, manifold, transform): the capacity at the network's last recorded layer
    divided by that at its pixel layer (rows without a pixel layer are left out)."""
    out = []
    for _, grp in rows.groupby(["network", "manifold", "transform"], sort=True):
        pix = grp[grp["layer"] == PIXEL_LAYER]
        last = grp[grp["layer_index"] == grp["layer_index"].max()]
        if pix.empty or last.empty or last["layer"].iloc[0] == PIXEL_LAYER:
            continue
        row = last.iloc[0].copy()
        row["value"] = float(last["value"].iloc[0]) / float(pix["value"].iloc[0])
        out.append(row)
    return pd.DataFrame(out)


def plot_capacity_vs_range_factor(table: pd.DataFrame, path) -> list[Path]:
    """α_c(last layer) / α_c(pixels) against the range factor, one panel per (kind, transform)
    of the smooth manifolds, one line per network (replicates averaged)."""
    title = FIGURE_SPECS["capacity_vs_range_factor"].title
    dropped = Dropped()
    rows = select(table, DIRECT, dropped=dropped)
    rows = rows[rows["kind"].isin(["1d", "2d"]) & np.isfinite(pd.to_numeric(rows["range_factor"], errors="coerce"))]
    ratios = _last_over_pixels(rows)
    if ratios.empty:
        return no_data_figure(path, title, "Needs the direct capacity of 1-d or 2-d manifold sets at the pixel layer and "
                              "at a later layer of a network.")
    stats = replicate_stats(ratios, ["kind", "transform", "network", "layer", "manifold_set", "range_factor"])
    stats["range_factor"] = stats["range_factor"].astype(float)
    panels = stats.drop_duplicates(["kind", "transform"])[["kind", "transform"]].sort_values(["kind", "transform"]).values.tolist()
    networks = sorted(stats["network"].unique())
    colours = category_colours(len(networks))
    with plt.rc_context(FONT):
        fig, axes = panel_grid(len(panels), 3, width=3.2, height=2.6)
        for ax, (kind, transform) in zip(axes, panels):
            sub = stats[(stats["kind"] == kind) & (stats["transform"] == transform)]
            for k, network in enumerate(networks):
                s = sub[sub["network"] == network]
                if s.empty:
                    continue
                x = s["range_factor"] * (1 + 0.04 * (k - (len(networks) - 1) / 2))  # dodge on the log axis
                last = ", ".join(sorted(s["layer"].unique()))
                draw_series(ax, x, s["mean"], s["sem"], label=f"{network} ({last} / pixels)", **style(k, colours[k]))
            ax.axhline(1.0, color="0.5", lw=0.7, ls=":", zorder=0)
            log_axis(ax, "x", base=2)
            ax.set_xlabel("range factor (log scale)")
            ax.set_ylabel(r"$\alpha_c$(last layer) / $\alpha_c$(pixels)")
            ax.set_title(panel_title(KIND_NAMES.get(kind, kind), transform))
            ax.grid(alpha=0.25, which="both")
        handles, labels = handles_of(axes)
        legend_outside(fig, handles, labels, title="network (last layer / pixels)")
        finish(fig, title)
        footnote(fig, [dropped.note(), replicate_note(stats)])
        return save_figure(fig, path)


def plot_theory_vs_simulation(table: pd.DataFrame, path) -> list[Path]:
    """α_M (mean-field theory) against α_c (simulation), one point per (network, manifold set,
    layer, transform) with both — replicates averaged, error bars ± s.e. on both axes — one
    panel per manifold kind, colour by network, marker by transform; the identity line."""
    title = FIGURE_SPECS["theory_vs_simulation"].title
    dropped = Dropped()
    keys = ["network", "manifold", "manifold_set", "kind", "layer", "layer_index", "transform"]
    a = select(table, DIRECT, dropped=dropped)[keys + ["value"]].rename(columns={"value": "direct"})
    b = select(table, THEORY, dropped=dropped)[keys + ["value"]].rename(columns={"value": "theory"})
    both = a.merge(b, on=keys)
    if both.empty:
        return no_data_figure(path, title, "Needs a direct capacity and a mean-field capacity of the same (network, "
                              "manifold set, layer, transform): enable both analyses.")
    group = ["kind", "network", "manifold_set", "layer", "layer_index", "transform"]
    sx = replicate_stats(both, group, "direct").rename(columns={"mean": "x", "sem": "xs"})
    sy = replicate_stats(both, group, "theory").rename(columns={"mean": "y", "sem": "ys"})
    stats = sx.merge(sy.drop(columns="n"), on=group)
    kinds = [k for k in (*KINDS, *sorted(set(stats["kind"]) - set(KINDS))) if (stats["kind"] == k).any()]
    networks = sorted(stats["network"].unique())
    transforms = sorted(stats["transform"].unique())
    colours = dict(zip(networks, category_colours(len(networks))))
    markers = {t: style(k, None)["marker"] for k, t in enumerate(transforms)}
    # concentric hollow markers: a point shared by several networks (the pixel layer) shows all
    sizes = {n: 9.0 - 5.0 * k / max(1, len(networks) - 1) for k, n in enumerate(networks)}
    with plt.rc_context(FONT):
        fig, axes = subplots(1, len(kinds), width=3.4, height=3.3)
        for ax, kind in zip(axes[0], kinds):
            sub = stats[stats["kind"] == kind]
            dense = len(sub) > 300  # many points: smaller, translucent markers
            for (network, transform), s in sub.groupby(["network", "transform"], sort=True):
                ax.errorbar(s["x"], s["y"], xerr=s["xs"].fillna(0), yerr=s["ys"].fillna(0), fmt=markers[transform],
                            ms=sizes[network] * (0.5 if dense else 1), color=colours[network], mfc="none",
                            alpha=0.35 if dense else 0.85, elinewidth=0.7, capsize=0, mew=0.8 if dense else 1.0)
            identity_line(ax, np.concatenate([sub["x"].to_numpy(), sub["y"].to_numpy()]))
            log_axis(ax)
            ratio = np.median(sub["y"] / sub["x"])
            ax.text(0.03, 0.97, f"{len(sub)} points\nmedian α_M/α_c = {ratio:.2f}", transform=ax.transAxes,
                    va="top", fontsize=6.5)
            ax.set_xlabel(r"simulated capacity $\alpha_c$")
            ax.set_ylabel(r"theory capacity $\alpha_M$")
            ax.set_title(KIND_NAMES.get(kind, kind))
            ax.grid(alpha=0.25, which="both")
        handles = [Line2D([], [], color=colours[n], marker="o", ls="none", mfc="none", ms=sizes[n]) for n in networks]
        handles += [Line2D([], [], color="0.3", marker=markers[t], ls="none", mfc="none") for t in transforms]
        handles += [Line2D([], [], color="0.3", ls="--")]
        legend_outside(fig, handles, [*networks, *transforms, "y = x"], title="network / transform")
        finish(fig, title)
        footnote(fig, ["one point per (network, manifold set, layer, transform)", dropped.note(),
                       replicate_note(stats)])
        return save_figure(fig, path)


def trained_untrained_pairs(table: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """``{architecture: [(network, weights), …]}`` for architectures with both an untrained
    network and at least one with other weights (trained, a checkpoint) in the table."""
    if "architecture" not in table or "weights" not in table:
        return {}
    nets = table.drop_duplicates("network")[["network", "architecture", "weights"]].astype(str)
    out = {}
    for arch, grp in nets.groupby("architecture", sort=True):
        untrained = grp["weights"] == "untrained"
        if arch and untrained.any() and (~untrained).any():
            grp = grp.assign(_u=untrained.astype(int)).sort_values(["_u", "network"])
            out[str(arch)] = list(zip(grp["network"], grp["weights"]))
    return out


def plot_trained_vs_untrained(table: pd.DataFrame, path) -> list[Path]:
    """For each architecture with an untrained and a trained network: α_c, R_M, D_M and ρ_c
    along the layers, one panel row per (architecture, manifold kind) at the kind's largest
    range factor recorded by both; colour = network (untrained grey), marker = transform."""
    title = FIGURE_SPECS["trained_vs_untrained"].title
    pairs = trained_untrained_pairs(table)
    if not pairs:
        return no_data_figure(path, title, "Needs two networks of one architecture, one with weights: untrained and one "
                              "trained (networks.<name>.architecture / weights).")
    dropped = Dropped()
    measures = [DIRECT, RADIUS, DIMENSION, CENTRE_CORRELATION]
    rows = pd.concat([select(table, m, dropped=dropped) for m in measures])
    panel_rows = []
    for arch, nets in pairs.items():
        names = [n for n, _ in nets]
        sub = rows[rows["network"].isin(names)]
        for kind in KINDS:
            k = sub[sub["kind"] == kind]
            shared = [s for s in manifold_sets(k) if k[k["manifold_set"] == s]["network"].nunique() >= 2]
            if shared:
                panel_rows.append((arch, kind, shared[-1]))
    if not panel_rows:
        return no_data_figure(path, title, "The paired networks share no manifold set with baseline results.")
    trained = [n for nets in pairs.values() for n, w in nets if w != "untrained"]
    colours = {n: c for n, c in zip(trained, category_colours(len(trained)))}
    weights_of = {n: w for nets in pairs.values() for n, w in nets}
    all_transforms = sorted(rows["transform"].unique())
    markers = {t: MARKERS[k % len(MARKERS)] for k, t in enumerate(all_transforms)}
    with plt.rc_context(FONT):
        fig, axes = subplots(len(panel_rows), len(measures), width=2.9, height=2.3)
        for i, (arch, kind, manifold_set) in enumerate(panel_rows):
            # untrained first, thick and pale; trained on top, thin: equal curves show both
            nets = sorted(pairs[arch], key=lambda nw: nw[1] != "untrained")
            sub = rows[(rows["manifold_set"] == manifold_set) & rows["network"].isin([n for n, _ in nets])]
            transforms = sorted(sub["transform"].unique())
            for j, key in enumerate(measures):
                ax = axes[i, j]
                m = sub[(sub["analysis"] == key[0]) & (sub["measure"] == key[1])]
                if m.empty:
                    blank(ax)
                    continue
                stats = replicate_stats(m, ["network", "weights", "transform", "layer", "layer_index"])
                n_series = len(nets) * len(transforms)
                ranks = layer_axis(ax, m)
                for s_k, ((network, weights), transform) in enumerate((nw, t) for nw in nets for t in transforms):
                    s = stats[(stats["network"] == network) & (stats["transform"] == transform)]
                    if s.empty:
                        continue
                    if weights == "untrained":
                        st = {"color": "0.55", "linestyle": "--", "linewidth": 2.6, "alpha": 0.55, "markersize": 5,
                              "marker": markers[transform], "markerfacecolor": "none", "zorder": 2}
                    else:
                        st = {"color": colours[network], "linestyle": "-", "linewidth": 1.1, "alpha": 0.95,
                              "markersize": 3, "marker": markers[transform], "zorder": 3}
                    draw_series(ax, layer_x(s, ranks, dodge(s_k, n_series, 0.2)), s["mean"], s["sem"], **st)
                ax.grid(alpha=0.25)
                ax.set_ylabel(LABELS[key])
                ax.set_title(panel_title(arch, set_label(sub, manifold_set)) if j == 0 else "", loc="left")
        handles = [Line2D([], [], color="0.55", ls="--", lw=2.6, alpha=0.55)] if any(
            w == "untrained" for w in weights_of.values()) else []
        labels = ["untrained networks"] if handles else []
        for n in trained:
            handles.append(Line2D([], [], color=colours[n], lw=1.1))
            labels.append(f"{n} ({weights_of[n]})")
        for t in all_transforms:
            handles.append(Line2D([], [], color="0.3", ls="none", marker=markers[t], mfc="none"))
            labels.append(t)
        legend_outside(fig, handles, labels, title="network (weights) / transform")
        finish(fig, title)
        footnote(fig, ["each row: the largest range factor of the kind that both networks recorded", dropped.note()])
        return save_figure(fig, path)


FIGURE_FUNCTIONS: dict[str, Callable[[pd.DataFrame, os.PathLike], list[Path]]] = {
    "capacity_layers_point_cloud": lambda t, p: plot_capacity_layers(t, p, kind="point-cloud"),
    "capacity_layers_1d": lambda t, p: plot_capacity_layers(t, p, kind="1d"),
    "capacity_layers_2d": lambda t, p: plot_capacity_layers(t, p, kind="2d"),
    "capacity_vs_range_factor": plot_capacity_vs_range_factor,
    "theory_vs_simulation": plot_theory_vs_simulation,
    "geometry_layers_point_cloud": lambda t, p: plot_geometry_layers(t, p, kind="point-cloud"),
    "geometry_layers_1d": lambda t, p: plot_geometry_layers(t, p, kind="1d"),
    "geometry_layers_2d": lambda t, p: plot_geometry_layers(t, p, kind="2d"),
    "trained_vs_untrained": plot_trained_vs_untrained,
    "controls": experiment_plots.plot_controls,
    "manipulations": experiment_plots.plot_manipulations,
    "spheres": experiment_plots.plot_spheres,
    "finite_size_objects": experiment_plots.plot_finite_size_objects,
    "finite_size_samples": experiment_plots.plot_finite_size_samples,
    "finite_size_neurons": experiment_plots.plot_finite_size_neurons,
}
"""The function that draws each figure of :data:`FIGURES` from the table."""

if tuple(FIGURE_FUNCTIONS) != FIGURES:  # pragma: no cover - a development error
    raise RuntimeError("every figure of the catalogue needs a drawing function, in catalogue order")


def draw_figure(stem: str, table: pd.DataFrame, path: str | os.PathLike) -> list[Path]:
    """Draw figure ``stem`` of :data:`FIGURES` from ``table`` to ``<path>.png`` / ``.pdf``."""
    if stem not in FIGURE_FUNCTIONS:
        raise UserError(f"unknown figure {stem!r}; known: {list(FIGURES)}")
    return FIGURE_FUNCTIONS[stem](table, path)


def draw_figures(table: pd.DataFrame, folder: str | os.PathLike, *, stems: Sequence[str] = FIGURES) -> list[Path]:
    """Draw the figures ``stems`` (default: all of :data:`FIGURES`) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for stem in stems:
        out += draw_figure(stem, table, folder / stem)
    return out
