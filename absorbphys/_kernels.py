"""Deprecated location of :mod:`absorbphys.kernels.sums` (plugins written before 0.2 import it).

Import ``from absorbphys.kernels.sums import alloc_sums, record_sums, sums_dict`` instead;
this module re-exports the same objects and will be removed.
"""

import warnings

from absorbphys.kernels.sums import alloc_sums, record_sums, sums_dict  # noqa: F401

warnings.warn("absorbphys._kernels is deprecated: import absorbphys.kernels.sums instead",
              DeprecationWarning, stacklevel=2)
