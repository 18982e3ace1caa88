"""Test-only processes for the sweep tests (importable by worker processes)."""

from dataclasses import dataclass

from _toy import _toy_kernel

import absorbphys as ap
from absorbphys import Param


@ap.register
@dataclass(frozen=True)
class SweepToy(ap.AbsorbingProcess):
    """Test-only site DP on a ring (scalar kernel); ``kind`` is a dummy string parameter."""

    L: int = 8
    p: float = 0.5
    kind: str = "site"
    name = "_sweep_toy"
    control = "p"
    params = {"L": Param("int", 2, doc="sites"),
              "p": Param("float", 0, 1, doc="survival probability"),
              "kind": Param("str", choices=("site", "bond"), doc="dummy")}
    inits = ("full",)

    def _run(self, backend, times, edges, init, seed):
        rho, rho2, surv = _toy_kernel(self.L, self.p, times, edges, seed, False)[:3]
        return {"rho": rho, "rho2": rho2, "survival": surv}


@ap.register
@dataclass(frozen=True)
class SweepToyCT(SweepToy):
    """Continuous-time variant (same dynamics, output at float times)."""

    name = "_sweep_toy_ct"
    continuous_time = True
    time_unit = "MCS"
