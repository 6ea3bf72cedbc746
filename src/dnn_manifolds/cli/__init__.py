"""The ``dnn-manifolds`` command: a thin layer over the library (which never imports it).

One module per pipeline stage adds its subcommands (:data:`SUBCOMMANDS`); the conventions they
share are in :mod:`.common`. Errors the user can fix — a :class:`~dnn_manifolds.errors.UserError`
(bad file, option or argument) or an :class:`OSError` (missing file, permissions, full disk) —
print one line, ``dnn-manifolds: error: ...``, and exit with status 2, leaving no partial
output. Anything else is a bug and is shown with its traceback (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import UserError
from . import analysis, data, generation, workflow

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (data, analysis, generation, workflow)
"""Modules that add subcommands (each defines ``register(subparsers)``)."""


class _Parser(argparse.ArgumentParser):
    """argparse with the package's one error line (exit status 2) instead of usage + error."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dnn-manifolds",
        description="Separability and geometry of object manifolds in deep neural networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dnn-manifolds`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error (one line, status 2)
        return int(stop.code or 0)
    args.argv = argv
    try:
        return int(args.func(args) or 0)
    except (UserError, OSError) as err:
        text = str(err)
        message = text.splitlines()[0] if text else type(err).__name__
        print(f"dnn-manifolds: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dnn-manifolds: interrupted", file=sys.stderr)
        return 130
