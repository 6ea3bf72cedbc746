"""Typed, frozen, validated option objects — one mechanism for both analyses.

An analysis's options are a frozen :mod:`dataclasses` dataclass deriving from :class:`Options`;
each field is declared with :func:`option`, which records its type, its allowed values or range
and a one-line description. The same declaration

* validates every value once, when the object is built (:class:`~dnn_manifolds.errors.OptionError`
  naming the option and the allowed values; unknown names are refused by :meth:`Options.from_mapping`),
* gives the defaults of the Python API, the command line and the workflow configuration,
* produces the JSON schema of the configuration's ``<analysis>.options`` block
  (:meth:`Options.json_schema`) and the option tables of the documentation
  (:meth:`Options.describe`).

So a default or an allowed value lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from ..errors import OptionError

__all__ = ["OptionSpec", "Options", "option"]

_KINDS = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object"}


@dataclass(frozen=True)
class OptionSpec:
    """What one option accepts (the metadata of its dataclass field)."""

    kind: type
    description: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False
    none_means: str | None = None
    keys: tuple[str, ...] | None = None  # allowed keys of a dict-valued option

    def allowed(self) -> str:
        """The allowed values, in words (for error messages and documentation)."""
        if self.choices is not None:
            text = f"one of {list(self.choices)}"
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is dict:
            text = f"a mapping with keys among {list(self.keys or ())}"
        else:
            noun = "an integer" if self.kind is int else "a finite number" if self.kind is float else "a string"
            lo = hi = ""
            if self.minimum is not None:
                lo = f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}"
            if self.maximum is not None:
                hi = f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}"
            text = noun + (" " + " and ".join(x for x in (lo, hi) if x) if lo or hi else "")
        return text + (" or null" if self.nullable else "")

    def check(self, where: str, name: str, value: Any) -> Any:
        """Validate ``value``; return it normalised (numpy scalars to Python, ints to floats)."""

        def bad() -> OptionError:
            return OptionError(f"{where} option '{name}': must be {self.allowed()}; got {value!r}")

        if value is None:
            if self.nullable:
                return None
            raise bad()
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise bad()
            return bool(value)
        if self.kind is dict:
            if not isinstance(value, Mapping):
                raise bad()
            unknown = sorted(set(value) - set(self.keys or ()))
            if unknown:
                raise OptionError(
                    f"{where} option '{name}': unknown key(s) {unknown}; allowed: {list(self.keys or ())}"
                )
            return dict(value)
        if self.choices is not None:
            if value not in self.choices:
                raise bad()
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise bad()
            return value
        if isinstance(value, (bool, np.bool_)):
            raise bad()
        if self.kind is int:
            if not isinstance(value, (int, np.integer)):
                raise bad()
            value = int(value)
        else:
            if not isinstance(value, (int, float, np.integer, np.floating)):
                raise bad()
            value = float(value)
            if not math.isfinite(value):
                raise bad()
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            raise bad()
        if self.maximum is not None and (
            value > self.maximum or (self.exclusive_maximum and value == self.maximum)
        ):
            raise bad()
        return value

    def json_schema(self, default: Any) -> dict[str, Any]:
        """JSON-schema fragment of this option."""
        schema: dict[str, Any] = {"description": self.description}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        else:
            schema["type"] = _KINDS[self.kind]
        if self.kind is dict:
            schema["additionalProperties"] = False
            schema["properties"] = {k: {} for k in self.keys or ()}
        if self.minimum is not None:
            schema["exclusiveMinimum" if self.exclusive_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            schema["exclusiveMaximum" if self.exclusive_maximum else "maximum"] = self.maximum
        if self.nullable:
            schema = {"description": schema.pop("description"), "anyOf": [schema, {"type": "null"}]}
        schema["default"] = default
        return schema


def option(default: Any, description: str, **spec: Any) -> Any:
    """Declare an option field: its default, a one-line description and what it accepts.

    ``spec`` are the :class:`OptionSpec` fields (``kind`` defaults to the default's type).
    """
    kind = spec.pop("kind", None) or type(default)
    if isinstance(default, (dict, list)):
        raise TypeError("mutable defaults are not allowed; use None")  # pragma: no cover
    return dataclasses.field(
        default=default, metadata={"option": OptionSpec(kind=kind, description=description, **spec)}
    )


class Options:
    """Base of the analyses' option dataclasses (declare subclasses ``@dataclass(frozen=True)``).

    Build one with keywords (``CapacityOptions(control="shuffle")``) or from a mapping
    (:meth:`from_mapping`, which refuses unknown names); change one with :meth:`replace`. Every
    value is checked when the object is made.
    """

    ANALYSIS: ClassVar[str] = "analysis"

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            spec: OptionSpec = f.metadata["option"]
            object.__setattr__(self, f.name, spec.check(self.ANALYSIS, f.name, getattr(self, f.name)))
        self._check()

    def _check(self) -> None:
        """Checks between options (override)."""

    # ------------------------------------------------------------------ construction

    @classmethod
    def names(cls) -> list[str]:
        """Option names, in declaration order."""
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | Options | None = None, /, **overrides: Any):
        """Options from a mapping (and/or keywords); an unknown name is an :class:`OptionError`."""
        if isinstance(mapping, cls):
            base = mapping.to_dict()
        elif isinstance(mapping, Options):
            raise OptionError(
                f"expected {cls.ANALYSIS} options; got {type(mapping).__name__}"
            )
        else:
            if mapping is not None and not isinstance(mapping, Mapping):
                raise OptionError(
                    f"{cls.ANALYSIS} options must be a mapping of option names to values; got {mapping!r}"
                )
            base = dict(mapping or {})
        base.update(overrides)
        unknown = sorted(set(base) - set(cls.names()))
        if unknown:
            raise OptionError(
                f"unknown {cls.ANALYSIS} option(s) {unknown}; known options: {sorted(cls.names())}"
            )
        return cls(**base)

    def replace(self, **changes: Any):
        """A copy with some options changed (validated like any other)."""
        return type(self).from_mapping(self, **changes)

    # ------------------------------------------------------------------ description

    def to_dict(self) -> dict[str, Any]:
        """The options as given (``None`` where a default is derived from other options)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def record(self) -> dict[str, Any]:
        """The options as used, derived defaults resolved (what outputs record). Override."""
        return self.to_dict()

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """JSON schema of the mapping :meth:`from_mapping` accepts."""
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                f.name: f.metadata["option"].json_schema(f.default)
                for f in fields(cls)  # type: ignore[arg-type]
            },
        }

    @classmethod
    def describe(cls) -> list[dict[str, str]]:
        """One row per option: name, default, allowed values, description (for docs)."""
        rows = []
        for f in fields(cls):  # type: ignore[arg-type]
            spec: OptionSpec = f.metadata["option"]
            default = "null" if f.default is None else repr(f.default).replace("'", "")
            if f.default is None and spec.none_means:
                default = f"null ({spec.none_means})"
            rows.append(
                {"name": f.name, "default": default, "allowed": spec.allowed(), "description": spec.description}
            )
        return rows
