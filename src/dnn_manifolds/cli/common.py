"""Conventions every subcommand follows, in one place.

* Inputs come before the output: ``dnn-manifolds capacity IN.nc OUT.nc``,
  ``dnn-manifolds collect SHARD... OUT.nc``.
* ``--quiet`` turns off progress bars and summaries; ``--seed`` is the base seed; ``--session``
  (repeatable) chooses sessions.
* An analysis's options become flags generated from its options class
  (:func:`add_option_flags`), so the command line has the same names, defaults and allowed
  values as the Python API and the workflow configuration.
* An output is never allowed to replace an input (:func:`check_output`).
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
    "check_output",
    "command_line",
    "non_negative_int",
    "option_values",
    "positive_int",
    "seed_int",
    "session_argument",
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
