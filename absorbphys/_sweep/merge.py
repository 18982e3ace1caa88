"""Merging the points into one Dataset or one file (streamed point by point)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import xarray as xr

from absorbphys._io import atomic_write
from absorbphys._simulate import coord_value, param_coords, sample_edges
from absorbphys._sweep.plan import Plan
from absorbphys._sweep.store import POINT_ATTRS, point_path, read_point, same
from absorbphys._version import __version__


# ============================================================================ merge
class Merger:
    """Collects the points' metadata and, without an output file, their values.

    With an output file nothing but metadata is kept: :meth:`write` streams the values from
    the point files into the final file, one point at a time.
    """

    def __init__(self, plan: Plan, keep_data: bool):
        self.plan = plan
        self.keep_data = keep_data
        self.arrays: dict[str, np.ndarray] = {}
        self.var_names: list = []
        self.var_attrs: dict[str, dict] = {}
        self.t_attrs = None
        self.attrs: list = [None] * len(plan.processes)
        self.first = None

    def add(self, i: int, ds: xr.Dataset):
        plan = self.plan
        nb, nt = plan.kw["batches"], len(plan.times)
        for name in ds.data_vars:
            if name not in self.var_names:
                self.var_names.append(name)
        if self.keep_data:
            idx = np.unravel_index(i, plan.shape)
            for name in ds.data_vars:
                if name not in self.arrays:
                    self.arrays[name] = np.full(plan.shape + (nb, nt), np.nan)
                self.arrays[name][idx] = ds[name].values
        if self.first is None or i < self.first:  # metadata of the first grid point
            self.first = i
            self.var_attrs.update({v: dict(ds[v].attrs) for v in ds.data_vars})
            self.t_attrs = dict(ds["t"].attrs)
        for v in ds.data_vars:
            self.var_attrs.setdefault(v, dict(ds[v].attrs))
        self.attrs[i] = {k: v for k, v in ds.attrs.items() if k not in POINT_ATTRS}

    def write(self, path: Path):
        """Write the merged Dataset to ``path`` atomically, streaming from the point files."""
        import netCDF4  # heavy, and only the merge needs it

        plan = self.plan
        dims = tuple(plan.names) + ("batch", "t")
        with atomic_write(path) as tmp:
            self.dataset(data=False).to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
            with netCDF4.Dataset(tmp, "a") as nc:
                out = {}
                for name in self.var_names:
                    out[name] = nc.createVariable(name, "f8", dims, fill_value=np.nan)
                    out[name].setncatts(self.var_attrs[name])
                for i, key in enumerate(plan.keys):
                    ds = read_point(point_path(plan.run_dir, key), plan, key)
                    if ds is None:
                        raise RuntimeError(f"the file of grid point {key} became unreadable "
                                           "during the merge; run again with resume=True")
                    idx = np.unravel_index(i, plan.shape)
                    for name in self.var_names:
                        if name in ds.data_vars:
                            out[name][idx] = ds[name].values

    def dataset(self, data=True) -> xr.Dataset:
        """Return the merged Dataset (``data=False``: coordinates and attributes only)."""
        plan = self.plan
        dims = tuple(plan.names)
        coords = {}
        for name, vals in zip(plan.names, plan.values):
            doc = plan.cls.params[name].doc
            coords[name] = (name, np.array([coord_value(v) for v in vals]),
                            {"long_name": doc} if doc else {})
        edges = sample_edges(plan.kw["samples"], plan.kw["batches"])
        coords["t"] = ("t", plan.times, self.t_attrs or {})
        coords["batch"] = ("batch", np.arange(plan.kw["batches"], dtype=np.int64))
        coords["n_samples"] = ("batch", np.diff(edges).astype(np.int64),
                               {"long_name": "samples in batch"})
        coords.update(param_coords(plan.processes[0], skip=dims))
        coords["point_seed"] = (dims, plan.seeds.reshape(plan.shape),
                                {"long_name": "seed of the grid point (simulate's seed)"})
        attrs = self._merged_attrs(coords)
        data = {name: (dims + ("batch", "t"), self.arrays[name], self.var_attrs[name])
                for name in self.var_names} if data else {}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def _merged_attrs(self, coords) -> dict:
        """Merge per-point attributes (see :func:`sweep`, "Attributes")."""
        plan = self.plan
        keys = list(self.attrs[0])
        merged = {}
        for key in keys:
            vals = [a.get(key) for a in self.attrs]
            if key == "created":
                merged[key] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            elif key == "history":
                merged[key] = (f"absorbphys.sweep over {', '.join(plan.names)}, absorbphys "
                               f"{__version__} (time: 'created')")
            elif key == "source":
                merged[key] = vals[0].replace("simulation", "sweep")
            elif key == "seed":
                merged[key] = int(plan.config["seed"])
            elif key == "params":
                pv = dict(plan.processes[0].param_values())
                for n, vs in zip(plan.names, plan.values):
                    pv[n] = [coord_value(v) for v in vs]
                merged[key] = json.dumps(pv)
            elif all(same(v, vals[0]) for v in vals):
                merged[key] = vals[0]
            elif key in coords:  # e.g. 'dim' when dim is swept: already a coordinate
                continue
            else:  # e.g. 'size' when L is swept: a coordinate over the dims it varies on
                arr = np.array(vals).reshape(plan.shape)
                dims = list(plan.names)
                for ax in reversed(range(arr.ndim)):
                    first = np.take(arr, [0], axis=ax)
                    if np.all(arr == first):
                        arr = np.take(arr, 0, axis=ax)
                        dims.pop(ax)
                coords[key] = (tuple(dims), arr)
        merged["swept"] = json.dumps(list(plan.names))
        merged["sweep_config"] = plan.config_hash  # lets resume recognise a finished output
        return merged
