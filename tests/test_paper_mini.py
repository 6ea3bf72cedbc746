"""The paper-shaped miniature (config/paper-mini.yaml) end to end: every experiment kind of the
paper's results script, three architectures, two range factors per smooth kind, point clouds,
replicates; one table row per result key and measure, every figure drawn.

Runs a few minutes on 2 cores: `make test-paper-mini` (CI runs it after `make test`)."""

import os
import shutil

import pandas as pd
import pytest
import yaml

from conftest import REPO, run_snakemake
from dnn_manifolds.report.tables import read_table

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(
        os.environ.get("DNN_MANIFOLDS_TEST_PAPER_MINI") != "1",
        reason="the paper-shaped miniature takes minutes: run `make test-paper-mini`",
    ),
]

PRESET = REPO / "config/paper-mini.yaml"
KEY = ["network", "manifold", "layer", "transform", "experiment", "analysis", "variant", "measure"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("paper-mini")
    shutil.copytree(REPO / "config", work / "config")
    run_snakemake("--directory", work, "--cores", "2", "--configfile", PRESET, timeout=3000)
    run_snakemake("--directory", work, "--configfile", PRESET, "--report", "results/report.html", timeout=600)
    return work


def test_one_row_per_result_key_and_measure(run):
    table = read_table(run / "results/tables/results.csv")
    dup = table[table.duplicated(KEY, keep=False)]
    assert dup.empty, dup[KEY].head(10)
    assert not table["flagged"].any(), table[table["flagged"]][KEY].head()


def test_every_experiment_and_variant_has_results(run):
    config = yaml.safe_load(PRESET.read_text())
    table = read_table(run / "results/tables/results.csv")
    for name, spec in config["experiments"].items():
        rows = table[table["experiment"] == name]
        assert not rows.empty, name
        grid = spec["grid"]
        n_variants = len(grid) if isinstance(grid, list) else int(pd.Series([len(v) for v in grid.values()]).prod())
        assert rows["variant"].nunique() == n_variants, name
        measure = "capacity"
        values = rows[rows["measure"] == measure]["value"]
        assert values.notna().all() and (values > 0).all(), name
    assert set(table["experiment"]) == {"capacity", "geometry", *config["experiments"]}


def test_manifold_sets_are_never_mixed(run):
    """Every row's manifold parameters are those of its set in the config, replicates are
    numbered under their set, and two sets of one kind stay apart."""
    config = yaml.safe_load(PRESET.read_text())
    table = read_table(run / "results/tables/results.csv")
    sets = table.groupby("manifold")[["manifold_set", "replicate", "kind", "range_factor", "n_objects", "n_samples"]].nunique(dropna=False)
    assert (sets == 1).all().all(), sets[(sets != 1).any(axis=1)]
    for name, spec in config["manifolds"].items():
        rows = table[table["manifold_set"] == name]
        assert set(rows["replicate"]) == set(range(1 + len(spec.get("replicates", [])))), name
        assert (rows["kind"] == spec["kind"]).all() and (rows["n_samples"] == spec["n_samples"]).all(), name
        if "range_factor" in spec:
            assert (rows["range_factor"] == spec["range_factor"]).all(), name
    one_d = table[(table["kind"] == "1d") & (table["experiment"] == "capacity") & (table["measure"] == "capacity")]
    assert one_d["manifold"].nunique() == 2 and one_d["range_factor"].nunique() == 2


def test_every_figure_and_the_report_exist(run):
    from dnn_manifolds.report.plots import FIGURES

    for stem in FIGURES:
        for suffix in (".png", ".pdf"):
            path = run / "results/plots" / f"{stem}{suffix}"
            assert path.exists() and path.stat().st_size > 3000, path
    html = (run / "results/report.html").read_text(errors="replace")
    assert len(html) > 100_000
