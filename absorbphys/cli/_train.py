"""``absorbphys train``: a small trainability sweep written as netCDF (+ optional PNG)."""

from __future__ import annotations

import inspect
import io
import os
from pathlib import Path

import numpy as np

import absorbphys as ap
from absorbphys._io import atomic_write, check_output_path
from absorbphys._params import UsageError
from absorbphys.cli import parse_assignment


def register(sub):
    """Add the ``train`` subcommand."""
    p = sub.add_parser(
        "train", help="trainability sweep of random-initialised networks (sigma_w x depth)",
        description="Train MLPs/CNNs initialised at (sigma_w, sigma_b) on a synthetic "
                    "teacher task (or sklearn digits) over a sigma_w x depth grid; write the "
                    "loss curves, test accuracy and NTK at initialisation to netCDF.")
    p.add_argument("--grid", "-g", action="append", default=[], metavar="NAME=SPEC",
                   help="swept value lists, as for 'absorbphys sweep': sigma_w, depth or "
                        "sigma_b = V1,V2,... or START:STOP:NUM, e.g. --grid sigma_w=0.8:2.4:5 "
                        "(repeatable)")
    p.add_argument("--sigma-w", default=None,
                   help="shorthand for --grid sigma_w=SPEC (default 0.8:2.4:5)")
    p.add_argument("--depth", default=None,
                   help="shorthand for --grid depth=SPEC (default 2,4,8)")
    p.add_argument("--sigma-b", default=None,
                   help="shorthand for --grid sigma_b=SPEC (default 0.05); several values add "
                        "a sigma_b dimension")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--activation", default="tanh", help="tanh, relu, erf, hard_tanh, ...")
    p.add_argument("--arch", default="mlp", help="mlp or cnn")
    p.add_argument("--width", default="32", help="MLP width (default 32)")
    p.add_argument("--channels", default="8", help="CNN channels (default 8)")
    p.add_argument("--kernel-size", default="3", help="CNN kernel size, odd (default 3)")
    p.add_argument("--task", default="teacher", help="teacher (default) or digits")
    p.add_argument("--n-train", default="256", help="training examples (default 256)")
    p.add_argument("--n-test", default="256", help="test examples (default 256)")
    p.add_argument("--lr", default="0.05", help="SGD learning rate (default 0.05)")
    p.add_argument("--epochs", default="5", help="epochs (default 5)")
    p.add_argument("--batch-size", default="32", help="minibatch size (default 32)")
    p.add_argument("--repeats", default="1", help="initialisations per point (default 1)")
    p.add_argument("--ntk-examples", default="16",
                   help="inputs for the NTK at initialisation, 0 = skip (default 16)")
    p.add_argument("--seed", default="0", help="master seed (default 0)")
    p.add_argument("--out", default=None, help="output netCDF file")
    p.add_argument("--plot", default=None, help="output PNG of the accuracy phase diagram")
    p.add_argument("--report", action="store_true",
                   help="print the Markdown report (accuracy vs kappa*L, distance to sigma_w,c)")
    p.add_argument("--critical-sigma-b", default=None,
                   help="also train exactly at sigma_w,c for these sigma_b (comma list): "
                        "boundary points with different kappa at equal depth")
    p.add_argument("--critical-widths", default=None,
                   help="widths of the critical sweep, comma list (default --width)")
    p.add_argument("--mu-widths", default=None,
                   help="measure the width cost mu of every boundary point at these widths "
                        "(comma list, e.g. 64,128,256); the report adds L/(mu N)")
    p.add_argument("--critical-out", default=None, help="output netCDF of the critical sweep")
    p.set_defaults(func=run)


#: Default value lists of the swept training parameters (``--grid NAME=SPEC``).
GRID_DEFAULTS = {"sigma_w": "0.8:2.4:5", "depth": "2,4,8", "sigma_b": "0.05"}


