"""The session driver both analyses share: choose sessions, analyse each, stack, record.

A manifold dataset holds several independent sessions (a layer × transform of a network, or one
recording). An analysis is a function of one session's ``(n_neurons, n_samples, n_objects)``
array; :func:`run_sessions` does everything around it, the same way for every analysis:

0. take the data as a manifold dataset (:func:`~dnn_manifolds.data.assemblies.as_dataset`:
   also a DataArray, an ``(N, M, P)`` array or a list of per-object ``(N, M_i)`` arrays);
1. resolve the ``session`` argument (a title or index → one session, output without a
   ``session`` dim; a sequence or ``None`` (all) → a ``session`` dim; an empty list or a
   session named twice is an error);
2. read each session (silent neurons dropped, :func:`~dnn_manifolds.data.session_data`);
3. call the per-session analysis with the session's index (its random stream key);
4. stack the per-session results along ``session`` (outer join of curve dimensions, with
   the analysis's fill values), and label them with the per-session coordinates
   (``session``, ``network``, ``layer``, ``transform``);
5. attach the provenance (:func:`analysis_attrs`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..data.assemblies import as_dataset
from ..data.dataset import SESSION_COORDS, TUNING, resolve_session, session_data
from ..data.provenance import provenance_attrs
from ..errors import UserError
from ..validation import check_int
from .options import Options

__all__ = ["analysis_attrs", "as_dataset", "check_seed", "resolve_sessions", "run_sessions"]

SessionAnalysis = Callable[[np.ndarray, int, str], xr.Dataset]
"""``analyse(values, session_index, title) -> xarray.Dataset`` for one session."""


def check_seed(seed: Any) -> int:
    """A base seed: a non-negative integer below 2**63 (numpy's seed sequences take it)."""
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 2**63:
        raise UserError(f"seed must be below 2**63; got {seed}")
    return seed


def resolve_sessions(
    dataset: xr.Dataset, session: int | str | Sequence[int | str] | None
) -> tuple[list[int], bool]:
    """Session indices to analyse, and whether one session was named (scalar output)."""
    if TUNING not in dataset.data_vars:
        raise UserError(f"dataset has no variable {TUNING!r}; is it a manifold dataset?")
    if session is None:
        return list(range(dataset.sizes["session"])), False
    if isinstance(session, (str, int, np.integer)):
        return [resolve_session(dataset, session)], True
    wanted = list(session)
    if not wanted:
        raise UserError("session must name at least one session (or be None for all)")
    indices = [resolve_session(dataset, s) for s in wanted]
    if len(set(indices)) != len(indices):
        titles = [str(dataset["session"].values[i]) for i in indices]
        twice = sorted({t for t in titles if titles.count(t) > 1})
        raise UserError(f"session {twice} named more than once: {wanted}")
    return indices, False


def run_sessions(
    dataset: xr.Dataset,
    session: int | str | Sequence[int | str] | None,
    analyse: SessionAnalysis,
    *,
    fill_value: Mapping[str, Any] | None = None,
    on_session: Callable[[int, int, str], None] | None = None,
    dtype: Any = np.float64,
) -> tuple[xr.Dataset, list[str]]:
    """Run ``analyse`` on the chosen sessions; return the stacked result and the titles.

    Parameters
    ----------
    dataset : xarray.Dataset, xarray.DataArray, ndarray or list of ndarray
        A manifold dataset, or anything :func:`~dnn_manifolds.data.assemblies.as_dataset`
        turns into one (a DataArray, an (N, M, P) array, a list of (N, M_i) arrays).
    session : int, str, sequence of them, or None
        See the module docstring.
    analyse : callable
        ``analyse(values, index, title)`` → one session's result (no ``session`` dim).
    fill_value : mapping, optional
        Fill values, by variable, where sessions' curves have different lengths (default NaN).
    on_session : callable, optional
        ``on_session(position, n_sessions, title)`` before each session (progress display).
    dtype : numpy dtype or None, default float64
        What each session is read as (:func:`~dnn_manifolds.data.session_data`); ``None`` keeps
        the stored precision, for analyses that convert per object.
    """
    dataset = as_dataset(dataset)
    indices, single = resolve_sessions(dataset, session)
    titles = [str(dataset["session"].values[s]) for s in indices]
    parts = []
    for position, (s, title) in enumerate(zip(indices, titles)):
        if on_session is not None:
            on_session(position, len(indices), title)
        parts.append(analyse(session_data(dataset, s, dtype=dtype), s, title))
    coords = {"session": np.array(titles, dtype=object)}
    for name in SESSION_COORDS:
        if name in dataset.coords:
            coords[name] = np.array([str(dataset[name].values[s]) for s in indices], dtype=object)
    if single:
        return parts[0].assign_coords({k: v[0] for k, v in coords.items()}), titles
    out = xr.concat(
        parts,
        dim="session",
        join="outer",
        data_vars="all",
        coords="minimal",
        compat="override",
        fill_value=dict(fill_value or {}) or xr.core.dtypes.NA,
        combine_attrs="drop_conflicts",
    )
    for name in out.data_vars:  # concat drops the attributes of filled variables
        if not out[name].attrs:
            out[name].attrs = dict(parts[0][name].attrs)
    return out.assign_coords({k: ("session", v) for k, v in coords.items()}), titles


def analysis_attrs(
    analysis: str,
    *,
    description: str,
    options: Options,
    seed: int,
    dataset: xr.Dataset,
    sessions: Sequence[str],
    **extra: Any,
) -> dict[str, Any]:
    """Provenance attributes of an analysis output (the same keys for every analysis).

    ``config`` / ``config_digest`` cover what determines the numbers — the analysis, its
    options (derived defaults resolved) and the seed — so two outputs with one digest were
    computed the same way; the sessions, the input's own digest and attributes are recorded
    beside them.
    """
    recorded = options.record()
    return provenance_attrs(
        seeds={analysis: int(seed)},
        config={"analysis": analysis, "options": recorded, "seed": int(seed)},
        analysis=analysis,
        title=description,
        seed=int(seed),
        options=json.dumps(recorded, sort_keys=True, default=str),
        sessions=json.dumps(list(sessions)),
        input_config_digest=str(dataset.attrs.get("config_digest", "")),
        input_attrs={
            k: (v.item() if isinstance(v, np.generic) else v)
            for k, v in dataset.attrs.items()
            if k != "config"
        },
        **extra,
    )
