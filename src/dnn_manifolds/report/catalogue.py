"""The report's figures by name (no plotting here, so the workflow can list its outputs cheaply).

:data:`FIGURES` is the fixed tuple of figure stems the ``plots`` rule writes as
``results/plots/<stem>.png`` and ``.pdf`` — every one of them in every configuration (a figure
whose data the configuration does not produce says so on its panel). :data:`FIGURE_SPECS` gives
each its report category and caption file (``workflow/report/<stem>.rst``). The separability
curves f(n) are drawn per (network, manifold set) by their own rule
(``results/plots/separability/<network>/<manifold set>.png``); see ``docs/report.md#report-figures``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIGURES", "FIGURE_SPECS", "SEPARABILITY_DIR", "FigureSpec"]


@dataclass(frozen=True)
class FigureSpec:
    stem: str
    title: str
    category: str
    subcategory: str = ""

    @property
    def caption(self) -> str:
        """The caption file, relative to ``workflow/``."""
        return f"report/{self.stem}.rst"


_SPECS = (
    FigureSpec("capacity_layers_point_cloud", "Capacity along the layers: point-cloud manifolds", "Capacity", "along the layers"),
    FigureSpec("capacity_layers_1d", "Capacity along the layers: 1-d manifolds", "Capacity", "along the layers"),
    FigureSpec("capacity_layers_2d", "Capacity along the layers: 2-d manifolds", "Capacity", "along the layers"),
    FigureSpec("capacity_vs_range_factor", "Capacity gain from pixels to the last layer vs range factor", "Capacity", "vs range factor"),
    FigureSpec("theory_vs_simulation", "Mean-field theory vs simulated capacity", "Capacity", "theory vs simulation"),
    FigureSpec("geometry_layers_point_cloud", "Geometry along the layers: point-cloud manifolds", "Geometry", "along the layers"),
    FigureSpec("geometry_layers_1d", "Geometry along the layers: 1-d manifolds", "Geometry", "along the layers"),
    FigureSpec("geometry_layers_2d", "Geometry along the layers: 2-d manifolds", "Geometry", "along the layers"),
    FigureSpec("trained_vs_untrained", "Trained vs untrained networks", "Training", ""),
    FigureSpec("controls", "Randomisation controls", "Experiments", "controls"),
    FigureSpec("manipulations", "Manipulations: centre norms and clipped dimension", "Experiments", "manipulations"),
    FigureSpec("spheres", "Manifolds vs balls of matched geometry", "Experiments", "spheres"),
    FigureSpec("finite_size_objects", "Finite size: capacity vs number of objects P", "Experiments", "finite size"),
    FigureSpec("finite_size_samples", "Finite size: capacity vs number of samples M", "Experiments", "finite size"),
    FigureSpec("finite_size_neurons", "Finite size: geometry vs number of neurons N", "Experiments", "finite size"),
)

FIGURE_SPECS: dict[str, FigureSpec] = {s.stem: s for s in _SPECS}
"""Each figure's title, report category and caption, by stem."""

FIGURES: tuple[str, ...] = tuple(FIGURE_SPECS)
"""The stems of the figures drawn from the tidy table, in report order."""

SEPARABILITY_DIR = "results/plots/separability"
"""Folder of the per-(network, manifold set) separability-curve figures."""
