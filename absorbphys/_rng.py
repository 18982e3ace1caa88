"""Deprecated location of :mod:`absorbphys.kernels.rng` (plugins written before 0.2 import it).

Import ``from absorbphys.kernels import rng`` instead; this module re-exports the same
objects and will be removed.
"""

import warnings

from absorbphys.kernels.rng import *  # noqa: F403 - the same objects, re-exported

warnings.warn("absorbphys._rng is deprecated: import absorbphys.kernels.rng instead",
              DeprecationWarning, stacklevel=2)
