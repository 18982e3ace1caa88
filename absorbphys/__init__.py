"""absorbphys: absorbing phase transitions in statistical physics and in deep learning.

Reference models of the directed-percolation family and random deep networks seen as
absorbing processes (layer = time, width = system size) share one interface,
:class:`AbsorbingProcess`; :func:`simulate` and :func:`sweep` return
:class:`xarray.Dataset` objects that the analysis suite (:mod:`absorbphys.analysis`,
accessor ``ds.absorb``) turns into critical points, exponents and universality classes.
"""

import importlib.util

from absorbphys import config

if importlib.util.find_spec("absorbphys.analysis") is None:  # pragma: no cover
    raise ImportError("absorbphys.analysis and absorbphys.models live in the top-level "
                      "analysis/ and models/ folders and exist only once the package is "
                      "installed: run `pip install -e .` in the repository")
from absorbphys._benchmark import benchmark
from absorbphys._benchmark_config import Entry as BenchmarkEntry
from absorbphys._io import AbsorbphysWarning, load, save
from absorbphys._params import Param, UsageError
from absorbphys._process import AbsorbingProcess
from absorbphys._registry import ENTRY_POINT_GROUP, get_model, list_models, register
from absorbphys._simulate import simulate
from absorbphys._sweep import sweep
from absorbphys._version import __version__
from absorbphys.config import set_options

config.configure_numba()

__all__ = [
    "AbsorbphysWarning",
    "BenchmarkEntry",
    "AbsorbingProcess",
    "ENTRY_POINT_GROUP",
    "Param",
    "UsageError",
    "__version__",
    "benchmark",
    "get_model",
    "list_models",
    "load",
    "register",
    "save",
    "set_options",
    "simulate",
    "sweep",
]
from absorbphys import analysis  # noqa: E402,F401  (registers the ds.absorb accessor)
