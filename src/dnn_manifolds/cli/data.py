"""``dnn-manifolds import`` and ``dnn-manifolds info``: a user's own data files.

::

    dnn-manifolds import IN OUT.nc [--variable NAME] [--quiet]
    dnn-manifolds import ASSEMBLY.nc OUT.nc --object-coord C [--session-coord C] [--average-by C]
    dnn-manifolds import FEATURES OUT.nc --labels-file FILE [--labels-column C] [--labels-from parent]
    dnn-manifolds info IN [--variable NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_quiet, add_source_flags, check_output, read_source, source_options_given


def _import(args: argparse.Namespace) -> int:
    from ..data import TUNING, save_dataset

    inputs = [args.input] + ([args.labels] if args.labels else [])
    check_output(args.output, *inputs)
    ds = read_source(args)
    save_dataset(ds, args.output)
    if not args.quiet:
        sizes = ds[TUNING].sizes
        print(
            f"wrote {args.output}: {sizes['session']} sessions × {sizes['neuron']} neurons × "
            f"{sizes['sample']} samples × {sizes['object']} objects, {ds[TUNING].dtype}"
        )
        if ds.attrs.get("tuning_precision"):
            print(f"kept {ds.attrs['tuning_precision']}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..data import load_dataset, summarize

    path = Path(args.input)
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf", ".h5") and not source_options_given(args):
        ds = load_dataset(path)
    else:
        ds = read_source(args)
    with ds:
        info = summarize(ds)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    shape = info["shape"]
    print(f"{path}")
    print("  shape: " + " × ".join(f"{shape[d]} {d}s" for d in ("session", "neuron", "sample", "object")) + f", {info['dtype']}")
    for row in info["sessions"]:
        print(
            f"  session {row['title']!r}: {row['neurons_used']} neurons used, "
            f"{row['silent_neurons']} silent, {row['missing_neurons']} missing neurons, "
            f"{row['missing_samples']} missing samples, {row['nan_values']} NaN values"
        )
    for key in ("dnn_manifolds_version", "created", "config_digest", "seeds", "source_file", "tuning_precision"):
        if key in info["attrs"]:
            print(f"  {key}: {info['attrs'][key]}")
    return 0


def register(subparsers) -> None:
    from ..data.importers import DATA_VARIABLE

    p = subparsers.add_parser(
        "import",
        help="import own data (.mat v5/v7/v7.3, .npy, .npz, .nc; assemblies; feature matrices) into a manifold dataset",
        description="Convert a user's data file into a validated manifold dataset (netCDF; docs/data-model.md).",
    )
    p.add_argument("input", metavar="IN", help="input file: .mat (MATLAB v5/v7/v7.3), .npy, .npz or .nc")
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file (written atomically)")
    p.add_argument(
        "--variable", default=None,
        help=f"name of the data variable in the input (default: {DATA_VARIABLE}; assemblies and features: the only one)",
    )
    add_source_flags(p)
    add_quiet(p)
    p.set_defaults(func=_import)

    p = subparsers.add_parser(
        "info", help="describe a manifold dataset: shape, sessions, NaN counts, silent neurons"
    )
    p.add_argument("input", metavar="IN", help="a manifold dataset (.nc) or any importable file")
    p.add_argument("--variable", default=None, help="data variable for non-.nc input")
    add_source_flags(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_info)
