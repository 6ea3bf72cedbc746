"""Conventions every subcommand follows, in one place.

* Inputs come before the output: ``dnn-manifolds capacity IN.nc OUT.nc``,
  ``dnn-manifolds collect SHARD... OUT.nc``.
* ``--quiet`` turns off progress bars and summaries; ``--seed`` is the base seed; ``--session``
  (repeatable) chooses sessions.
* An analysis's options become flags generated from its options class
  (:func:`add_option_flags`), so the command line has the same names, defaults and allowed
  values as the Python API and the workflow configuration.
* An output is never allowed to replace an input (:func:`check_output`).
* Data inputs may be assemblies or feature matrices (:func:`add_source_flags`): ``import``,
  ``info``, ``capacity`` and ``geometry`` read them the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..analysis.options import Options, OptionSpec
from ..errors import UserError

__all__ = [
    "add_option_flags",
    "add_quiet",
    "add_seed",
    "add_sessions",
    "add_source_flags",
    "check_output",
    "command_line",
    "json_mapping",
    "non_negative_int",
    "option_values",
    "positive_int",
    "read_source",
    "seed_int",
    "session_argument",
    "source_options_given",
]


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (seeds)."""
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {text!r}") from err
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; got {text!r}")
    return value


SEED_LIMIT = 2**63
"""Seeds are below this (numpy's seed sequences and netCDF attributes take 64-bit integers)."""


def seed_int(text: str) -> int:
    """argparse type: a seed, an integer in [0, 2**63), checked before any work."""
    value = non_negative_int(text)
    if value >= SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"a seed must be below 2**63; got {text!r}")
    return value


def add_seed(parser: argparse.ArgumentParser, *, default: int = 0) -> None:
    parser.add_argument(
        "--seed", type=seed_int, default=default, metavar="N", help=f"base random seed (default {default})"
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def add_sessions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--session",
        action="append",
        metavar="S",
        help="session title or index; repeat for several (default: every session)",
    )


def session_argument(values: Sequence[str] | None) -> str | list[str] | None:
    """The ``session`` argument of an analysis from a repeatable ``--session`` option:
    ``None`` (all sessions) when absent, the title when given once, the list otherwise."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return list(values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def json_mapping(text: str) -> dict[str, Any]:
    """argparse type: a JSON object."""
    return _json_mapping(text)


def _json_mapping(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON mapping; got {text!r}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON mapping; got {text!r}")
    return value


def add_option_flags(parser: argparse.ArgumentParser, options: type[Options]) -> None:
    """One flag per option of ``options`` (``--name-with-dashes``); booleans get ``--x`` and
    ``--no-x``. Flags not given leave the option at its default."""
    group = parser.add_argument_group(f"{options.ANALYSIS} options (defaults as in the Python API)")
    for f in fields(options):  # type: ignore[arg-type]
        spec: OptionSpec = f.metadata["option"]
        default = f"default {f.default!r}" if f.default is not None else f"default: {spec.none_means or 'none'}"
        help_text = f"{spec.description} ({default})".replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f"option_{f.name}", "default": None, "help": help_text}
        if spec.kind is bool:
            group.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, **kwargs)
        elif spec.choices is not None:
            group.add_argument(_flag(f.name), choices=list(spec.choices), **kwargs)
        elif spec.kind is dict:
            group.add_argument(_flag(f.name), type=_json_mapping, metavar="JSON", **kwargs)
        else:
            kind = {int: int, float: float, str: str}[spec.kind]
            group.add_argument(_flag(f.name), type=kind, metavar=f.name.upper(), **kwargs)


def option_values(args: argparse.Namespace, options: type[Options]) -> dict[str, Any]:
    """The options given on the command line (those left out keep their defaults)."""
    out = {}
    for name in options.names():
        value = getattr(args, f"option_{name}", None)
        if value is not None:
            out[name] = value
    return out


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """Flags that read an assembly (``--object-coord`` …) or a feature matrix (``--labels-file`` …)
    instead of a manifold dataset (:func:`dnn_manifolds.data.inputs.import_any`)."""
    a = p.add_argument_group("assemblies (presentation × neuroid, e.g. Brain-Score / brainio netCDF)")
    a.add_argument("--object-coord", default=None, metavar="C",
                   help="presentation coordinate naming each presentation's object (e.g. object_name)")
    a.add_argument("--session-coord", default=None, metavar="C",
                   help="neuroid (or presentation) coordinate splitting the data into sessions (e.g. region)")
    a.add_argument("--average-by", default=None, metavar="C",
                   help="presentation coordinate identifying the stimulus: its repetitions are averaged (e.g. stimulus_id)")
    a.add_argument("--presentation-dim", default="presentation", help="name of the presentation dim (default %(default)s)")
    a.add_argument("--neuroid-dim", default="neuroid", help="name of the neuroid dim (default %(default)s)")
    f = p.add_argument_group("feature matrices (n_stimuli, n_features), e.g. thingsvision's")
    f.add_argument("--labels-file", dest="labels", default=None, metavar="FILE",
                   help="one label (object) per stimulus: .txt (one per line), .csv/.tsv or .npy")
    f.add_argument("--labels-column", default=None, metavar="C",
                   help="the labels' column in the labels CSV/TSV, or in a CSV/TSV features file")
    f.add_argument("--labels-from", default="value", choices=["value", "parent"],
                   help="'parent': labels are paths and their parent folder names the object")


def source_options_given(args: argparse.Namespace) -> bool:
    """Whether the input is to be read as an assembly or a feature matrix."""
    return any(getattr(args, name, None) is not None for name in ("object_coord", "labels", "labels_column"))


def read_source(args: argparse.Namespace):
    """The input as a manifold dataset (:func:`dnn_manifolds.data.inputs.import_any`)."""
    from ..data.inputs import import_any

    return import_any(
        args.input, variable=getattr(args, "variable", None), object_coord=args.object_coord,
        session_coord=args.session_coord, average_by=args.average_by, presentation_dim=args.presentation_dim,
        neuroid_dim=args.neuroid_dim, labels=args.labels, labels_column=args.labels_column,
        labels_from=args.labels_from,
    )


def check_output(output: str | os.PathLike, *inputs: str | os.PathLike) -> Path:
    """Refuse an output path that is one of the inputs (it would replace the user's data)."""
    out = Path(output)
    for item in inputs:
        src = Path(item)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            same = os.path.samefile(out, src)
        if same:
            raise UserError(f"{output}: the output would replace the input {item}; choose another output path")
    return out


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (for the ``history`` attribute of outputs)."""
    words = list(sys.argv[1:] if argv is None else argv)
    return "dnn-manifolds " + " ".join(shlex.quote(str(w)) for w in words)
