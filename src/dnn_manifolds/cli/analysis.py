"""``dnn-manifolds capacity`` and ``dnn-manifolds geometry``: one shape for both analyses.

::

    dnn-manifolds capacity IN.nc OUT.nc [--session S ...] [--seed N] [--jobs J] [--quiet] [OPTIONS]
    dnn-manifolds geometry IN.nc OUT.nc [--session S ...] [--seed N] [--jobs J] [--quiet] [OPTIONS]
    dnn-manifolds capacity ASSEMBLY.nc OUT.nc --object-coord C [--session-coord C] [--average-by C] ...

``OPTIONS`` are generated from :class:`~dnn_manifolds.analysis.capacity.CapacityOptions` and
:class:`~dnn_manifolds.analysis.geometry.GeometryOptions` (``--control shuffle``,
``--cutting-plane``, ``--no-tails``, ``--method point_cloud``, ``--n-t 200``, …).
"""

from __future__ import annotations

import argparse

import numpy as np

from .common import (
    add_option_flags,
    add_quiet,
    add_seed,
    add_sessions,
    add_source_flags,
    check_output,
    command_line,
    option_values,
    positive_int,
    read_source,
    session_argument,
    source_options_given,
)


def _run(args: argparse.Namespace, analysis: str) -> int:
    from ..data import load_dataset, write_result

    if analysis == "capacity":
        from ..analysis.capacity import CapacityOptions as Opts
        from ..analysis.capacity import capacity as run
        from ..data import read_result

        extra = {"jobs": args.jobs}
        if args.reference is not None:
            check_output(args.output, args.reference)
            extra["reference"] = read_result(args.reference)
    else:
        from ..analysis.geometry import GeometryOptions as Opts
        from ..analysis.geometry import geometry as run
        extra = {"jobs": args.jobs}
    check_output(args.output, args.input)
    options = Opts.from_mapping(option_values(args, Opts))  # bad values stop before reading
    session = session_argument(args.session)
    ds = read_source(args) if source_options_given(args) else load_dataset(args.input)
    with ds:
        out = run(ds, options, session=session, seed=args.seed, progress=not args.quiet, **extra)
    out.attrs["input_file"] = str(args.input)
    out.attrs["history"] = command_line(args.argv)
    write_result(out, args.output)
    if not args.quiet:
        _summary(out, analysis)
    return 0


def _summary(out, analysis: str) -> None:
    titles = np.atleast_1d(out["session"].values)
    cap = np.atleast_1d(out["capacity"].values)
    for i, title in enumerate(titles):
        if analysis == "capacity":
            n_c = np.atleast_1d(out["critical_n_features"].values)[i]
            print(f"{title}: alpha_c = {cap[i]:.4g}, N_c = {n_c:.4g}")
        else:
            radius = np.atleast_1d(out["radius"].values)[i]
            dim = np.atleast_1d(out["dimension"].values)[i]
            k = np.atleast_1d(out["n_common_directions"].values)[i]
            print(f"{title}: alpha_M = {cap[i]:.4g}, R_M = {radius:.4g}, D_M = {dim:.4g}, K = {int(k)}")


def _add_jobs(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help=f"worker processes for {what} (default 1; results do not depend on it)",
    )


def register(subparsers) -> None:
    from ..analysis.capacity import CapacityOptions
    from ..analysis.geometry import GeometryOptions

    p = subparsers.add_parser(
        "capacity",
        help="direct classification capacity (N_c search over random projections)",
        description="Direct (simulated) capacity alpha_c = P / N_c of the object manifolds of a "
        "manifold dataset (Cohen et al. 2020; docs/capacity.md). Writes a netCDF file atomically.",
    )
    p.add_argument("input", metavar="IN", help="manifold dataset (netCDF); or an assembly / feature matrix (see below)")
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file (written atomically)")
    add_sessions(p)
    add_seed(p)
    _add_jobs(p, "the repetitions")
    p.add_argument(
        "--reference",
        metavar="GEO.nc",
        default=None,
        help="geometry result of the same sessions (dnn-manifolds geometry), needed by --balls, "
        "--centre-scale, --clip-dimension and --permute-axes",
    )
    add_quiet(p)
    add_source_flags(p)
    add_option_flags(p, CapacityOptions)
    p.set_defaults(func=lambda a: _run(a, "capacity"))

    p = subparsers.add_parser(
        "geometry",
        help="mean-field-theory geometry (alpha_M, R_M, D_M, centre correlations)",
        description="Mean-field-theory capacity, radius and dimension of every object manifold, "
        "after removing the optimal common low-rank structure of the object centres "
        "(docs/geometry.md). Writes a netCDF file atomically.",
    )
    p.add_argument("input", metavar="IN", help="manifold dataset (netCDF); or an assembly / feature matrix (see below)")
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file (written atomically)")
    add_sessions(p)
    add_seed(p)
    _add_jobs(p, "the objects of a session (large manifolds: seconds per object)")
    add_quiet(p)
    add_source_flags(p)
    add_option_flags(p, GeometryOptions)
    p.set_defaults(func=lambda a: _run(a, "geometry"))
