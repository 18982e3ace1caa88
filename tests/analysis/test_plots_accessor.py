import matplotlib
import pytest
import synth
import xarray as xr
from matplotlib.figure import Figure

import absorbphys  # noqa: F401  (registers ds.absorb through absorbphys.analysis)
from absorbphys.analysis import (
    classify,
    collapse,
    critical_point,
    fit_power_law,
    plot_collapse,
    plot_compare,
    plot_decay,
    plot_phase_diagram,
)


@pytest.fixture(scope="module")
def sweep():
    f = synth.scaling_sweep(0.159464, 1.733847, 0.6447)
    return synth.make(f, synth.log_times(1000), sweep={"p": [0.63, 0.64, 0.65, 0.66]})


def _no_pyplot_figures():
    import sys

    if "matplotlib.pyplot" in sys.modules:
        return not sys.modules["matplotlib.pyplot"].get_fignums()
    return True


def test_plot_decay(sweep):
    fig, axes = plot_decay(sweep)
    assert isinstance(fig, Figure) and len(axes) == 2
    assert len(axes[0].get_lines()) == 4
    fig2, _ = sweep.absorb.plot_decay()
    assert isinstance(fig2, Figure)
    fig.savefig(__import__("io").BytesIO(), format="png")
    assert _no_pyplot_figures()


def test_plot_collapse_compare_phase():
    ds = synth.make(synth.fss(0.25, 1.6), synth.log_times(20000), sweep={"L": [32, 64, 128]})
    r = collapse(ds, n_boot=3)
    fig, ax = plot_collapse(ds, r)
    assert isinstance(fig, Figure) and len(ax.containers) == 3
    v = classify(estimates={"delta": (0.16, 0.01), "theta": (0.31, 0.02)}, dim=1)
    fig, ax = plot_compare(v)
    assert isinstance(fig, Figure)
    line = xr.DataArray([1.0, 1.19, 1.40, 1.55], coords={"sigma_b": [0, 0.1, 0.3, 0.5]},
                        dims="sigma_b", name="sigma_w")
    fig, ax = plot_phase_diagram(line, error=[0.01] * 4, points=[(0.3, (1.43, 0.02))])
    assert ax.get_xlabel() == "sigma_b" and ax.get_ylabel() == "sigma_w"
    with pytest.raises(ValueError, match="shape"):
        plot_phase_diagram([1, 2], x=[1, 2, 3])
    with pytest.raises(TypeError):
        plot_compare({"a": 1})
    assert _no_pyplot_figures()
    assert matplotlib.get_backend()  # nothing switched the backend


def test_accessor_matches_functions(sweep):
    a = sweep.absorb.critical_point()
    b = critical_point(sweep)
    xr.testing.assert_identical(a, b)
    one = sweep.sel(p=0.65)
    xr.testing.assert_identical(one.rho.absorb.fit_power_law(), fit_power_law(one))
    assert sweep.absorb.analyze()["kind"] == "decay sweep"
    v = sweep.absorb.classify()
    assert v.status == "inconclusive"


def test_plot_decay_on_given_axes_and_labels(sweep):
    import io

    fig = Figure()
    ax1, ax2 = fig.subplots(2)
    f, axes = plot_decay(sweep, ax=(ax1, ax2))
    assert f is fig and list(axes) == [ax1, ax2] and len(ax1.get_lines()) == 4
    assert ax1.get_ylabel() == r"$\rho$" and ax2.get_xlabel().startswith("t")
    single = Figure().subplots()
    f, ax = plot_decay(sweep, ax=single)
    assert ax is single and len(single.get_lines()) == 4
    with pytest.raises(ValueError, match="ax: one Axes or a pair"):
        plot_decay(sweep, ax=[single, single, single])
    f.savefig(io.BytesIO(), format="png")   # mathtext labels parse


def test_plot_collapse_mathtext_labels():
    import io

    ds = synth.make(synth.fss(0.25, 1.6), synth.log_times(20000), sweep={"L": [32, 64, 128]})
    r = collapse(ds, n_boot=3)
    fig, ax = plot_collapse(ds, r)
    assert ax.get_xlabel().startswith("$t") and "L^{" in ax.get_xlabel()
    assert ax.get_ylabel().startswith("$L^{") and r"\rho" in ax.get_ylabel()
    fig.savefig(io.BytesIO(), format="png")