def parse_values(name: str, text: str, kind=float):
    """Parse ``"a,b,c"`` or ``"start:stop:num"`` into a list (one-line ``ValueError``).

    At most ``training.MAX_GRID_VALUES`` values: a larger count is refused before anything
    is allocated (``1:2:200000000`` used to build 1.7 GB of values before refusing).
    """
    # deferred: the models load only for `train`
    from absorbphys.models.training import MAX_GRID_VALUES

    text = str(text).strip()
    bad = f"{name} must be a comma list or START:STOP:NUM, got {text!r}"
    if ":" in text:
        parts = text.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(bad) from None
        if n < 1:
            raise ValueError(bad)
        if n > MAX_GRID_VALUES:
            _fail(f"{name} must list at most {MAX_GRID_VALUES} values, got NUM={n} in "
                  f"{text!r}")
        vals = np.linspace(a, b, n).tolist()
    else:
        items = [v for v in text.split(",") if v.strip()]
        if len(items) > MAX_GRID_VALUES:
            _fail(f"{name} must list at most {MAX_GRID_VALUES} values, got {len(items)}")
        try:
            vals = [float(v) for v in items]
        except ValueError:
            raise ValueError(bad) from None
    if not vals:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    if kind is int:
        if any(not float(v).is_integer() for v in vals):
            raise ValueError(f"{name} must list integers, got {text!r}")
        vals = [int(v) for v in vals]
    return vals


def _fail(msg):
    raise UsageError(msg)


def _has_kappa(meanfield, sigma_b, activation):
    """Whether the mean field has a finite kappa here (activations with kinks have none)."""
    try:
        return bool(np.isfinite(meanfield.kappa(sigma_b, activation=activation)))
    except ValueError:
        return False


def _values(option: str, text, param: str, kind=float, *, min_count=1):
    """Parse a list option and check every value against ``training``'s range for ``param``."""
    from absorbphys.models import training  # deferred: the models load only for `train`

    vals = parse_values(option, text, kind)
    vals = [training.PARAMS[param].check(option, v) for v in vals]
    if len(set(vals)) != len(vals):
        _fail(f"{option} values must be distinct, got {text!r}")
    if len(vals) < min_count:
        _fail(f"{option} must list at least {min_count} distinct values, got {text!r}")
    return vals


def _one(option: str, text, param: str):
    from absorbphys.models import training  # deferred: the models load only for `train`

    return training.PARAMS[param].check(option, str(text).strip())


def _task_shape(task: str, n_train: int, n_test: int):
    """Input dimension of ``task`` (digits: also check scikit-learn and the set size)."""
    from absorbphys.models import training  # deferred: the models load only for `train`

    if task != "digits":
        return inspect.signature(training.trainability_sweep).parameters["d_in"].default
    try:  # optional (the 'digits' extra), needed only for this task
        from sklearn.datasets import load_digits
    except ImportError:
        _fail("--task digits needs scikit-learn: pip install 'absorbphys[digits]'")
    X, _ = load_digits(return_X_y=True)
    if n_train + n_test > len(X):
        _fail(f"--n-train + --n-test must be <= {len(X)} for --task digits, "
              f"got {n_train + n_test}")
    return X.shape[1]


def _check_paths(args):
    """Output files: writable folders, distinct, and a figure format matplotlib can write."""
    seen = {}
    for option, path in (("--out", args.out), ("--critical-out", args.critical_out),
                         ("--plot", args.plot)):
        if path is None:
            continue
        try:
            p = check_output_path(path)
        except UsageError as exc:
            msg = str(exc)
            _fail(f"{option}: {msg[5:] if msg.startswith('out: ') else msg}")
        key = os.path.normcase(os.path.abspath(p))
        if key in seen:
            _fail(f"{option} and {seen[key]} must be different files, both are {str(path)!r}")
        seen[key] = option
    if args.plot is None:
        return None
    from matplotlib.figure import Figure  # deferred: heavy, and only for --plot

    fmt = Path(args.plot).suffix[1:].lower() or "png"
    formats = Figure().canvas.get_supported_filetypes()
    if fmt not in formats:
        _fail(f"--plot: format {fmt!r} (from the file name) is not supported; end the name "
              f"with one of ." + ", .".join(sorted(formats)))
    return fmt


