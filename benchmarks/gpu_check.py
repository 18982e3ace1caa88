"""Real-GPU check of the CUDA backend: cpu/cuda agreement and throughput in one short run.

Usage (on a machine with an NVIDIA GPU and ``pip install -e '.[cuda]'``)::

    python benchmarks/gpu_check.py                  # about 1-3 minutes, compile included
    python benchmarks/gpu_check.py --out gpu.json   # also write the results as JSON
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_check.py --smoke   # logic check, no GPU

It prints the card, then

1. **agreement**: every CUDA kernel against its CPU kernel on small problems — lattice models
   bit for bit (``identical``), networks to rounding (``max_rel_err``, limit 1e-9 in float64);
2. **throughput** (compilation excluded: one small warm-up call per kernel first):

   * 1+1 DK at the bond-DP critical point, full start: site updates/s
     (``L * T * samples / s``, every site of every step counted), target 1e11 on an H100;
   * 2+1 DK (bcc, bond DP near p_c): site updates/s;
   * contact process d = 1 at lambda_c: events/s (the kernels count their events);
   * MLP Gaussian method, N = 4096: unit updates/s (``N * layers * samples / s``), target
     2e10 on an H100;
   * MLP explicit weights, N = 4096 with 256 input pairs sharing each network: FLOP/s of the
     products (``2 N^2 (2K)`` per layer), end to end (weights drawn on the device included)
     and of the tiled matrix kernel alone, against the card's fp32 matmul rate measured in
     the same run with ``torch.matmul`` (TF32 off) if torch is installed, else the card's
     theoretical fp32 peak (SMs x FP32 lanes x 2 x clock); target 50%;
   * CNN (2-D, weight-shared, direct convolution): unit updates/s (``L^2 C`` per layer).

A failing section is reported and the others still run. Exit status 1 if any agreement check
fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
import traceback

import numpy as np

P_BOND = 0.644700185
LAM_C = 3.29785
TARGETS = {"dk1_site_updates_per_s": 1e11, "mlp_gaussian_unit_updates_per_s": 2e10,
           "mlp_weights_fraction_of_fp32_matmul": 0.5}


def _cuda():
    from numba import cuda

    return cuda


def device_info():
    """Name, compute capability, SMs, clock and memory of the current device."""
    cuda = _cuda()
    if not cuda.is_available():
        raise SystemExit("no CUDA device (set NUMBA_ENABLE_CUDASIM=1 with --smoke to check the "
                         "script's logic without one)")
    from absorbphys.kernels.cuda import simulator

    if simulator():
        sys.setswitchinterval(2e-5)  # the simulator polls Python threads at every barrier
        return {"name": "CUDA simulator", "simulator": True}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    info = {"name": name, "simulator": False,
            "compute_capability": list(dev.compute_capability),
            "sms": int(dev.MULTIPROCESSOR_COUNT), "clock_khz": int(dev.CLOCK_RATE)}
    try:
        free, total = cuda.current_context().get_memory_info()
        info["memory_gib"] = round(total / 2**30, 1)
    except Exception:
        pass
    return info


def fp32_peak(info):
    """Theoretical fp32 FLOP/s: SMs x FP32 lanes per SM x 2 x clock."""
    cc = tuple(info.get("compute_capability", (0, 0)))
    lanes = {(6, 0): 64, (7, 0): 64, (7, 5): 64, (8, 0): 64}.get(cc, 128)
    if "sms" not in info:
        return None
    return info["sms"] * lanes * 2.0 * info["clock_khz"] * 1e3


def torch_fp32_matmul(n, ncols, repeats=10):
    """FLOP/s of ``torch.matmul`` (n x n) @ (n x ncols) in fp32 with TF32 off, or None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(n, n, device="cuda", dtype=torch.float32)
    b = torch.randn(n, ncols, device="cuda", dtype=torch.float32)
    torch.matmul(a, b)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    return 2.0 * n * n * ncols * repeats / (time.perf_counter() - t0)


def _timed(fn):
    cuda = _cuda()
    cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    cuda.synchronize()
    return out, time.perf_counter() - t0


def _rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = np.maximum(np.abs(b), 1e-300)
    return float(np.max(np.abs(a - b) / den)) if a.size else 0.0


