"""The report's figures and browsable table, on small synthetic tidy tables with known values:
one line per manifold set, pixel-layer normalisation, replicate means and standard errors,
flagged values left out, the experiments' figures, "no data" panels, the HTML table."""

import json
import re
import shutil
import subprocess

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from conftest import REPO
from dnn_manifolds.data.files import write_netcdf
from dnn_manifolds.report import browse, catalogue, curves, experiment_plots, plots, plotting
from dnn_manifolds.report.tables import COLUMNS, KEY_COLUMNS, read_table, write_table

LAYERS = {"alexnet": [("pixels", 0), ("conv2", 5), ("fc7", 18)], "democnn": [("pixels", 0), ("relu2", 5), ("fc5", 12)]}
NETWORKS = {"alexnet": ("alexnet", "imagenet"), "alexnet_untrained": ("alexnet", "untrained"), "democnn": ("democnn", "demo")}
SETS = {  # name: (kind, range factor, transforms, replicates)
    "affine_1d_rf4": ("1d", 4.0, ["x-translation"], 0),
    "affine_1d_rf16": ("1d", 16.0, ["x-translation"], 0),
    "random_2d_rf16": ("2d", 16.0, ["translation"], 2),
    "cloud": ("point-cloud", np.nan, ["full", "top"], 0),
}
VARIANT_OPTIONS = ["balls", "centre_scale", "clip_dimension", "control", "n_neurons", "n_objects", "samples_jump", "zscore"]


def _capacity(network, manifold_set, replicate, position, rf):
    trained = NETWORKS[network][1] != "untrained"
    return 0.4 * (1 + (0.3 if trained else 0.05) * position) * (1 + (0 if np.isnan(rf) else rf) / 32) + 0.01 * replicate


def _row(network, manifold_set, replicate, layer, index, transform, experiment, analysis, measure, value, **variant):
    kind, rf, _, _ = SETS[manifold_set]
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        network=network, architecture=NETWORKS[network][0], weights=NETWORKS[network][1],
        manifold=manifold_set if replicate == 0 else f"{manifold_set}_r{replicate}", manifold_set=manifold_set,
        replicate=replicate, kind=kind, range_factor=rf, n_objects=8, n_samples=5, layer=layer, layer_index=index,
        transform=transform, experiment=experiment, analysis=analysis, variant=variant.pop("label", "baseline"),
        measure=measure, value=value, long_name=measure, solver_failures=0, solver_total=10,
        flagged=bool(variant.pop("flagged", False)), seed="1", dnn_manifolds_version="0", config_digest="d",
    )
    row.update({f"variant_{k}": np.nan if k in ("centre_scale", "clip_dimension", "n_neurons", "n_objects", "samples_jump") else "" for k in VARIANT_OPTIONS})
    row.update({f"variant_{k}": v for k, v in variant.items()})
    return row


def _sessions(networks=NETWORKS, sets=SETS):
    for network in networks:
        for manifold_set in sets:
            kind, rf, transforms, reps = SETS[manifold_set]
            for replicate in range(1 + (reps if network == "alexnet" else 0)):
                for position, (layer, index) in enumerate(LAYERS[NETWORKS[network][0]]):
                    for transform in transforms:
                        yield network, manifold_set, replicate, layer, index, transform, position, rf


def baseline_rows(networks=NETWORKS, sets=SETS):
    rows = []
    for network, mset, rep, layer, index, transform, pos, rf in _sessions(networks, sets):
        key = (network, mset, rep, layer, index, transform)
        cap = _capacity(network, mset, rep, pos, rf)
        rows.append(_row(*key, "capacity", "capacity", "capacity", cap))
        rows.append(_row(*key, "capacity", "capacity", "critical_n_features", 8 / cap))
        geo = {"capacity": 0.95 * cap, "radius": 1.5 - 0.2 * pos, "dimension": 6 - pos, "centre_correlation": 0.3 + 0.02 * pos,
               "n_neurons": 1000.0}
        rows += [_row(*key, "geometry", "geometry", m, v) for m, v in geo.items()]
    return rows


