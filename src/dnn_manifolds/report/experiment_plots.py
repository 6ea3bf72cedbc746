"""The report's figures of the experiments (``experiments:`` in the config): randomisation
controls, manipulations, the spheres control and the finite-size sweeps, drawn from the tidy
table's experiment rows (``experiment`` ≠ ``analysis``; one row per variant, the changed
options in ``variant_<option>`` columns) next to the baseline rows of the same session.

Like :mod:`.plots`, every function is a pure function of the table that writes PNG + PDF and
draws a "no data in this configuration" panel when the table has no rows for it. Which
experiments a figure reads is decided by the options they change (``docs/report.md#report-figures``):

* :func:`plot_manipulations` — ``centre_scale`` and ``clip_dimension``;
* :func:`plot_spheres` — ``balls``;
* :func:`plot_finite_size_objects`, :func:`plot_finite_size_samples`,
  :func:`plot_finite_size_neurons` — ``n_objects``, ``samples_jump``, ``n_neurons``;
* :func:`plot_controls` — every other experiment (the randomisation controls ``control``,
  ``zscore``, ``permute_axes``, and any sweep a user adds over another option).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .catalogue import FIGURE_SPECS
from .plotting import (
    CENTRE_CORRELATION,
    DIMENSION,
    DIRECT,
    FONT,
    KIND_NAMES,
    LABELS,
    RADIUS,
    THEORY,
    Dropped,
    category_colours,
    dodge,
    draw_series,
    experiment_of,
    experiments_by_option,
    finish,
    footnote,
    handles_of,
    identity_line,
    layer_axis,
    layer_key,
    layer_x,
    legend_outside,
    log_axis,
    manifold_sets,
    no_data_figure,
    panel_grid,
    panel_title,
    replicate_note,
    replicate_stats,
    save_figure,
    select,
    series_colours,
    set_label,
    style,
)

__all__ = [
    "DEDICATED_OPTIONS",
    "kept_samples",
    "plot_controls",
    "plot_finite_size_neurons",
    "plot_finite_size_objects",
    "plot_finite_size_samples",
    "plot_manipulations",
    "plot_spheres",
]

DEDICATED_OPTIONS = frozenset({"centre_scale", "clip_dimension", "balls", "n_objects", "samples_jump", "n_neurons"})
"""Options whose experiments have a figure of their own; experiments over any other options
are drawn by :func:`plot_controls`."""

GEOMETRY_PANEL = (THEORY, RADIUS, DIMENSION, CENTRE_CORRELATION)
SESSION = ["network", "manifold", "layer", "transform"]
GROUP = ["network", "kind", "manifold_set", "transform"]


def _analysis_of(table: pd.DataFrame, experiment: str) -> str:
    return str(table.loc[experiment_of(table) == experiment, "analysis"].iloc[0])


def _experiments_with(table: pd.DataFrame, option: str) -> list[str]:
    return [e for e, opts in experiments_by_option(table).items() if option in opts]


def _groups(rows: pd.DataFrame) -> list[tuple]:
    """(network, kind, manifold set, transform) of ``rows``, networks and sets in order."""
    out = []
    for network in sorted(rows["network"].unique()):
        net = rows[rows["network"] == network]
        for manifold_set in manifold_sets(net):
            sub = net[net["manifold_set"] == manifold_set]
            for transform in sorted(sub["transform"].unique()):
                out.append((network, str(sub["kind"].iloc[0]), manifold_set, transform))
    return out


def _in_group(rows: pd.DataFrame, group: tuple) -> pd.DataFrame:
    network, _, manifold_set, transform = group
    return rows[(rows["network"] == network) & (rows["manifold_set"] == manifold_set) & (rows["transform"] == transform)]


def _largest_range_factor(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the manifold set of the largest range factor per (network, kind)."""
    keep = []
    for _, grp in rows.groupby(["network", "kind"], sort=True):
        keep.append(grp[grp["manifold_set"] == manifold_sets(grp)[-1]])
    return pd.concat(keep) if keep else rows


