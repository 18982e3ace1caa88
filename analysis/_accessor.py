"""``ds.absorb`` / ``da.absorb``: the analysis functions as xarray accessor methods."""

from __future__ import annotations

import warnings

import xarray as xr

from . import _classify, _collapse, _critical, _decay, _off_critical, _plot


class _Base:
    def __init__(self, obj):
        self._obj = obj

    def local_slope(self, var="rho", b=4.0, **kw):
        """See :func:`absorbphys.analysis.local_slope`."""
        return _decay.local_slope(self._obj, var, b, **kw)

    def effective_exponent(self, var="rho", b=4.0, **kw):
        """See :func:`absorbphys.analysis.effective_exponent`."""
        return _decay.effective_exponent(self._obj, var, b, **kw)

    def fit_power_law(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.fit_power_law`."""
        return _decay.fit_power_law(self._obj, var, **kw)

    def critical_point(self, control=None, var="rho", **kw):
        """See :func:`absorbphys.analysis.critical_point`."""
        return _critical.critical_point(self._obj, control, var, **kw)

    def stationary_density(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.stationary_density`."""
        return _off_critical.stationary_density(self._obj, var, **kw)

    def fit_beta(self, critical, control=None, var="rho", **kw):
        """See :func:`absorbphys.analysis.fit_beta`."""
        return _off_critical.fit_beta(self._obj, critical, control, var, **kw)

    def relaxation_time(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.relaxation_time`."""
        return _off_critical.relaxation_time(self._obj, var, **kw)

    def fit_nu_par(self, critical, control=None, var="rho", **kw):
        """See :func:`absorbphys.analysis.fit_nu_par`."""
        return _off_critical.fit_nu_par(self._obj, critical, control, var, **kw)

    def kappa(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.kappa`."""
        return _decay.kappa(self._obj, var, **kw)

    def collapse(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.collapse`."""
        return _collapse.collapse(self._obj, var, **kw)

    def plot_decay(self, var="rho", **kw):
        """See :func:`absorbphys.analysis.plot_decay`."""
        return _plot.plot_decay(self._obj, var, **kw)


class DatasetAccessor(_Base):
    """Analysis methods on a Dataset in the absorbphys schema (``ds.absorb.<method>``).

    Parameters
    ----------
    obj : xarray.Dataset
        The dataset.
    """

    def spreading(self, **kw):
        """See :func:`absorbphys.analysis.spreading`."""
        return _decay.spreading(self._obj, **kw)

    def analyze(self, **kw):
        """See :func:`absorbphys.analysis.analyze`."""
        return _classify.analyze(self._obj, **kw)

    def classify(self, *others, **kw):
        """See :func:`absorbphys.analysis.classify` (``others``: more datasets)."""
        return _classify.classify(self._obj, *others, **kw)


class DataArrayAccessor(_Base):
    """Analysis methods on one variable (``da.absorb.<method>``; ``var`` is ignored).

    Parameters
    ----------
    obj : xarray.DataArray
        The variable, e.g. ``ds.rho``.
    """


def register():
    """Register the ``absorb`` accessors (idempotent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xr.core.extensions.AccessorRegistrationWarning)
        xr.register_dataset_accessor("absorb")(DatasetAccessor)
        xr.register_dataarray_accessor("absorb")(DataArrayAccessor)
