"""Stage 5 of the pipeline: tidy tables, figures and contact sheets of a run.

* :mod:`.tables` — one row per (network, manifold set, layer, transform, analysis, measure),
  CSV and netCDF;
* :mod:`.plots` — the figures drawn from the table;
* :mod:`.contact_sheet` — one object's manifold as a grid of its warped samples.
"""
