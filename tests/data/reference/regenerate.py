"""Regenerate mini_results.csv: run the miniature workflow as the tests do and keep its numbers.

Only for a change that is meant to move numbers (say which, and why, in its commit message):

    python tests/data/reference/regenerate.py [WORKDIR]

It runs ``tests/data/mini.yaml`` with ``--cores 2`` and the pinned numerical kernels of
``tests/conftest.py``, then writes every value of the tidy table (wall times excluded) at full
precision.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "tests"))

from conftest import run_snakemake  # noqa: E402

KEYS = ["network", "kind", "layer", "transform", "analysis", "measure"]


def main() -> None:
    import xarray as xr

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mini-reference-"))
    shutil.copytree(REPO / "config", work / "config", dirs_exist_ok=True)
    run_snakemake("--directory", work, "--cores", "2", "--configfile", REPO / "tests/data/mini.yaml", timeout=3600)
    with xr.open_dataset(work / "results/tables/results.nc", engine="h5netcdf") as ds:
        table = ds.to_dataframe()
    keys = [k for k in KEYS if k in table.columns] + [c for c in table.columns if c.startswith("variant")]
    table = table[table["measure"] != "wall_time"].sort_values(keys)
    table[keys + ["value"]].to_csv(HERE / "mini_results.csv", index=False, float_format="%.17g")
    print(f"wrote {HERE / 'mini_results.csv'} ({len(table)} values) from {work}")


if __name__ == "__main__":
    main()
