"""Provenance attributes: what produced an output (versions, seeds, configuration digest).

Every output of the package carries these attributes (netCDF-safe: strings and numbers; dicts
are JSON strings), so that a file says which code, seeds and configuration produced it
(``docs/data-model.md``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import __version__

__all__ = ["config_digest", "provenance_attrs"]


def config_digest(config: Mapping[str, Any] | None) -> str:
    """SHA-256 (hex) of a configuration mapping, canonicalised as sorted-key JSON."""
    text = json.dumps(config or {}, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def provenance_attrs(
    *,
    seeds: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Provenance attributes for an output dataset (netCDF-safe).

    Parameters
    ----------
    seeds : mapping, optional
        Every seed the output depends on, by name; stored as a JSON string ``seeds``.
    config : mapping, optional
        The configuration that produced the output; its digest is stored as ``config_digest``
        and the configuration itself as the JSON string ``config``.
    **extra
        More attributes (strings and numbers pass through, anything else is JSON-encoded).
    """
    import scipy

    attrs: dict[str, Any] = {
        "dnn_manifolds_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "xarray_version": xr.__version__,
        "seeds": json.dumps(dict(seeds or {}), sort_keys=True, default=str),
        "config_digest": config_digest(config),
    }
    if config is not None:
        attrs["config"] = json.dumps(config, sort_keys=True, default=str)
    for key, value in extra.items():
        attrs[key] = value if isinstance(value, (str, int, float)) else json.dumps(
            value, sort_keys=True, default=str
        )
    return attrs
