"""absorbphys: absorbing phase transitions in statistical physics and in deep learning.

Reference models of the directed-percolation family and random deep networks seen as
absorbing processes (layer = time, width = system size) share one interface,
:class:`AbsorbingProcess`; :func:`simulate` and :func:`sweep` return
:class:`xarray.Dataset` objects that the analysis suite (:mod:`absorbphys.analysis`,
accessor ``ds.absorb``) turns into critical points, exponents and universality classes.
"""

import importlib.util
from pathlib import Path

from absorbphys import config
from absorbphys._io import AbsorbphysWarning, load, save
from absorbphys._params import Param, UsageError
from absorbphys._process import AbsorbingProcess
from absorbphys._registry import ENTRY_POINT_GROUP, get_model, list_models, register
from absorbphys._simulate import simulate
from absorbphys._sweep import point_seed, sweep
from absorbphys._version import __version__
from absorbphys.config import set_options


def _check_installation():
    """Refuse to mix checkouts: absorbphys.models/.analysis must come with this absorbphys."""
    root = Path(__file__).resolve().parent
    for sub in ("analysis", "models"):
        spec = importlib.util.find_spec(f"absorbphys.{sub}")
        if spec is None or spec.origin is None:  # pragma: no cover
            raise ImportError(f"absorbphys.{sub} lives in the top-level {sub}/ folder and exists "
                              "only once the package is installed: run `pip install -e .` in "
                              "the repository")
        where = Path(spec.origin).resolve().parent
        if where.parent not in (root, root.parent):  # pragma: no cover
            raise ImportError(f"absorbphys comes from {root} but absorbphys.{sub} from {where}: "
                              "two installations are mixed; run `pip install -e .` in the "
                              "checkout you mean to use")


_check_installation()  # before anything imports absorbphys.models or absorbphys.analysis
config.configure_numba()

# The benchmark application sits on top of the analysis suite: imported after the check.
from absorbphys._benchmark import benchmark  # noqa: E402
from absorbphys._benchmark.config import Entry as BenchmarkEntry  # noqa: E402

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
    "point_seed",
    "register",
    "save",
    "set_options",
    "simulate",
    "sweep",
]
from absorbphys import analysis  # noqa: E402,F401  (registers the ds.absorb accessor)