def experiment_rows():
    """Every experiment kind of the paper, on alexnet and the 1-d sets (controls also on 2-d)."""
    rows = []
    for network, mset, rep, layer, index, transform, pos, rf in _sessions(["alexnet"], ["affine_1d_rf4", "affine_1d_rf16", "random_2d_rf16"]):
        key = (network, mset, rep, layer, index, transform)
        cap = _capacity(network, mset, rep, pos, rf)
        for k, control in enumerate(["centers_random", "axes_random"]):
            rows.append(_row(*key, "capacity_controls", "capacity", "capacity", cap * (0.8 + 0.1 * k), label=f"control={control}", control=control))
        rows += [_row(*key, "geometry_controls", "geometry", m, v, label="zscore=True", zscore="True")
                 for m, v in {"capacity": cap, "radius": 1.0, "dimension": 4.0, "centre_correlation": 0.2}.items()]
        if SETS[mset][0] != "1d":
            continue
        for f in (0.5, 1.0, 1.5):
            rows.append(_row(*key, "capacity_centre_scale", "capacity", "capacity", cap * f, label=f"centre_scale={f}", centre_scale=f))
            rows.append(_row(*key, "geometry_centre_scale", "geometry", "capacity", 0.9 * cap * f, label=f"centre_scale={f}", centre_scale=f))
        for d in (1, 2):
            rows.append(_row(*key, "capacity_clip_dimension", "capacity", "capacity", cap * (2 - 0.3 * d), label=f"clip_dimension={d}", clip_dimension=d))
        for balls, f in (("floor", 1.2), ("ceil", 0.9)):
            rows.append(_row(*key, "spheres", "capacity", "capacity", cap * f, label=f"balls={balls}", balls=balls))
        for p in (4, 6):
            rows.append(_row(*key, "capacity_vs_objects", "capacity", "capacity", cap * (1 + 1 / p), label=f"n_objects={p}", n_objects=p))
        for jump in (2, 4, 0):
            rows.append(_row(*key, "capacity_vs_samples", "capacity", "capacity", cap * (1 + 1 / (jump + 1)), label=f"samples_jump={jump}", samples_jump=jump))
        for n, flagged in ((64, False), (256, False), (4096, True)):
            for m, v in {"capacity": cap * (1 - 8 / n), "radius": 1.2, "dimension": 5.0, "centre_correlation": 0.3}.items():
                value = np.nan if flagged else v
                rows.append(_row(*key, "geometry_vs_neurons", "geometry", m, value, label=f"n_neurons={n}", n_neurons=n, flagged=flagged))
                rows.append(_row(*key, "geometry_vs_neurons", "geometry", m + "_sem", 0.01, label=f"n_neurons={n}", n_neurons=n, flagged=flagged))
    return rows


def _frame(rows):
    table = pd.DataFrame(rows)
    cols = [*KEY_COLUMNS, *sorted(c for c in table.columns if c.startswith("variant_")), *COLUMNS[len(KEY_COLUMNS):]]
    return table[cols]


@pytest.fixture(scope="module")
def full_table(tmp_path_factory):
    """The synthetic table, round-tripped through the CSV as the workflow reads it."""
    path = tmp_path_factory.mktemp("table") / "results.csv"
    write_table(_frame(baseline_rows() + experiment_rows()), path)
    return read_table(path)


@pytest.fixture
def captured(monkeypatch):
    """Keep the figures instead of saving them: ``{stem: figure}``; "no data" panels recorded."""
    figs, empty = {}, {}

    def keep(fig, path):
        figs[str(path).rsplit("/", 1)[-1]] = fig
        return []

    def nodata(path, title, reason):
        empty[str(path).rsplit("/", 1)[-1]] = reason
        return []

    for module in (plots, experiment_plots, curves):
        monkeypatch.setattr(module, "save_figure", keep)
        monkeypatch.setattr(module, "no_data_figure", nodata)
    yield figs, empty
    import matplotlib.pyplot as plt

    plt.close("all")


