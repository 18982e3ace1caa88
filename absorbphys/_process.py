"""The :class:`AbsorbingProcess` interface that every model implements."""

from __future__ import annotations

import abc
import dataclasses
import json
from typing import ClassVar

import numpy as np

from absorbphys._params import Param

#: Parameters kept out of the scalar coordinates: the spatial dimension is the global attribute
#: ``dim`` of every Dataset (0 for fully connected processes), so a model parameter of that
#: name is not written a second time (it stays in ``params`` and is a coordinate when swept).
NOT_COORDINATES = ("dim",)

#: Observables a kernel may return, with their long names. ``simulate`` normalises the sums.
STANDARD_OBSERVABLES = {
    "rho": "order parameter (density of active sites, or 1 - c for replicas)",
    "rho2": "mean square order parameter",
    "survival": "fraction of samples not absorbed",
    "n_active": "number of active sites",
    "r2": "mean squared distance of active sites from the seed",
}


class AbsorbingProcess(abc.ABC):
    """A stochastic (or deterministic) process with an absorbing state.

    Subclasses are frozen dataclasses fully described by their constructor arguments. They
    declare, as class attributes:

    ``name``
        Registry name (``"dk"``, ``"contact"``, ``"mlp"``...).
    ``params``
        ``{name: Param}`` — every constructor argument with its type and valid range, in
        constructor order. Validation, the CLI and ``absorbphys models`` use it.
    ``control``
        Name of the control parameter (``"p"``, ``"lam"``, ``"sigma_w"``).
    ``size_param``
        Name of the system-size parameter (``"L"``, ``"N"``, ``"width"``).
    ``time_unit``
        ``"MCS"``, ``"step"`` or ``"layer"``.
    ``continuous_time``
        Whether time is continuous (output sampled at requested times).
    ``inits``
        Named initial conditions; ``"full"`` (every site active) and ``"seed"`` (one active
        site at the origin) at least. Processes that accept a number (e.g. the replica
        correlation ``c0`` of networks) override :meth:`_check_init`.
    ``observables``
        Observables beyond ``rho``, ``rho2`` and ``survival`` (``"n_active"``, ``"r2"``) and
        the inits for which they are produced.
    ``backends``
        Backends with a kernel (``"cpu"``, ``"cuda"``).

    Subclasses implement :meth:`_run` (the kernel call) and may override :meth:`_check`
    (cross-parameter validation), :attr:`size` and :attr:`dim`.

    The absorbing state is declared by :meth:`is_absorbed` (``rho == 0`` by default; networks
    compare ``rho`` with a threshold ``eps``).
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    control: ClassVar[str] = ""
    size_param: ClassVar[str] = "L"
    time_unit: ClassVar[str] = "step"
    continuous_time: ClassVar[bool] = False
    inits: ClassVar[tuple[str, ...]] = ("full", "seed")
    seed_observables: ClassVar[tuple[str, ...]] = ("n_active", "r2")
    backends: ClassVar[tuple[str, ...]] = ("cpu",)

    def __post_init__(self):
        for fname, spec in type(self).params.items():
            value = getattr(self, fname)
            object.__setattr__(self, fname, spec.check(fname, value))
        self._check()

    # ------------------------------------------------------------------ hooks
    def _check(self):
        """Cross-parameter validation; raise a one-line ``ValueError``."""

    def _state_bytes(self) -> int | None:
        """Memory one running sample needs at least (bytes), or ``None`` if unknown.

        :func:`~absorbphys.simulate` refuses a run whose samples in parallel need more than
        the machine (or the address-space limit) offers: a kernel cannot report a failed
        allocation from a parallel loop.
        """
        return None

    def _check_run(self, t_max, samples: int, init):
        """Refuse, before any work, a run that cannot finish; raise a one-line ``ValueError``.

        Called by :func:`~absorbphys.simulate` (and for every grid point by
        :func:`~absorbphys.sweep` before the first point runs) with the last output time, the
        number of samples and the validated initial condition. Override it to estimate work
        or arithmetic range (e.g. expected events of the contact process, the variance of an
        unbounded activation at depth ``t_max``) and name the parameter to change. The
        default accepts every run.
        """

    @abc.abstractmethod
    def _run(self, backend: str, times: np.ndarray, sample_edges: np.ndarray, init,
             seed: int) -> dict[str, np.ndarray]:
        """Run the kernel and return per-batch **sums** over samples.

        Parameters
        ----------
        backend : str
            ``"cpu"`` or ``"cuda"`` (already validated against :attr:`backends`).
        times : numpy.ndarray
            Sorted output times (int64 for discrete time, float64 for continuous time).
        sample_edges : numpy.ndarray
            int64 array of length ``nb + 1``: batch ``b`` holds the global sample indices
            ``sample_edges[b] .. sample_edges[b+1] - 1``. The random stream of a sample depends
            only on ``(seed, sample index)``, never on the batching.
        init : str or float
            Validated initial condition.
        seed : int
            Master seed.

        Returns
        -------
        dict of str to numpy.ndarray
            float64 arrays of shape ``(nb, len(times))``: sums over the batch's samples of
            ``rho``, ``rho2`` (= ρ²), ``survival`` (1 if not absorbed), and, where produced,
            ``n_active`` (number of active sites) and ``r2`` (Σ_i r_i², summed over active
            sites, normalised by ``simulate`` with the ``n_active`` sum).
        """

    def _check_init(self, init):
        if isinstance(init, str) and init in self.inits:
            return init
        raise ValueError(f"init must be one of {', '.join(map(repr, self.inits))}, "
                         f"got {init!r}")

    # ------------------------------------------------------------------ public
    @classmethod
    def defaults(cls) -> dict:
        """Return ``{parameter: default}`` for parameters with a default (others required)."""
        out = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:  # pragma: no cover
                out[f.name] = f.default_factory()
        return out

    @property
    def size(self) -> int:
        """Number of sites (units for networks)."""
        n = int(getattr(self, self.size_param))
        return n ** self.dim if self.dim > 0 else n

    #: Spatial dimension; 0 for complete graphs and fully connected networks. Lattice models
    #: declare a dataclass field ``dim`` (with a default) that overrides this.
    dim: ClassVar[int] = 0

    def is_absorbed(self, rho):
        """Return whether an order parameter value is in the absorbing state."""
        return np.asarray(rho) == 0

    def param_values(self) -> dict:
        """Return the constructor arguments as a JSON-serialisable dict."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if callable(v) and not isinstance(v, str):
                v = getattr(v, "__name__", repr(v))
            out[f.name] = v
        return out

    def params_json(self) -> str:
        """Return :meth:`param_values` as a JSON string (netCDF attribute)."""
        return json.dumps(self.param_values(), sort_keys=False)

    def replace(self, **changes):
        """Return a copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def output_names(self, init) -> tuple[str, ...]:
        """Observables produced for a given initial condition."""
        base = ("rho", "rho2", "survival")
        if init == "seed":
            return base + tuple(self.seed_observables)
        return base