def _validate(args):
    """Parse and check every option before any work starts (one-line errors naming it)."""
    from absorbphys.models import training  # deferred: the models load only for `train`

    o = {}
    grid = {"sigma_w": args.sigma_w, "depth": args.depth, "sigma_b": args.sigma_b}
    # errors name the option the user typed (--sigma-w or --grid sigma_w)
    flag = {k: f"--{k.replace('_', '-')}" for k in grid}
    for text in args.grid:

        name, spec = parse_assignment(text, what="--grid")
        if name not in GRID_DEFAULTS:
            _fail(f"--grid: {name!r} cannot be swept by train; valid: "
                  f"{', '.join(GRID_DEFAULTS)}")
        if grid[name] is not None:
            _fail(f"--grid: {name} given twice (--grid {name}=... or --{name.replace('_', '-')})")
        grid[name], flag[name] = spec, f"--grid {name}"
    grid = {k: GRID_DEFAULTS[k] if v is None else v for k, v in grid.items()}
    o["sigma_w"] = _values(flag["sigma_w"], grid["sigma_w"], "sigma_w")
    o["depth"] = _values(flag["depth"], grid["depth"], "depth", int)
    o["sigma_b"] = _values(flag["sigma_b"], grid["sigma_b"], "sigma_b")
    for name, param in (("activation", "activation"), ("arch", "arch"), ("task", "task")):
        o[name] = _one(f"--{name}", getattr(args, name), param)
    for name in ("width", "channels", "kernel_size", "n_train", "n_test", "lr", "epochs",
                 "batch_size", "repeats", "ntk_examples", "seed"):
        o[name] = _one("--" + name.replace("_", "-"), getattr(args, name), name)
    n_train_runs = len(o["sigma_w"]) * len(o["depth"]) * len(o["sigma_b"]) * o["repeats"]
    if n_train_runs > training.MAX_TRAININGS:
        _fail(f"--sigma-w x --depth x --sigma-b x --repeats asks for {n_train_runs} trained "
              f"networks, at most {training.MAX_TRAININGS:.0e}; use fewer values or repeats")
    d_in = _task_shape(o["task"], o["n_train"], o["n_test"])
    if o["arch"] == "cnn" and (o["kernel_size"] % 2 == 0 or o["kernel_size"] > d_in):
        _fail(f"--kernel-size must be odd and <= {d_in} (the input length of --task "
              f"{o['task']}) with --arch cnn, got {o['kernel_size']}")
    if o["ntk_examples"] > o["n_train"]:
        _fail(f"--ntk-examples must be <= --n-train ({o['n_train']}), "
              f"got {o['ntk_examples']}")
    # the critical sweep (trained after the main sweep: check it now, not then)
    o["crit_sb"] = o["crit_w"] = o["mu_w"] = None
    if args.critical_sigma_b is None:
        if args.critical_widths or args.mu_widths or args.critical_out:
            _fail("--critical-widths, --mu-widths and --critical-out need --critical-sigma-b")
    else:
        o["crit_sb"] = _values("--critical-sigma-b", args.critical_sigma_b, "sigma_b")
        o["crit_w"] = ([o["width"]] if args.critical_widths is None
                       else _values("--critical-widths", args.critical_widths, "width", int))
        n_crit = len(o["crit_sb"]) * len(o["crit_w"]) * len(o["depth"]) * o["repeats"]
        if n_crit > training.MAX_TRAININGS:
            _fail(f"--critical-sigma-b x --critical-widths x --depth x --repeats asks for "
                  f"{n_crit} trained networks, at most {training.MAX_TRAININGS:.0e}")
        if len(o["crit_w"]) > 1 and o["arch"] != "mlp":
            _fail("--critical-widths: several widths need --arch mlp "
                  "(CNNs have --channels, not a width)")
        if args.mu_widths is not None:
            if o["arch"] != "mlp":
                _fail("--mu-widths needs --arch mlp (mu is the width cost of the MLP; "
                      "CNNs have --channels, not a width)")
            o["mu_w"] = _values("--mu-widths", args.mu_widths, "width", int, min_count=2)
        from absorbphys.models import meanfield  # deferred: the models load only for `train`

        act = o["activation"]
        for sb in o["crit_sb"]:
            try:
                meanfield.critical_sigma_w(sb, activation=act)
            except (ValueError, RuntimeError, ArithmeticError):
                _fail(f"--critical-sigma-b: --activation {act} has no mean-field critical "
                      f"point sigma_w,c at sigma_b={sb:g}; choose another activation/sigma_b")
            if o["mu_w"] is not None and not _has_kappa(meanfield, sb, act):
                _fail(f"--mu-widths: --activation {act} has no finite kappa at "
                      f"sigma_b={sb:g} (needs a smooth activation such as tanh or erf)")
    o["plot_format"] = _check_paths(args)
    return o


