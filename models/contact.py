r"""The contact process on the periodic hypercubic lattice and on the complete graph.

Continuous time; every active site becomes inactive at rate 1 and tries, at rate ``lam``, to
activate a neighbour chosen uniformly (``2 d`` nearest neighbours on the lattice, the other
``N - 1`` sites on the complete graph). Simulated with the standard algorithm (see
``models/_contact_cpu.py``): pick an active site uniformly; with probability
``1 / (1 + lam)`` it becomes inactive, otherwise it tries to activate a uniformly chosen
neighbour; time advances by :math:`1 / ((1 + \lambda) N_\mathrm{active})` per event.

Time unit: with this increment one unit of ``t`` is the mean lifetime of an active site
(death rate 1), the convention of the mean-field equation
:math:`\dot\rho = (\lambda - 1)\rho - \lambda\rho^2`. Codes that advance time by
``1 / N_active`` per event measure time in units of ``1 / (1 + lam)`` of this; critical
points and exponents do not depend on the choice.

Cost: one unit of time takes about ``(1 + lam) * N_active`` events, so the work of a run
grows with ``lam`` as well as with size, ``t_max`` and samples. ``lam`` is bounded by
:data:`LAM_MAX` (far above every critical point), and a run from the fully active state
whose expected event count is out of reach (:data:`MAX_EVENTS_PER_SAMPLE`,
:data:`MAX_EVENTS`) is refused before it starts, naming ``lam``, the size and ``t_max``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import absorbphys
from absorbphys import AbsorbingProcess, Param
from absorbphys.kernels.sums import sums_dict

#: Largest infection rate. The transition lies at lam_c <= 3.3 (1.65 in 2D, 1 on the
#: complete graph); at lam = 1e6 the stationary density is within ~1e-6 of 1 (nothing left
#: to measure) while one unit of time costs (1 + lam) x active sites events: lam = 1e8 ran
#: for minutes on 16 sites and lam = 1e308 never ended (time increments below the
#: resolution of t).
LAM_MAX = 1e6
_LAM = Param("float", low=0.0, high=LAM_MAX,
             doc="infection rate per active site (death rate 1)")
#: Most events one sample may need (fully active start): beyond 2**48 the time increment
#: 1 / ((1 + lam) n) is within 16 ulp of t (the clock loses accuracy), and from about 2**53
#: on it no longer advances t at all (the run never ends).
MAX_EVENTS_PER_SAMPLE = 2**48
#: Most events one run may need in all (about 4 years of one core at ~7e6 events/s).
MAX_EVENTS = 10**15


def _check_events(proc, n_sites, t_max, samples, init):
    """Refuse a run whose expected event count is beyond reach (one-line ``ValueError``).

    From the fully active state a sample needs about ``(1 + lam) * n_active * t_max``
    events, ``n_active <= n_sites``; seed runs are not estimated (their active cluster stays
    small near and below the transition, and the bound would refuse ordinary runs).
    """
    if init != "full":
        return
    size = proc.size_param
    per = (1.0 + proc.lam) * float(n_sites) * float(t_max)
    if per > MAX_EVENTS_PER_SAMPLE:
        raise ValueError(f"lam, {size}, t_max: a sample from the fully active state needs about "
                         f"(1 + lam) x sites x t_max = {per:.3g} events, beyond "
                         f"{MAX_EVENTS_PER_SAMPLE:.3g} (float64 time resolution); use a "
                         f"smaller lam, {size} or t_max")
    if per * samples > MAX_EVENTS:
        raise ValueError(f"lam, {size}, t_max, samples: the run needs about (1 + lam) x sites x "
                         f"t_max x samples = {per * samples:.3g} events, more than "
                         f"{MAX_EVENTS:.0e} (years of CPU); use fewer samples, a smaller lam, "
                         f"{size} or t_max")


class _ContactBase(AbsorbingProcess):
    time_unit = "MCS"
    continuous_time = True
    inits = ("full", "seed")
    backends = ("cpu", "cuda")


@absorbphys.register
@dataclass(frozen=True)
class ContactProcess(_ContactBase):
    r"""Contact process on the periodic hypercubic lattice of ``L**dim`` sites.

    Parameters
    ----------
    L : int
        Linear size, >= 2 (``L**dim`` sites), periodic boundaries.
    lam : float
        Infection rate :math:`\lambda`, in [0, 1e6] (:data:`LAM_MAX`); the death rate is 1.
        The control parameter.
    dim : int
        Spatial dimension, 1, 2 or 3.

    Notes
    -----
    Critical points: :math:`\lambda_c = 3.29785` (d = 1, Dickman & Jensen 1991),
    about 1.64877 (d = 2) and 1.3168 (d = 3). Seed runs start from one active site at the
    origin; ``r2`` is the mean squared minimum-image distance of the active sites from it.

    Examples
    --------
    >>> import absorbphys
    >>> from absorbphys.models import ContactProcess
    >>> ds = absorbphys.simulate(ContactProcess(1024, 3.29785), t_max=100, samples=4,
    ...                          times="log")
    """

    L: int
    lam: float
    dim: int = 1

    name = "contact"
    control = "lam"
    size_param = "L"
    seed_observables = ("n_active", "r2")
    params = {
        "L": Param("int", low=2, doc="linear size (sites per direction), periodic"),
        "lam": _LAM,
        "dim": Param("int", low=1, high=3, default=1, doc="spatial dimension d"),
    }

    def _check(self):
        if self.L ** self.dim >= 2**31:
            raise ValueError(f"L**dim must be < 2**31 sites, got L={self.L}, dim={self.dim}")

    def _state_bytes(self):
        return 8 * int(self.L) ** int(self.dim)  # active list and position index (int32)

    def _check_run(self, t_max, samples, init):
        """Refuse runs whose event count is out of reach (see :func:`_check_events`)."""
        _check_events(self, int(self.L) ** int(self.dim), t_max, samples, init)

    def _run(self, backend, times, sample_edges, init, seed):
        from absorbphys.models import _contact_cpu  # deferred: kernels load on first use

        if backend == "cuda":
            from absorbphys.models import _contact_cuda  # deferred: CUDA kernels need numba-cuda

            return _contact_cuda.run_process(self, times, sample_edges, init, seed)
        return sums_dict(_contact_cpu.run_contact(
            np.int64(self.L), np.int64(self.dim), float(self.lam),
            np.ascontiguousarray(times, dtype=np.float64),
            np.ascontiguousarray(sample_edges, dtype=np.int64), np.int64(seed),
            init == "seed"), init == "seed")


@absorbphys.register
@dataclass(frozen=True)
class MeanFieldContactProcess(_ContactBase):
    r"""Contact process on the complete graph of ``N`` sites (mean-field contact process).

    The state is the number ``n`` of active sites. For large ``N`` the density follows
    :math:`\dot\rho = (\lambda - 1)\rho - \lambda\rho^2` (critical point
    :math:`\lambda_c = 1`); at finite ``N`` the absorbing state is reached in finite time.

    Parameters
    ----------
    N : int
        Number of sites, >= 2.
    lam : float
        Infection rate :math:`\lambda`, in [0, 1e6] (:data:`LAM_MAX`); the death rate is 1.

    Notes
    -----
    There is no distance on the complete graph: seed runs produce ``n_active`` but no
    ``r2``.

    Examples
    --------
    >>> import absorbphys
    >>> from absorbphys.models import MeanFieldContactProcess
    >>> ds = absorbphys.simulate(MeanFieldContactProcess(10_000, 2.0), t_max=10, samples=4)
    """

    N: int
    lam: float

    name = "mfcp"
    control = "lam"
    size_param = "N"
    seed_observables = ("n_active",)
    params = {
        "N": Param("int", low=2, doc="number of sites (complete graph)"),
        "lam": _LAM,
    }

    def _check_run(self, t_max, samples, init):
        """Refuse runs whose event count is out of reach (see :func:`_check_events`)."""
        _check_events(self, int(self.N), t_max, samples, init)

    def _run(self, backend, times, sample_edges, init, seed):
        from absorbphys.models import _contact_cpu  # deferred: kernels load on first use

        if backend == "cuda":
            from absorbphys.models import _contact_cuda  # deferred: CUDA kernels need numba-cuda

            return _contact_cuda.run_process(self, times, sample_edges, init, seed)
        return sums_dict(_contact_cpu.run_mean_field_contact(
            np.int64(self.N), float(self.lam), np.ascontiguousarray(times, dtype=np.float64),
            np.ascontiguousarray(sample_edges, dtype=np.int64), np.int64(seed),
            init == "seed"), init == "seed")