def _layer_palette(rows: pd.DataFrame) -> tuple[list[str], dict[str, object]]:
    """Layers of ``rows`` in depth order and a colour per layer (dark = early)."""
    layers = rows.drop_duplicates("layer").sort_values(["layer_index", "layer"])["layer"].astype(str).tolist()
    return layers, dict(zip(layers, series_colours(len(layers), "plasma")))


def _group_title(group: tuple, experiment: str | None = None) -> str:
    """``experiment`` over ``network · manifold set · transform`` (two lines)."""
    network, _, manifold_set, transform = group
    line = panel_title(network, manifold_set, transform)
    return f"{experiment}\n{line}" if experiment else line


def _with_baseline_value(variants: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """The variants' rows with the baseline value of the same session as ``baseline_value``."""
    base = baseline[SESSION + ["value"]].rename(columns={"value": "baseline_value"})
    return variants.merge(base, on=SESSION, how="left")


# ----------------------------------------------------------------------------- controls


def plot_controls(table: pd.DataFrame, path) -> list[Path]:
    """Every experiment without a dedicated figure (the randomisation controls): its measures
    along the layers, one line per variant against the baseline (black), at the largest
    range factor of each kind; capacity experiments show α_c, geometry experiments α_M, R_M,
    D_M and ρ_c. One panel row per (experiment, network, manifold set, transform)."""
    title = FIGURE_SPECS["controls"].title
    exps = [e for e, opts in experiments_by_option(table).items() if not set(opts) & DEDICATED_OPTIONS]
    if not exps:
        return no_data_figure(path, title, "The configuration runs no control experiment (experiments.<name>.grid over "
                              "control, zscore or permute_axes, or another option without its own figure).")
    dropped = Dropped()
    panels: list[tuple | None] = []
    variant_colours: dict[tuple[str, str], object] = {}
    n_cols = 4
    for exp in exps:
        measures = [DIRECT] if _analysis_of(table, exp) == "capacity" else list(GEOMETRY_PANEL)
        rows = pd.concat([select(table, m, experiment=exp, dropped=dropped) for m in measures])
        if rows.empty:
            continue
        rows = _largest_range_factor(rows)
        for label in dict.fromkeys(rows["variant"].astype(str)):
            variant_colours[(exp, label)] = len(variant_colours)
        block = [(exp, g, m, rows) for g in _groups(rows) for m in measures]
        panels += block + [None] * (-len(block) % n_cols)
    if not any(panels):
        return no_data_figure(path, title, "The control experiments have no trusted values.")
    palette = category_colours(len(variant_colours))
    variant_colours = {key: (k, palette[k]) for key, k in variant_colours.items()}
    baseline = {m: select(table, m) for m in (DIRECT, *GEOMETRY_PANEL)}
    with plt.rc_context(FONT):
        fig, axes = panel_grid(len(panels), n_cols, width=3.0, height=2.3)
        for ax, panel in zip(axes, panels):
            if panel is None:
                ax.set_axis_off()
                continue
            exp, group, key, rows = panel
            sub = _in_group(rows[(rows["measure"] == key[1]) & (rows["analysis"] == key[0])], group)
            base = _in_group(baseline[key], group)
            base = base[base["layer"].isin(sub["layer"])]
            labels = list(dict.fromkeys(sub["variant"].astype(str)))
            n = len(labels) + 1
            ranks = layer_axis(ax, pd.concat([sub, base]))
            if not base.empty:
                s = replicate_stats(base, ["layer", "layer_index"])
                draw_series(ax, layer_x(s, ranks, dodge(0, n)), s["mean"], s["sem"], label="baseline", color="k",
                            marker="o", linestyle="-", linewidth=1.8, markersize=4, alpha=0.9)
            for v, label in enumerate(labels):
                k, colour = variant_colours[(exp, label)]
                s = replicate_stats(sub[sub["variant"] == label], ["layer", "layer_index"])
                st = style(k + 1, colour)
                draw_series(ax, layer_x(s, ranks, dodge(v + 1, n)), s["mean"], s["sem"], label=f"{exp}: {label}", **st)
            ax.grid(alpha=0.25)
            ax.set_ylabel(LABELS[key])
            ax.set_title(_group_title(group, exp), fontsize=7)
        handles, labels = handles_of(axes)
        legend_outside(fig, handles, labels, title="variant")
        finish(fig, title)
        footnote(fig, ["at the largest range factor of each manifold kind (all range factors are in the results table)",
                       dropped.note()])
        return save_figure(fig, path)


# ----------------------------------------------------------------------------- manipulations


def plot_manipulations(table: pd.DataFrame, path) -> list[Path]:
    """α_c (capacity experiments) and α_M (geometry experiments) against the centre-norm scale
    factor and against the clipped dimension D, one line per layer (colour = depth), the
    layer's unmanipulated value as a dotted line of its colour. One panel row per
    (manipulation, network, manifold set, transform)."""
    title = FIGURE_SPECS["manipulations"].title
    options = {"centre_scale": "centre-norm scale factor", "clip_dimension": "clipped dimension D"}
    dropped = Dropped()
    blocks = []
    for option, xlabel in options.items():
        exps = _experiments_with(table, option)
        parts = {DIRECT: [], THEORY: []}
        for exp in exps:
            key = DIRECT if _analysis_of(table, exp) == "capacity" else THEORY
            parts[key].append(select(table, key, experiment=exp, dropped=dropped))
        data = {k: pd.concat(v) if v else pd.DataFrame() for k, v in parts.items()}
        every = pd.concat([d for d in data.values() if not d.empty]) if any(not d.empty for d in data.values()) else None
        if every is None:
            continue
        for group in _groups(every):
            blocks.append((option, xlabel, group, data))
    if not blocks:
        return no_data_figure(path, title, "The configuration runs no experiment over centre_scale or clip_dimension "
                              "(the paper's manipulations).")
    layer_rows = pd.concat([d for _, _, _, data in blocks for d in data.values() if not d.empty])
    layers, colours = _layer_palette(layer_rows)
    baseline = {DIRECT: select(table, DIRECT), THEORY: select(table, THEORY)}
    drawn = []
    with plt.rc_context(FONT):
        fig, axes = panel_grid(2 * len(blocks), 2, width=3.3, height=2.5)
        for b, (option, xlabel, group, data) in enumerate(blocks):
            for j, key in enumerate((DIRECT, THEORY)):
                ax = axes[2 * b + j]
                rows = _in_group(data[key], group) if not data[key].empty else data[key]
                if rows.empty:
                    ax.set_axis_off()
                    ax.text(0.5, 0.5, f"no {key[0]} experiment over {option}\nfor this session", ha="center",
                            va="center", fontsize=7, color="0.45", transform=ax.transAxes)
                    continue
                col = f"variant_{option}"
                rows = rows.assign(x=pd.to_numeric(rows[col], errors="coerce"))
                stats = replicate_stats(rows, ["layer", "layer_index", "x"])
                drawn.append(stats)
                base = replicate_stats(_in_group(baseline[key], group), ["layer", "layer_index"])
                span = float(stats["x"].max() - stats["x"].min()) or 1.0
                for k, layer in enumerate(layers):
                    s = stats[stats["layer"] == layer]
                    if s.empty:
                        continue
                    st = style(k, colours[layer])
                    x = s["x"] + dodge(k, len(layers), 0.04) * span
                    draw_series(ax, x, s["mean"], s["sem"], label=layer, **st)
                    bv = base.loc[base["layer"] == layer, "mean"]
                    if len(bv):
                        ax.axhline(float(bv.iloc[0]), color=colours[layer], lw=0.8, ls=":", alpha=0.8)
                if option == "centre_scale":
                    ax.axvline(1.0, color="0.6", lw=0.6, ls="-", zorder=0)
                ax.set_xlabel(xlabel)
                ax.set_ylabel(LABELS[key])
                ax.grid(alpha=0.25)
                ax.set_title(_group_title(group, option), fontsize=7)
        layer_key(fig, layers, [colours[layer] for layer in layers])
        finish(fig, title)
        footnote(fig, ["dotted: the layer's value without the manipulation (baseline analysis)", dropped.note(),
                       replicate_note(pd.concat(drawn)) if drawn else ""])
        return save_figure(fig, path)


# ----------------------------------------------------------------------------- spheres


def plot_spheres(table: pd.DataFrame, path) -> list[Path]:
    """Direct capacity of the manifolds (baseline α_c) against that of balls with their
    centres, radius and dimension (floor ▼ and ceil ▲ of D_M), one point per layer, colour =
    manifold set (range factor), the identity line; one panel per (network, transform)."""
    title = FIGURE_SPECS["spheres"].title
    exps = _experiments_with(table, "balls")
    dropped = Dropped()
    balls = pd.concat([select(table, DIRECT, experiment=e, dropped=dropped) for e in exps]) if exps else pd.DataFrame()
    if balls.empty:
        return no_data_figure(path, title, "The configuration runs no experiment over balls (the spheres control).")
    both = _with_baseline_value(balls, select(table, DIRECT, dropped=dropped)).dropna(subset=["baseline_value"])
    if both.empty:
        return no_data_figure(path, title, "The balls have no baseline direct capacity of the same sessions to compare with.")
    group = ["network", "kind", "manifold_set", "range_factor", "transform", "layer", "layer_index", "variant_balls"]
    sx = replicate_stats(both, group, "value").rename(columns={"mean": "x", "sem": "xs"})
    sy = replicate_stats(both, group, "baseline_value").rename(columns={"mean": "y", "sem": "ys"})
    stats = sx.merge(sy.drop(columns="n"), on=group)
    panels = stats.drop_duplicates(["network", "kind", "transform"])[["network", "kind", "transform"]].values.tolist()
    sets = manifold_sets(stats)
    colours = dict(zip(sets, series_colours(len(sets))))
    markers = {"floor": "v", "ceil": "^"}
    with plt.rc_context(FONT):
        fig, axes = panel_grid(len(panels), 3, width=3.2, height=3.1)
        for ax, (network, kind, transform) in zip(axes, panels):
            sub = stats[(stats["network"] == network) & (stats["transform"] == transform)]
            for (manifold_set, layer), pair in sub.groupby(["manifold_set", "layer"], sort=False):
                c = colours[manifold_set]
                ax.plot(pair["x"], pair["y"], color=c, lw=0.6, alpha=0.5)
                for _, r in pair.iterrows():
                    ax.errorbar(r["x"], r["y"], xerr=np.nan_to_num(r["xs"]), yerr=np.nan_to_num(r["ys"]),
                                fmt=markers.get(str(r["variant_balls"]), "o"), color=c, ms=4.5, mfc="none",
                                elinewidth=0.7, capsize=0, alpha=0.85)
            identity_line(ax, np.concatenate([sub["x"].to_numpy(), sub["y"].to_numpy()]))
            log_axis(ax)
            ax.set_xlabel(r"capacity of matched balls $\alpha_c^{ball}$")
            ax.set_ylabel(r"capacity of the manifolds $\alpha_c$")
            ax.set_title(panel_title(network, KIND_NAMES.get(kind, kind), transform))
            ax.grid(alpha=0.25, which="both")
        handles = [Line2D([], [], color=colours[s], marker="o", ls="-", mfc="none") for s in sets]
        handles += [Line2D([], [], color="0.3", marker=m, ls="none", mfc="none") for m in markers.values()]
        handles += [Line2D([], [], color="0.3", ls="--")]
        labels = [set_label(stats, s) for s in sets] + ["balls of dimension floor(D_M)", "balls of dimension ceil(D_M)", "y = x"]
        legend_outside(fig, handles, labels, title="manifold set / balls")
        finish(fig, title)
        footnote(fig, ["one point per layer and ball dimension; a thin line joins a layer's floor and ceil balls",
                       dropped.note(), replicate_note(stats)])
        return save_figure(fig, path)


# ----------------------------------------------------------------------------- finite size


def _finite_size(
    table: pd.DataFrame,
    path,
    *,
    stem: str,
    option: str,
    measures: Sequence[tuple[str, str]],
    x_of_variant,
    x_of_baseline,
    xlabel: str,
    log_x: bool,
    missing: str,
) -> list[Path]:
    """A measure against a finite-size option: one panel per (experiment, network, manifold
    set, transform) and measure, one line per layer, the baseline (all objects, samples or
    neurons) as the rightmost point (filled). ``x_of_variant(rows)`` / ``x_of_baseline(rows)``
    give the x values; error bars: ± s.e. over replicates, else the ``<measure>_sem`` rows
    (the geometry's repeated neuron subsets)."""
    title = FIGURE_SPECS[stem].title
    exps = _experiments_with(table, option)
    dropped = Dropped()
    blocks = []
    for exp in exps:
        for key in measures:
            rows = select(table, key, experiment=exp, dropped=dropped)
            if rows.empty:
                continue
            rows = rows.assign(x=x_of_variant(rows), baseline=False)
            sem_rows = select(table, (key[0], key[1] + "_sem"), experiment=exp)
            if not sem_rows.empty:
                sems = sem_rows[SESSION + ["variant", "value"]].rename(columns={"value": "subset_sem"})
                rows = rows.merge(sems, on=[*SESSION, "variant"], how="left")
            base = select(table, key)
            base = base.merge(rows[SESSION].drop_duplicates(), on=SESSION)
            if not base.empty:
                base = base.assign(x=x_of_baseline(base, table), baseline=True)
            blocks.append((exp, key, pd.concat([rows, base], ignore_index=True)))
    if not blocks:
        return no_data_figure(path, title, missing)
    every = pd.concat([b[2] for b in blocks])
    layers, colours = _layer_palette(every)
    panels = []
    for exp in dict.fromkeys(b[0] for b in blocks):
        exp_rows = pd.concat([b[2] for b in blocks if b[0] == exp])
        for group in _groups(exp_rows):
            for key in measures:
                data = [b[2] for b in blocks if b[0] == exp and b[1] == key]
                panels.append((exp, group, key, _in_group(data[0], group) if data else pd.DataFrame()))
    drawn = []
    with plt.rc_context(FONT):
        fig, axes = panel_grid(len(panels), 3 if len(measures) == 1 else len(measures), width=3.1, height=2.4)
        for ax, (exp, group, key, rows) in zip(axes, panels):
            rows = rows.dropna(subset=["x"]) if not rows.empty else rows
            if rows.empty:
                ax.set_axis_off()
                continue
            stats = replicate_stats(rows, ["layer", "layer_index", "x", "baseline"])
            drawn.append(stats)
            if "subset_sem" in rows:
                sub_sem = rows.groupby(["layer", "x", "baseline"], dropna=False)["subset_sem"].mean().rename("subset_sem")
                stats = stats.join(sub_sem, on=["layer", "x", "baseline"])
                stats["sem"] = stats["sem"].fillna(stats["subset_sem"])
            span = float(stats["x"].max() - stats["x"].min()) or 1.0
            for k, layer in enumerate(layers):
                s = stats[stats["layer"] == layer]
                if s.empty:
                    continue
                st = style(k, colours[layer])
                shift = dodge(k, len(layers), 0.08)  # layers side by side: equal values stay visible
                x = s["x"] * (1 + shift) if log_x else s["x"] + shift * span
                draw_series(ax, x, s["mean"], s["sem"], label=layer, **st)
                b = s["baseline"].astype(bool).to_numpy()
                ax.plot(np.asarray(x)[b], s["mean"].to_numpy()[b], marker=st["marker"], color=colours[layer],
                        ls="none", ms=6)
            if log_x:
                log_axis(ax, "x", base=2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(LABELS.get(key, key[1]))
            ax.grid(alpha=0.25, which="both")
            ax.set_title(_group_title(group, exp), fontsize=7)
        layer_key(fig, layers, [colours[layer] for layer in layers])
        finish(fig, title)
        sem_note = "error bars: ± s.e. over the replicates of a manifold set, else over the repeated neuron subsets"
        footnote(fig, ["filled marker: the baseline analysis (nothing left out)", dropped.note(),
                       sem_note if option == "n_neurons" else replicate_note(pd.concat(drawn)) if drawn else ""])
        return save_figure(fig, path)


def kept_samples(jump, n_samples) -> np.ndarray:
    """Samples per object kept by ``samples_jump``: 0 keeps the centre sample only (1), k ≥ 1
    every k-th sample with both ends, (M − 1)/k + 1."""
    jump = np.asarray(pd.to_numeric(jump, errors="coerce"), dtype=float)
    m = np.asarray(pd.to_numeric(n_samples, errors="coerce"), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(jump == 0, 1.0, np.floor((m - 1) / jump) + 1)


def plot_finite_size_objects(table: pd.DataFrame, path) -> list[Path]:
    """Direct capacity α_c against the number of objects P (the first P objects; the baseline
    is all of the set's objects)."""
    return _finite_size(
        table, path, stem="finite_size_objects", option="n_objects", measures=[DIRECT],
        x_of_variant=lambda r: pd.to_numeric(r["variant_n_objects"], errors="coerce"),
        x_of_baseline=lambda r, t: pd.to_numeric(r["n_objects"], errors="coerce"),
        xlabel="number of objects P", log_x=False,
        missing="The configuration runs no experiment over n_objects (capacity vs P).",
    )


def plot_finite_size_samples(table: pd.DataFrame, path) -> list[Path]:
    """Direct capacity α_c against the number of samples per object kept, M' (every k-th
    sample: M' = (M − 1)/k + 1; k = 0: the centre sample only, M' = 1; baseline: all M)."""
    return _finite_size(
        table, path, stem="finite_size_samples", option="samples_jump", measures=[DIRECT],
        x_of_variant=lambda r: kept_samples(r["variant_samples_jump"], r["n_samples"]),
        x_of_baseline=lambda r, t: pd.to_numeric(r["n_samples"], errors="coerce"),
        xlabel="samples per object kept M' (log scale)", log_x=True,
        missing="The configuration runs no experiment over samples_jump (capacity vs M).",
    )


def _baseline_neurons(rows: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """N of the baseline geometry of each row's session (its ``n_neurons`` measure)."""
    n = select(table, ("geometry", "n_neurons"))[SESSION + ["value"]].rename(columns={"value": "_n"})
    return rows[SESSION].merge(n, on=SESSION, how="left")["_n"].set_axis(rows.index)


def plot_finite_size_neurons(table: pd.DataFrame, path) -> list[Path]:
    """α_M, R_M, D_M and ρ_c against the number of neurons N (random subsets; the baseline
    is all of the layer's neurons), error bars from the repeated subsets (``_sem`` rows)."""
    return _finite_size(
        table, path, stem="finite_size_neurons", option="n_neurons", measures=list(GEOMETRY_PANEL),
        x_of_variant=lambda r: pd.to_numeric(r["variant_n_neurons"], errors="coerce"),
        x_of_baseline=_baseline_neurons,
        xlabel="number of neurons N (log scale)", log_x=True,
        missing="The configuration runs no experiment over n_neurons (geometry vs N).",
    )

