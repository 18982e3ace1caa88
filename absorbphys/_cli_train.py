"""``absorbphys train``: a small trainability sweep written as netCDF (+ optional PNG)."""

from __future__ import annotations

import numpy as np


def register(sub):
    """Add the ``train`` subcommand."""
    p = sub.add_parser(
        "train", help="trainability sweep of random-initialised networks (sigma_w x depth)",
        description="Train MLPs/CNNs initialised at (sigma_w, sigma_b) on a synthetic "
                    "teacher task (or sklearn digits) over a sigma_w x depth grid; write the "
                    "loss curves, test accuracy and NTK at initialisation to netCDF.")
    p.add_argument("--sigma-w", default="0.8:2.4:5",
                   help="weight scales: comma list or START:STOP:NUM (default 0.8:2.4:5)")
    p.add_argument("--depth", default="2,4,8", help="depths, comma list (default 2,4,8)")
    p.add_argument("--sigma-b", default="0.05",
                   help="bias scale(s), comma list; several add a sigma_b dimension")
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


def parse_values(name: str, text: str, kind=float):
    """Parse ``"a,b,c"`` or ``"start:stop:num"`` into a list (one-line ``ValueError``)."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
            if n < 1:
                raise ValueError
            vals = np.linspace(a, b, n).tolist()
        else:
            vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name} must be a comma list or START:STOP:NUM, got {text!r}"
                         ) from None
    if not vals:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    if kind is int:
        if any(not float(v).is_integer() for v in vals):
            raise ValueError(f"{name} must list integers, got {text!r}")
        vals = [int(v) for v in vals]
    return vals


def run(args) -> int:
    """Run the sweep, save it, optionally plot and report."""
    import absorbphys as ap
    from absorbphys.models import training

    sigma_w = parse_values("--sigma-w", args.sigma_w)
    depth = parse_values("--depth", args.depth, int)
    sigma_b = parse_values("--sigma-b", args.sigma_b)
    crit_sb = (None if args.critical_sigma_b is None
               else parse_values("--critical-sigma-b", args.critical_sigma_b))
    if crit_sb is None and (args.critical_widths or args.mu_widths or args.critical_out):
        raise ValueError("--critical-widths, --mu-widths and --critical-out need "
                         "--critical-sigma-b")
    crit_w = parse_values("--critical-widths", args.critical_widths or args.width, int)
    mu_w = None if args.mu_widths is None else parse_values("--mu-widths", args.mu_widths, int)
    for path in (args.out, args.plot, args.critical_out):
        if path is not None:
            ap._io.check_output_path(path)
    ds = training.trainability_sweep(
        sigma_w, depth, sigma_b if len(sigma_b) > 1 else sigma_b[0],
        activation=args.activation, arch=args.arch, width=args.width, channels=args.channels,
        kernel_size=args.kernel_size, task=args.task, n_train=args.n_train,
        n_test=args.n_test, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        repeats=args.repeats, seed=args.seed, ntk_examples=args.ntk_examples)
    if args.out is not None:
        ap.save(ds, args.out)
    acc = ds["test_accuracy"].isel(epoch=-1).mean("batch")
    flat = acc.fillna(-1.0).stack(point=acc.dims) if acc.ndim else acc
    best = flat.isel(point=int(np.argmax(flat.values))) if acc.ndim else acc
    where = ", ".join(f"{k}={float(best[k]):g}" for k in ("sigma_w", "depth", "sigma_b")
                      if k in best.coords)
    print(f"train {ds.attrs['model']} task={ds.attrs['task']} points={acc.size} "
          f"epochs={ds.sizes['epoch'] - 1}")
    print(f"best test accuracy {float(acc.max()):.3f} at {where}; "
          f"diverged runs: {int(ds['diverged'].sum())}")
    if args.plot is not None:
        fig = training.plot_trainability(ds)
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    crit = None
    if crit_sb is not None:
        crit = training.critical_sweep(
            crit_sb, depth, args.activation, arch=args.arch,
            width=crit_w if len(crit_w) > 1 else crit_w[0], channels=args.channels,
            kernel_size=args.kernel_size, task=args.task, n_train=args.n_train,
            n_test=args.n_test, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
            repeats=args.repeats, seed=args.seed, ntk_examples=args.ntk_examples,
            mu_widths=mu_w)
        if args.critical_out is not None:
            ap.save(crit, args.critical_out)
        print(f"critical sweep: {len(crit_sb)} sigma_b x {len(crit_w)} widths x "
              f"{len(depth)} depths at sigma_w,c")
    if args.report:
        print(training.training_report(ds, crit)["markdown"])
    for path in (args.out, args.critical_out):
        if path is not None:
            print(f"wrote {path}")
    return 0