def _lines(fig, title_part):
    """{label: (x, y)} of the labelled lines of the panels whose title contains ``title_part``."""
    out = {}
    for ax in fig.axes:
        if title_part in ax.get_title():
            for line in ax.get_lines():
                if not line.get_label().startswith("_"):
                    out[line.get_label()] = (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
    return out


# ----------------------------------------------------------------------------- every figure


def test_figures_are_written_as_png_and_pdf(tmp_path):
    """Files for a few figures (every figure is drawn by the next test, and written by the
    workflow tests): PNG and PDF, one of them a "no data" panel."""
    table = _frame(baseline_rows(networks=["alexnet", "alexnet_untrained"]) + experiment_rows())
    stems = ["capacity_layers_1d", "spheres", "capacity_layers_point_cloud"]
    table = table[(table["kind"] != "point-cloud") & (table["layer"] != "conv2")]
    paths = plots.draw_figures(table, tmp_path, stems=stems)
    assert sorted(p.name for p in paths) == sorted(f"{s}{x}" for s in stems for x in (".png", ".pdf"))
    for p in paths:
        head = p.read_bytes()[:8]
        assert p.stat().st_size > 3000 and (head.startswith(b"\x89PNG") or head.startswith(b"%PDF")), p


def test_the_full_table_fills_every_figure(full_table, captured, tmp_path):
    figs, empty = captured
    plots.draw_figures(full_table, tmp_path)
    assert not empty, empty
    assert set(figs) == set(catalogue.FIGURES)


def test_a_table_without_the_data_gets_labelled_no_data_panels(captured, tmp_path):
    """The demo's shape (no 2-d sets, no experiments, no trained/untrained pair): every figure
    still exists; the ones without data say so and why."""
    figs, empty = captured
    table = _frame(baseline_rows(networks=["democnn"], sets=["affine_1d_rf4", "cloud"]))
    plots.draw_figures(table, tmp_path)
    assert set(figs) | set(empty) == set(catalogue.FIGURES)
    assert set(empty) == {"capacity_layers_2d", "geometry_layers_2d", "trained_vs_untrained", "controls", "manipulations",
                          "spheres", "finite_size_objects", "finite_size_samples", "finite_size_neurons"}
    assert "untrained" in empty["trained_vs_untrained"] and "n_neurons" in empty["finite_size_neurons"]


def test_no_data_panel_is_a_real_file(tmp_path):
    paths = plotting.no_data_figure(tmp_path / "x", "A figure", "because")
    assert all(p.stat().st_size > 3000 for p in paths)


# ----------------------------------------------------------------------------- layer figures


def test_capacity_is_one_line_per_range_factor_normalised_to_pixels(full_table, captured, tmp_path):
    figs, _ = captured
    plots.plot_capacity_layers(full_table, tmp_path / "capacity_layers_1d", kind="1d")
    lines = _lines(figs["capacity_layers_1d"], "alexnet · x-translation")
    labels = sorted(lines)
    assert len(labels) == 2 and "range factor 4 (affine_1d_rf4)" in labels[1] and "range factor 16" in labels[0]
    for rf, label in ((4, labels[1]), (16, labels[0])):
        expected = [_capacity("alexnet", "", 0, p, rf) / _capacity("alexnet", "", 0, 0, rf) for p in range(3)]
        np.testing.assert_allclose(lines[label][1], expected, rtol=1e-9)
        assert np.ptp(np.diff(np.round(lines[label][0]))) == 0  # layers evenly spaced, whatever their index
    # the two lines sit apart sideways, so that equal values never hide each other
    assert not np.allclose(lines[labels[0]][0], lines[labels[1]][0])


def test_replicates_are_averaged_with_standard_errors(full_table, captured, tmp_path):
    figs, _ = captured
    plots.plot_capacity_layers(full_table, tmp_path / "capacity_layers_2d", kind="2d")
    fig = figs["capacity_layers_2d"]
    lines = _lines(fig, "alexnet · translation")
    (label, (_, y)), = lines.items()
    assert label.endswith(", 3 replicates")
    norm = [[_capacity("alexnet", "", r, p, 16) / _capacity("alexnet", "", r, 0, 16) for p in range(3)] for r in range(3)]
    np.testing.assert_allclose(y, np.mean(norm, axis=0), rtol=1e-9)
    ax = next(a for a in fig.axes if "alexnet · translation" in a.get_title())
    assert ax.containers, "error bars drawn for the replicated set"
    assert any("standard error" in t.get_text() for t in fig.texts)


def test_replicate_stats_closed_form():
    rows = pd.DataFrame({"g": ["a"] * 3 + ["b"], "value": [1.0, 2.0, 4.0, 5.0]})
    stats = plotting.replicate_stats(rows, ["g"]).set_index("g")
    assert stats.loc["a", "mean"] == pytest.approx(7 / 3)
    assert stats.loc["a", "sem"] == pytest.approx(np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    assert stats.loc["a", "n"] == 3 and np.isnan(stats.loc["b", "sem"])


def test_normalisation_falls_back_to_the_first_recorded_layer():
    rows = pd.DataFrame({"network": "n", "layer": ["conv1", "fc"], "layer_index": [3, 9], "value": [2.0, 3.0]})
    out, all_pixels = plotting.normalise_to_pixels(rows, ["network"])
    assert not all_pixels and out["value"].tolist() == [1.0, 1.5] and set(out["reference_layer"]) == {"conv1"}


def test_capacity_vs_range_factor_is_last_over_pixels(full_table, captured, tmp_path):
    figs, _ = captured
    plots.plot_capacity_vs_range_factor(full_table, tmp_path / "capacity_vs_range_factor")
    lines = _lines(figs["capacity_vs_range_factor"], "1-d manifolds")
    x, y = lines["alexnet (fc7 / pixels)"]
    np.testing.assert_allclose(y, [1 + 0.3 * 2] * 2, rtol=1e-9)  # the ratio does not depend on rf here
    assert np.allclose(sorted(x), [4, 16], rtol=0.1)
    assert "alexnet_untrained (fc7 / pixels)" in lines and "democnn (fc5 / pixels)" in lines


def test_theory_vs_simulation_pairs_each_session_once(full_table, captured, tmp_path):
    figs, _ = captured
    plots.plot_theory_vs_simulation(full_table, tmp_path / "theory_vs_simulation")
    texts = [t.get_text() for ax in figs["theory_vs_simulation"].axes for t in ax.texts]
    # 1-d: 3 networks × 2 sets × 3 layers; 2-d: 3 networks × 3 layers (replicates averaged)
    assert any(t.startswith("18 points") for t in texts) and any(t.startswith("9 points") for t in texts)
    assert any("median α_M/α_c = 0.95" in t for t in texts)


def test_trained_and_untrained_networks_are_paired_by_architecture(full_table, captured, tmp_path):
    assert plots.trained_untrained_pairs(full_table) == {"alexnet": [("alexnet", "imagenet"), ("alexnet_untrained", "untrained")]}
    figs, _ = captured
    plots.plot_trained_vs_untrained(full_table, tmp_path / "trained_vs_untrained")
    fig = figs["trained_vs_untrained"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["untrained networks", "alexnet (imagenet)"] and not any("democnn" in t for t in legend)
    ax = next(a for a in fig.axes if a.get_title(loc="left").startswith("alexnet · range factor 16 (affine_1d_rf16)"))
    curves_ = {matplotlib.colors.to_hex(line.get_color()): line.get_ydata() for line in ax.get_lines() if len(line.get_ydata()) == 3}
    np.testing.assert_allclose(curves_["#8c8c8c"], [_capacity("alexnet_untrained", "", 0, p, 16) for p in range(3)])
    assert len(curves_) == 2  # one trained, one untrained curve (one transform)


# ----------------------------------------------------------------------------- experiments


def test_controls_draw_each_variant_against_the_baseline(full_table, captured, tmp_path):
    figs, _ = captured
    experiment_plots.plot_controls(full_table, tmp_path / "controls")
    fig = figs["controls"]
    lines = _lines(fig, "capacity_controls\nalexnet · affine_1d_rf16")
    assert set(lines) == {"baseline", "capacity_controls: control=centers_random", "capacity_controls: control=axes_random"}
    base = [_capacity("alexnet", "", 0, p, 16) for p in range(3)]
    np.testing.assert_allclose(lines["baseline"][1], base)
    np.testing.assert_allclose(lines["capacity_controls: control=centers_random"][1], np.multiply(base, 0.8))
    # only the largest range factor of a kind
    assert not _lines(fig, "affine_1d_rf4")
    assert _lines(fig, "geometry_controls\nalexnet · random_2d_rf16")


def test_manipulations_plot_capacity_and_theory_against_the_factor(full_table, captured, tmp_path):
    figs, _ = captured
    experiment_plots.plot_manipulations(full_table, tmp_path / "manipulations")
    fig = figs["manipulations"]
    cap = _capacity("alexnet", "", 0, 2, 16)
    panels = [ax for ax in fig.axes if ax.get_title() == "centre_scale\nalexnet · affine_1d_rf16 · x-translation"]
    assert [ax.get_ylabel() for ax in panels] == [plotting.LABELS[plotting.DIRECT], plotting.LABELS[plotting.THEORY]]
    for ax, factor in zip(panels, (1.0, 0.9)):
        lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert set(lines) == {"pixels", "conv2", "fc7"}
        np.testing.assert_allclose(np.round(lines["fc7"].get_xdata(), 1), [0.5, 1.0, 1.5])
        np.testing.assert_allclose(lines["fc7"].get_ydata(), factor * cap * np.array([0.5, 1, 1.5]))
    clip = [ax for ax in fig.axes if ax.get_title().startswith("clip_dimension\nalexnet · affine_1d_rf4")]
    assert len(clip) == 1  # the capacity panel; the geometry one says there is no experiment
    assert any("no geometry experiment over clip_dimension" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_spheres_compare_manifolds_with_their_balls(full_table, captured, tmp_path):
    figs, _ = captured
    experiment_plots.plot_spheres(full_table, tmp_path / "spheres")
    ax = figs["spheres"].axes[0]
    points = np.array([np.r_[c.lines[0].get_xdata(), c.lines[0].get_ydata()] for c in ax.containers], dtype=float)
    ratios = np.round(points[:, 1] / points[:, 0], 6)
    assert set(ratios) == {round(1 / 1.2, 6), round(1 / 0.9, 6)} and len(points) == 2 * 2 * 3


def test_finite_size_axes_and_baseline_points(full_table, captured, tmp_path):
    figs, _ = captured
    experiment_plots.plot_finite_size_objects(full_table, tmp_path / "finite_size_objects")
    x, _ = _lines(figs["finite_size_objects"], "affine_1d_rf16")["pixels"]
    assert np.allclose(x, [4, 6, 8], atol=0.2)  # P = 4, 6 and the baseline's 8 objects
    experiment_plots.plot_finite_size_samples(full_table, tmp_path / "finite_size_samples")
    x, _ = _lines(figs["finite_size_samples"], "affine_1d_rf16")["pixels"]
    assert np.allclose(x, [1, 2, 3, 5], rtol=0.05)  # jumps 0, 4, 2 and the baseline's M = 5


def test_kept_samples():
    assert kept(0, 201) == 1 and kept(2, 201) == 101 and kept(200, 201) == 2 and kept(1, 5) == 5


def kept(jump, m):
    return float(experiment_plots.kept_samples(pd.Series([jump]), pd.Series([m]))[0])


def test_flagged_values_are_never_drawn_and_are_counted(full_table, captured, tmp_path):
    figs, _ = captured
    experiment_plots.plot_finite_size_neurons(full_table, tmp_path / "finite_size_neurons")
    fig = figs["finite_size_neurons"]
    for label, (x, _) in _lines(fig, "geometry_vs_neurons").items():
        assert x.max() < 2000, label  # 4096 neurons is flagged (more than the layer has)
    assert any("flagged value(s)" in t.get_text() for t in fig.texts)
    ax = next(a for a in fig.axes if a.get_ylabel() == plotting.LABELS[plotting.THEORY])
    assert ax.containers, "error bars from the _sem rows"


def test_select_drops_flagged_rows():
    table = pd.DataFrame({"analysis": "capacity", "experiment": "capacity", "measure": "capacity",
                          "value": [1.0, 2.0, np.nan], "flagged": [False, True, False]})
    dropped = plotting.Dropped()
    assert plotting.select(table, plotting.DIRECT, dropped=dropped)["value"].tolist() == [1.0]
    assert (dropped.flagged, dropped.nonfinite) == (1, 1)


# ----------------------------------------------------------------------------- f(n)


def _capacity_file(path, n, frac, n_c):
    ds = xr.Dataset({"separable_fraction": ("n_features", np.asarray(frac, float)), "critical_n_features": ((), float(n_c))},
                    coords={"n_features": np.asarray(n)})
    write_netcdf(ds, path)
    return path


def test_separability_curves_one_panel_per_replicate_and_transform(tmp_path, captured):
    figs, _ = captured
    entries = []
    for rep in range(2):
        for i, (layer, index) in enumerate(LAYERS["alexnet"]):
            path = _capacity_file(tmp_path / f"{rep}{layer}.nc", [4, 8, 16, 32], [0, 0.2 + 0.1 * i, np.nan, 1], 16 - 4 * i)
            entries.append({"path": path, "network": "alexnet", "manifold": f"s_r{rep}" if rep else "s", "manifold_set": "s",
                            "replicate": rep, "layer": layer, "layer_index": index, "transform": "x-translation",
                            "experiment": "capacity", "analysis": "capacity", "kind": "1d", "n_objects": 8})
    entries.append({**entries[0], "network": "other"})
    curves.plot_separability_from_results(entries, tmp_path / "sep", network="alexnet", manifold_set="s")
    fig = figs["sep"]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["s · x-translation", "s_r1 · x-translation"]
    first = {line.get_label(): line for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")}
    assert set(first) == {"pixels", "conv2", "fc7"}
    assert all(list(line.get_xdata()) == [4, 8, 32] for line in first.values())  # NaN (untested n) left out


def test_separability_curves_draw_to_files(tmp_path):
    entries = [{"path": _capacity_file(tmp_path / "a.nc", [4, 8], [0.0, 1.0], 8), "network": "n", "manifold": "s",
                "manifold_set": "s", "layer": "pixels", "layer_index": 0, "transform": "t", "experiment": "capacity",
                "analysis": "capacity"}]
    paths = curves.plot_separability_from_results(entries, tmp_path / "sep", network="n", manifold_set="s")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 3000 for p in paths)


# ----------------------------------------------------------------------------- browsable table


def test_browse_frame_has_one_row_per_result(full_table):
    frame = browse.browse_frame(full_table)
    baseline = frame[frame["study"] == "baseline"]
    n_sessions = sum(1 for _ in _sessions())
    assert len(baseline) == n_sessions
    row = baseline[(baseline["network"] == "alexnet") & (baseline["layer"] == "fc7") & (baseline["manifold_set"] == "affine_1d_rf16")]
    assert row["α_c"].iloc[0] == pytest.approx(_capacity("alexnet", "", 0, 2, 16))
    assert row["α_M"].iloc[0] == pytest.approx(0.95 * _capacity("alexnet", "", 0, 2, 16))
    neurons = frame[frame["study"] == "geometry_vs_neurons"]
    assert neurons["flagged"].sum() == len(neurons[neurons["variant"] == "n_neurons=4096"]) > 0
    assert "s.e. α_M" in frame.columns and list(frame.columns[:3]) == ["network", "architecture", "weights"]


def test_browse_page_carries_its_data(full_table, tmp_path):
    path = tmp_path / "results.html"
    browse.write_browse_html(full_table, path)
    page = path.read_text(encoding="utf-8")
    assert "<script src" not in page and "http" not in page.split("<body>")[1]
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["n"] == len(browse.browse_frame(full_table))
    names = [c["name"] for c in data["columns"]]
    assert "α_c" in names and "flagged" in names


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_browse_page_script_filters_and_sorts(full_table, tmp_path):
    path = tmp_path / "results.html"
    browse.write_browse_html(full_table, path)
    proc = subprocess.run(["node", str(REPO / "tests/data/browse_page_check.js"), str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["networks"] == ["democnn"]
    values = out["sorted"]
    assert values == sorted(values) and all(v > 0.6 for v in values) and out["descending"] == sorted(values, reverse=True)
    assert out["filtered"].startswith("1–") and "filtered from" in out["filtered"]
    assert "filtered from" not in out["cleared"]


# ----------------------------------------------------------------------------- workflow wiring


def test_every_figure_has_a_caption_and_the_rule_lists_the_catalogue():
    for stem in catalogue.FIGURES:
        caption = REPO / "workflow" / catalogue.FIGURE_SPECS[stem].caption
        text = caption.read_text()
        assert "In the paper" in text and "Here" in text, stem
    smk = (REPO / "workflow/aggregate.smk").read_text()
    assert "for stem in FIGURES" in smk
    assert not any(f'"results/plots/{stem}.png"' in smk for stem in catalogue.FIGURES)
    assert set(plots.FIGURE_FUNCTIONS) == set(catalogue.FIGURES)