# ------------------------------------------------------------------ agreement
def agreement(smoke):
    """Compare every CUDA kernel with its CPU kernel on small problems."""
    from absorbphys.models import (
        _cnn_cpu,
        _cnn_cuda,
        _contact_cpu,
        _contact_cuda,
        _dk_cpu,
        _dk_cuda,
        _mlp_cpu,
        _mlp_cuda,
    )
    from absorbphys.models.activations import get_activation

    res = {}
    edges = np.array([0, 3, 5], np.int64)
    T = np.arange(0, 13 if smoke else 101, dtype=np.int64)
    L1 = 130 if smoke else 4000
    p1, p2 = P_BOND, P_BOND * (2 - P_BOND)

    def same(name, g, c):
        res[name] = {"identical": bool(all(np.array_equal(x, y) for x, y in zip(g, c)))}

    for seed_init in (False, True):
        same(f"dk1_{'seed' if seed_init else 'full'}",
             _dk_cuda.run_dk1(L1, p1, p2, T, edges, 1, seed_init),
             _dk_cpu.run_dk1_packed(L1, p1, p2, T, edges, 1, seed_init))
    pb = 0.287
    pn = np.array([0.0] + [1 - (1 - pb) ** n for n in range(1, 5)])
    L2, T2 = (8, T[:6]) if smoke else (100, T[:41])
    same("dk2_full", _dk_cuda.run_dk2(L2, pn, T2, edges, 2, False),
         _dk_cpu.run_dk2_packed(L2, pn, T2, edges, 2, False))
    tc = np.array([0.0, 0.5, 1.0, 2.0, 5.0] + ([] if smoke else [10.0, 20.0]))
    for dim, L in ((1, 16 if smoke else 512), (3, 3 if smoke else 10)):
        same(f"contact_d{dim}", _contact_cuda.run_contact(L, dim, LAM_C, tc, edges, 3, False),
             _contact_cpu.run_contact(L, dim, LAM_C, tc, edges, 3, False))
    same("mfcp", _contact_cuda.run_mean_field_contact(200, 1.5, tc, edges, 3, True),
         _contact_cpu.run_mean_field_contact(200, 1.5, tc, edges, 3, True))
    act = get_activation("tanh")
    tn = np.array([0, 1, 2, 5, 10] + ([] if smoke else [20, 50]), np.int64)
    n = 24 if smoke else 1000
    g = _mlp_cuda.mlp_gaussian(act, n, 1.4, 0.3, 0.76, 1.0, tn, edges, 4, 1e-12, np.float64)
    c = _mlp_cpu.mlp_gaussian(np.int64(0), n, 1.4, 0.3, 0.76, 1.0, tn, edges, 4, 1e-12,
                              np.ones(1))
    res["mlp_gaussian"] = {"max_rel_err": max(_rel(x, y) for x, y in zip(g, c))}
    nw, K = (19, 3) if smoke else (300, 8)
    tw = tn[:3] if smoke else tn[:5]
    e1 = np.array([0, 1, 2], np.int64)
    g = _mlp_cuda.mlp_weights(act, nw, 1.4, 0.3, 0.76, 1.0, tw, e1, 4, 1e-12, np.float64, K)
    c = _mlp_cpu.mlp_weights(np.int64(0), nw, 1.4, 0.3, 0.76, 1.0, tw, e1, 4, 1e-12,
                             np.float64, K)
    res["mlp_weights"] = {"max_rel_err": max(_rel(g[k], c[k]) for k in c)}
    for shared in (True, False):
        args = ((6 if smoke else 32), 2, 3, 3, shared, 1.5, 0.3, 0.8, 1.0, False, tn[:4], edges,
                4, 1e-12)
        g = _cnn_cuda.cnn(act, *args, np.float64)
        c = _cnn_cpu.cnn_kernel(np.int64(0), *args, np.ones(1))
        res[f"cnn_{'shared' if shared else 'local'}"] = {
            "max_rel_err": max(_rel(x, y) for x, y in zip(g, c))}
    for v in res.values():
        v["ok"] = v["identical"] if "identical" in v else v["max_rel_err"] < 1e-9
    return res


