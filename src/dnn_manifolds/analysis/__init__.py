"""Stage 4 of the pipeline: the analyses of a manifold dataset.

* :mod:`.capacity` — direct (simulated) classification capacity α_c = P / N_c;
* :mod:`.geometry` — mean-field-theory capacity α_M, radius R_M, dimension D_M, centre
  correlations;
* :mod:`.theory` — closed forms (α₀(κ) of points, α_B of balls);
* :mod:`.controls` — control manipulations of the data, shared by both analyses;
* :mod:`.options` — the typed option objects both analyses' options derive from;
* :mod:`.sessions` — the session driver both analyses run through (choose sessions, analyse
  each, stack, record provenance);
* :mod:`.variables` — the one table of output variable names and meanings.

Both analyses have the same shape: ``analysis(dataset, options=None, *, session=None,
seed=0, progress=False, **option_kwargs) -> xarray.Dataset``, with a frozen options object
(:class:`~.capacity.CapacityOptions`, :class:`~.geometry.GeometryOptions`).
"""
