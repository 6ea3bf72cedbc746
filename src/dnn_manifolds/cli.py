"""The ``dnn-manifolds`` command.

Subcommands are registered by the module that owns the science: each module listed in
:data:`SUBCOMMAND_MODULES` defines ``register_cli(subparsers)``, which adds its parser(s) and
sets ``func`` (a callable taking the parsed arguments and returning an exit code).

Errors the user can fix (bad files, bad arguments) print one line, ``dnn-manifolds: error:
...``, and exit with status 2; no partial output file is left behind.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

SUBCOMMAND_MODULES = (
    "dnn_manifolds.importers",
    "dnn_manifolds.geometry",
    "dnn_manifolds.capacity",
    "dnn_manifolds.stimuli", "dnn_manifolds.transforms", "dnn_manifolds.networks", "dnn_manifolds.manifolds", "dnn_manifolds.training",
)
"""Modules that contribute subcommands (each defines ``register_cli(subparsers)``)."""


class CLIError(Exception):
    """An error to report to the user as one line, with exit status 2."""


def session_argument(values: Sequence[str] | None) -> str | list[str] | None:
    """The ``session`` argument of an analysis from a repeatable ``--session`` option:
    ``None`` (all sessions) when absent, the title when given once, the list otherwise."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return list(values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnn-manifolds",
        description="Separability and geometry of object manifolds in deep neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register_cli(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dnn-manifolds`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError, PermissionError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"dnn-manifolds: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dnn-manifolds: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
