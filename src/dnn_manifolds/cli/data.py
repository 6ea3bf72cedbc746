"""``dnn-manifolds import`` and ``dnn-manifolds info``: a user's own data files.

::

    dnn-manifolds import IN OUT.nc [--variable NAME] [--quiet]
    dnn-manifolds info IN [--variable NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_quiet, check_output


def _import(args: argparse.Namespace) -> int:
    from ..data import TUNING, import_data, save_dataset

    check_output(args.output, args.input)
    ds = import_data(args.input, variable=args.variable)
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
    from ..data import import_data, load_dataset, summarize

    path = Path(args.input)
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf", ".h5"):
        ds = load_dataset(path)
    else:
        ds = import_data(path, variable=args.variable)
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
        help="import own data (.mat v5/v7/v7.3, .npy, .npz, .nc) into a manifold dataset",
        description="Convert a user's data file into a validated manifold dataset (netCDF; docs/data-model.md).",
    )
    p.add_argument("input", metavar="IN", help="input file: .mat (MATLAB v5/v7/v7.3), .npy, .npz or .nc")
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file (written atomically)")
    p.add_argument(
        "--variable", default=DATA_VARIABLE, help="name of the data variable in the input (default: %(default)s)"
    )
    add_quiet(p)
    p.set_defaults(func=_import)

    p = subparsers.add_parser(
        "info", help="describe a manifold dataset: shape, sessions, NaN counts, silent neurons"
    )
    p.add_argument("input", metavar="IN", help="a manifold dataset (.nc) or any importable file")
    p.add_argument("--variable", default=DATA_VARIABLE, help="data variable for non-.nc input")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_info)
