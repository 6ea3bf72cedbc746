"""dnn_manifolds: separability and geometry of object manifolds in deep neural networks.

A Python re-implementation of Cohen, Chung, Lee & Sompolinsky, *Separability and geometry of
object manifolds in deep neural networks*, Nature Communications 11, 746 (2020).

Glossary (one word for one thing, in arguments, dims, config keys and plot labels)
----------------------------------------------------------------------------------
=========  ======================  ============================================
symbol     code                    dataset dimension
=========  ======================  ============================================
S          ``n_sessions``          ``session`` (a layer × transform, or a title)
N          ``n_neurons``           ``neuron`` (units / features)
M          ``n_samples``           ``sample`` (points on one object manifold)
P          ``n_objects``           ``object`` (manifolds)
κ          ``kappa``               margin
α_c        ``capacity``            direct (simulated) capacity P / N_c
α_M        ``alpha_m``             mean-field-theory capacity
R_M        ``radius``              manifold radius
D_M        ``dimension``           manifold dimension
=========  ======================  ============================================

Modules: :mod:`~dnn_manifolds.dataset` (the manifold dataset), :mod:`~dnn_manifolds.importers`
(own data: MATLAB, NumPy, netCDF), :mod:`~dnn_manifolds.fileio` (atomic writes),
:mod:`~dnn_manifolds.cli` (the ``dnn-manifolds`` command).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dnn-manifolds")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
