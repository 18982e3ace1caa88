"""The benchmark application (``absorbphys.benchmark`` and ``absorbphys benchmark``).

One room, read top-down:

* :mod:`~absorbphys._benchmark.config` -- ``BenchmarkEntry``: fields, validation, the built-in
  quick and full configurations;
* :mod:`~absorbphys._benchmark.run` -- the runner: one simulation per stage, checkpoints,
  timings;
* :mod:`~absorbphys._benchmark.measure` -- the stages of one entry (locate, drift, decay,
  spreading, finite-size scaling, beta) on top of :mod:`absorbphys.analysis`;
* :mod:`~absorbphys._benchmark.report` -- ``report.md``/``report.html``, figures, data index;
* :mod:`~absorbphys._benchmark.main` -- :func:`benchmark`: runs the entries, decides each
  row's verdict with :func:`absorbphys.analysis.decide` and writes the outputs.

Arrows point one way: ``main`` -> ``measure``/``report`` -> ``run``/``config`` -> the core
(:mod:`absorbphys`), the models and the analysis suite; nothing here is imported by them.
"""

from absorbphys._benchmark.main import BenchmarkResult, benchmark, classify_groups

__all__ = ["BenchmarkResult", "benchmark", "classify_groups"]