# ------------------------------------------------------------------ throughput
def throughput(smoke, info):
    """Throughput of every kernel family (warm-up call first, so compile time is excluded)."""
    from absorbphys.models import _cnn_cuda, _contact_cuda, _dk_cuda, _mlp_cuda
    from absorbphys.models.activations import get_activation

    out = {}
    errors = {}

    def section(name, fn):
        t0 = time.perf_counter()
        try:
            out.update(fn())
        except Exception as exc:  # report and go on
            errors[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
        out[f"{name}_section_s"] = round(time.perf_counter() - t0, 2)

    p1, p2 = P_BOND, P_BOND * (2 - P_BOND)

    def dk1():
        L, T, S = (256, 8, 2) if smoke else (1 << 20, 200, 256)
        _dk_cuda.run_dk1(256, p1, p2, np.arange(3), np.array([0, 2]), 0, False)
        _, s = _timed(lambda: _dk_cuda.run_dk1(L, p1, p2, np.array([0, T]),
                                               np.array([0, S]), 1, False))
        return {"dk1_L": L, "dk1_T": T, "dk1_samples": S, "dk1_seconds": s,
                "dk1_site_updates_per_s": L * T * S / s}

    def dk2():
        L, T, S = (8, 4, 2) if smoke else (1024, 100, 64)
        pb = 0.287
        pn = np.array([0.0] + [1 - (1 - pb) ** n for n in range(1, 5)])
        _dk_cuda.run_dk2(64, pn, np.arange(3), np.array([0, 2]), 0, False)
        _, s = _timed(lambda: _dk_cuda.run_dk2(L, pn, np.array([0, T]), np.array([0, S]), 1,
                                               False))
        return {"dk2_L": L, "dk2_T": T, "dk2_samples": S,
                "dk2_site_updates_per_s": L * L * T * S / s}

    def contact():
        L, S = (16, 4) if smoke else (4096, 16384)
        _contact_cuda.contact_with_events(64, 1, LAM_C, np.array([0.0, 1.0]), np.array([0, 2]),
                                          0, False)
        # calibrate the duration on a short run, then aim at about 2 s
        (_, ev), s = _timed(lambda: _contact_cuda.contact_with_events(
            L, 1, LAM_C, np.array([0.0, 0.5]), np.array([0, S]), 1, False))
        t_max = 1.0 if smoke else float(min(200.0, max(1.0, 0.5 * 2.0 / max(s, 1e-3))))
        (_, ev), s = _timed(lambda: _contact_cuda.contact_with_events(
            L, 1, LAM_C, np.array([0.0, t_max]), np.array([0, S]), 1, False))
        return {"cp_L": L, "cp_samples": S, "cp_t_max": t_max, "cp_events": ev,
                "cp_events_per_s": ev / s}

    act = get_activation("tanh")

    def gauss():
        N, T, S = (16, 3, 2) if smoke else (4096, 500, 2048)
        _mlp_cuda.mlp_gaussian(act, 64, 1.4, 0.3, 0.76, 1.0, np.arange(3), np.array([0, 2]),
                               0, 1e-12, np.float64)
        res = {}
        for dt in (np.float64, np.float32):
            _mlp_cuda.mlp_gaussian(act, 64, 1.4, 0.3, 0.76, 1.0, np.arange(3),
                                   np.array([0, 2]), 0, 1e-12, dt)
            _, s = _timed(lambda: _mlp_cuda.mlp_gaussian(
                act, N, 1.4, 0.3, 0.76, 1.0, np.array([0, T]), np.array([0, S]), 1, 1e-12, dt))
            res[f"mlp_gaussian_{np.dtype(dt).name}_unit_updates_per_s"] = N * T * S / s
        res.update({"mlp_gaussian_N": N, "mlp_gaussian_layers": T, "mlp_gaussian_samples": S,
                    "mlp_gaussian_unit_updates_per_s":
                        res["mlp_gaussian_float64_unit_updates_per_s"]})
        return res

    def weights():
        N, K, T = (20, 3, 2) if smoke else (4096, 256, 10)
        cuda = _cuda()
        dt = np.float32
        _mlp_cuda.mlp_weights(act, 40, 1.4, 0.3, 0.76, 1.0, np.arange(2), np.array([0, 1]), 0,
                              1e-12, dt, 2)
        _, s = _timed(lambda: _mlp_cuda.mlp_weights(act, N, 1.4, 0.3, 0.76, 1.0,
                                                    np.array([0, T]), np.array([0, 1]), 1,
                                                    1e-12, dt, K))
        flop = 2.0 * N * N * 2 * K
        res = {"mlp_weights_N": N, "mlp_weights_inputs": K, "mlp_weights_layers": T,
               "mlp_weights_end_to_end_flops": flop * T / s}
        # the tiled product alone, on the same shapes
        kern = _mlp_cuda.kernels_for(act)
        W = cuda.to_device(np.random.default_rng(0).standard_normal((1, N, N)).astype(dt))
        X = cuda.to_device(np.random.default_rng(1).standard_normal((1, N, 2 * K)).astype(dt))
        bias = cuda.to_device(np.zeros((1, N)))
        h = cuda.device_array((1, N, K), dt)
        d = cuda.device_array((1, N, K), dt)
        grid = (math.ceil(2 * K / _mlp_cuda.TN), math.ceil(N / _mlp_cuda.TM), 1)
        mm = kern.matmul[np.dtype(dt)]
        mm[grid, (16, 16)](W, X, bias, h, d, 1.0, 0.0)
        reps = 1 if smoke else 20
        _, s = _timed(lambda: [mm[grid, (16, 16)](W, X, bias, h, d, 1.0, 0.0)
                               for _ in range(reps)])
        res["mlp_weights_matmul_flops"] = flop * reps / s
        # correctness of the product alone (fp32): h = W X[:, :K]
        ref = W.copy_to_host()[0].astype(np.float64) @ X.copy_to_host()[0, :, :K]
        res["mlp_weights_matmul_max_rel_err"] = float(
            np.max(np.abs(h.copy_to_host()[0] - ref)) / np.max(np.abs(ref)))
        base = None if smoke else torch_fp32_matmul(N, 2 * K)
        if base is not None:
            res["fp32_matmul_reference"] = "torch.matmul (TF32 off), measured in this run"
        else:
            base = fp32_peak(info)
            res["fp32_matmul_reference"] = "theoretical fp32 peak (torch not installed)"
        if base:
            res["fp32_matmul_flops"] = base
            res["mlp_weights_fraction_of_fp32_matmul"] = res["mlp_weights_matmul_flops"] / base
            res["mlp_weights_end_to_end_fraction"] = res["mlp_weights_end_to_end_flops"] / base
        return res

    def cnn():
        L, C, T, S = (6, 3, 2, 2) if smoke else (128, 16, 20, 64)
        _cnn_cuda.cnn(act, 8, 2, 4, 3, True, 1.5, 0.3, 0.8, 1.0, False, np.arange(2),
                      np.array([0, 2]), 0, 1e-12, np.float64)
        _, s = _timed(lambda: _cnn_cuda.cnn(act, L, 2, C, 3, True, 1.5, 0.3, 0.8, 1.0, False,
                                            np.array([0, T]), np.array([0, S]), 1, 1e-12,
                                            np.float64))
        return {"cnn_L": L, "cnn_channels": C, "cnn_layers": T, "cnn_samples": S,
                "cnn_unit_updates_per_s": L * L * C * T * S / s,
                "cnn_flops": 2.0 * 2 * L * L * C * C * 9 * T * S / s}

    for name, fn in (("dk1", dk1), ("dk2", dk2), ("contact", contact),
                     ("mlp_gaussian", gauss), ("mlp_weights", weights), ("cnn", cnn)):
        section(name, fn)
    return out, errors


def main(argv=None):
    """Run the check; print a summary and optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the results as JSON to this file")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes (for the CUDA simulator: checks the script, not speed)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    info = device_info()
    import numba

    try:
        from importlib.metadata import version

        ncuda = version("numba-cuda")
    except Exception:
        ncuda = None
    print(f"device: {info}  numba {numba.__version__}  numba-cuda {ncuda}")
    t0 = time.perf_counter()
    agree = agreement(args.smoke)
    t_agree = time.perf_counter() - t0
    ok = all(v["ok"] for v in agree.values())
    print(f"\nagreement with the CPU ({t_agree:.1f} s incl. compilation): "
          f"{'all OK' if ok else 'FAILURES'}")
    for k, v in agree.items():
        detail = "identical" if v.get("identical") else (
            f"max rel err {v['max_rel_err']:.1e}" if "max_rel_err" in v else "DIFFERENT")
        print(f"  {k:16s} {'ok ' if v['ok'] else 'BAD'} {detail}")
    perf, errors = throughput(args.smoke, info)
    print("\nthroughput:")
    rows = [("dk1_site_updates_per_s", "1+1 DK site updates/s"),
            ("dk2_site_updates_per_s", "2+1 DK site updates/s"),
            ("cp_events_per_s", "contact process events/s"),
            ("mlp_gaussian_float64_unit_updates_per_s", "MLP gaussian unit updates/s (f64)"),
            ("mlp_gaussian_float32_unit_updates_per_s", "MLP gaussian unit updates/s (f32)"),
            ("mlp_weights_matmul_flops", "MLP weights: tiled matmul FLOP/s (f32)"),
            ("mlp_weights_end_to_end_flops", "MLP weights: end-to-end FLOP/s (f32)"),
            ("fp32_matmul_flops", "card fp32 matmul FLOP/s (reference)"),
            ("mlp_weights_fraction_of_fp32_matmul", "MLP weights matmul / reference"),
            ("cnn_unit_updates_per_s", "CNN unit updates/s (2-D, C=16)")]
    for key, label in rows:
        if key in perf:
            tgt = TARGETS.get(key)
            extra = f"  (target {tgt:.3g}: {'met' if perf[key] >= tgt else 'NOT met'})" \
                if tgt and not args.smoke else ""
            print(f"  {label:42s} {perf[key]:.3e}{extra}")
    for k, v in errors.items():
        print(f"  {k}: ERROR {v}")
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.1f} s")
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "host": platform.node(), "python": sys.version.split()[0],
              "numba": numba.__version__, "numba_cuda": ncuda, "device": info,
              "smoke": bool(args.smoke), "agreement": agree, "throughput": perf,
              "errors": errors, "targets": TARGETS, "total_seconds": total}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, default=float)
        print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