def run(args) -> int:
    """Run the sweep, save it, optionally plot and report.

    Every option is checked before any work starts; output files are written only once
    everything has been computed, and on any failure none of them is left behind.
    """
    from absorbphys.models import training  # deferred: the models load only for `train`

    o = _validate(args)
    common = {k: o[k] for k in ("activation", "arch", "channels", "kernel_size", "task",
                                "n_train", "n_test", "lr", "epochs", "batch_size", "repeats",
                                "seed", "ntk_examples")}
    sigma_b = o["sigma_b"]
    progress = False if args.quiet else None
    ds = training.trainability_sweep(
        o["sigma_w"], o["depth"], sigma_b if len(sigma_b) > 1 else sigma_b[0],
        width=o["width"], progress=progress, **common)
    acc = ds["test_accuracy"].isel(epoch=-1).mean("batch")
    flat = acc.fillna(-1.0).stack(point=acc.dims) if acc.ndim else acc
    best = flat.isel(point=int(np.argmax(flat.values))) if acc.ndim else acc
    where = ", ".join(f"{k}={float(best[k]):g}" for k in ("sigma_w", "depth", "sigma_b")
                      if k in best.coords)
    print(f"train {ds.attrs['model']} task={ds.attrs['task']} points={acc.size} "
          f"epochs={ds.sizes['epoch'] - 1}")
    print(f"best test accuracy {float(acc.max()):.3f} at {where}; "
          f"diverged runs: {int(ds['diverged'].sum())}")
    crit = None
    if o["crit_sb"] is not None:
        crit_w = o["crit_w"]
        crit = training.critical_sweep(
            o["crit_sb"], o["depth"], width=crit_w if len(crit_w) > 1 else crit_w[0],
            mu_widths=o["mu_w"], progress=progress, **common)
        print(f"critical sweep: {len(o['crit_sb'])} sigma_b x {len(crit_w)} widths x "
              f"{len(o['depth'])} depths at sigma_w,c")
    figure = None
    if args.plot is not None:  # rendered in memory: a failure here leaves no file
        buf = io.BytesIO()
        training.plot_trainability(ds).savefig(buf, format=o["plot_format"], dpi=120)
        figure = buf.getvalue()
    if args.report:
        print(training.training_report(ds, crit)["markdown"])
    written = []
    try:
        if args.out is not None:
            ap.save(ds, args.out)  # atomic: temporary file, then rename
            written.append(args.out)
        if args.critical_out is not None:
            ap.save(crit, args.critical_out)
            written.append(args.critical_out)
        if figure is not None:

            with atomic_write(args.plot, what="--plot") as tmp:
                tmp.write_bytes(figure)
            written.append(args.plot)
    except BaseException:
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        raise
    for path in (args.plot, args.out, args.critical_out):
        if path is not None:
            print(f"wrote {path}")
    return 0
