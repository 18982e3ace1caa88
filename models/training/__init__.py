r"""Training dynamics near the phase boundary of random deep networks.

A small NumPy trainer (hand-written backprop) for MLPs and periodic 1D CNNs initialised
exactly as the random-network processes draw them (``W ~ N(0, sigma_w**2 / fan_in)``,
``b ~ N(0, sigma_b**2)``), trainability sweeps over the ``(sigma_w, depth)`` plane and over
``sigma_b``, the empirical neural tangent kernel (NTK) at initialisation, and a report that
relates the test accuracy to the mean-field metric factor :math:`\kappa L` and to the
distance from the critical line :math:`\sigma_{w,c}(\sigma_b)`.

At criticality the order parameter of the two-replica process decays as

.. math:: \rho(l) = 1 - c(l) \simeq \frac{1}{\kappa\, l},

so after :math:`L` layers two inputs keep a decorrelation :math:`1/(\kappa L)`: the product
:math:`\kappa L` measures how far a critical network of depth :math:`L` has collapsed, and
differs between boundary points (``sigma_b``, activation) with different :math:`\kappa`.
Off the boundary the mean-field correlation depth :math:`\xi(\sigma_w, \sigma_b)` sets the
trainable depth, :math:`L \lesssim c\,\xi` (Schoenholz et al., ICLR 2017).

Public functions: :func:`make_task`, :func:`init_network`, :func:`train`,
:func:`jacobian`, :func:`empirical_ntk`, :func:`ntk_spectrum`,
:func:`trainability_sweep`, :func:`critical_sweep`, :func:`measure_width_cost`,
:func:`plot_trainability`, :func:`training_report`. Nothing is downloaded: the default
task is a synthetic teacher-student problem; ``task="digits"`` uses scikit-learn's
bundled 8x8 digits (optional extra ``absorbphys[digits]``).
"""

from ._data import Task
from ._nets import Network
from ._ntk import empirical_ntk, jacobian, ntk_spectrum
from ._report import training_report
from ._sweeps import critical_sweep, measure_width_cost, plot_trainability, trainability_sweep
from ._trainer import MAX_GRID_VALUES, MAX_TRAININGS, PARAMS, init_network, make_task, train

__all__ = [
    "MAX_GRID_VALUES",
    "MAX_TRAININGS",
    "Network",
    "PARAMS",
    "Task",
    "critical_sweep",
    "empirical_ntk",
    "init_network",
    "jacobian",
    "make_task",
    "measure_width_cost",
    "ntk_spectrum",
    "plot_trainability",
    "train",
    "trainability_sweep",
    "training_report",
]
