"""Slow, obvious reference implementations that the fast kernels are compared with.

Sections are owned by different parts of the code base; keep each self-contained.
"""

import numpy as np

# ============================================================ lattice models (DK, DP, CP)

def _lattice_keys(seed, sample):
    from absorbphys.kernels import rng as _rng

    return _rng, np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_DYNAMICS))


def naive_dk1_states(L, p1, p2, t_max, seed=0, sample=0, init="full"):
    """1+1 Domany-Kinzel, site by site: list of uint8 states for t = 0..t_max.

    Site ``i = 64 w + j`` at ``t + 1`` (parents ``i``, ``i + 1``) draws the full 64-bit
    number ``u`` whose digit ``k`` (most significant first) is bit ``j`` of
    ``draw(step_key(key, t), 64 w + k)`` and is active iff ``u < fixed_point(p_n)``
    (``p_n == 1``: always).
    """
    rng, k0 = _lattice_keys(seed, sample)
    s = np.zeros(L, np.uint8)
    if init == "full":
        s[:] = 1
    else:
        s[0] = 1
    states = [s.copy()]
    thr = {1: (int(rng.fixed_point(p1)), p1 >= 1.0), 2: (int(rng.fixed_point(p2)), p2 >= 1.0)}
    for t in range(t_max):
        key = np.uint64(rng.step_key(k0, t))
        words = {}
        new = np.zeros(L, np.uint8)
        for i in range(L):
            n = int(s[i]) + int(s[(i + 1) % L])
            if n == 0:
                continue
            P, one = thr[n]
            if one:
                new[i] = 1
                continue
            w, j = divmod(i, 64)
            if w not in words:
                words[w] = [int(rng.draw(key, np.uint64(64 * w + k))) for k in range(64)]
            u = 0
            for k in range(64):
                u = (u << 1) | ((words[w][k] >> j) & 1)
            new[i] = 1 if u < P else 0
        s = new
        states.append(s.copy())
    return states


def naive_dk2_states(L, pn, t_max, seed=0, sample=0, init="full"):
    """2+1 Domany-Kinzel on the bcc lattice: parents (x,y), (x+1,y), (x,y+1), (x+1,y+1).

    Site ``(x, y)`` is active at ``t + 1`` iff ``uniform(step_key(key, t), y L + x) <
    pn[n]`` with ``n`` active parents (``pn[0]`` is never used: no parent, no activity).
    Returns the list of ``(L, L)`` uint8 states (index ``[y, x]``) for t = 0..t_max.
    """
    rng, k0 = _lattice_keys(seed, sample)
    s = np.zeros((L, L), np.uint8)
    if init == "full":
        s[:] = 1
    else:
        s[0, 0] = 1
    states = [s.copy()]
    for t in range(t_max):
        key = np.uint64(rng.step_key(k0, t))
        new = np.zeros_like(s)
        for y in range(L):
            for x in range(L):
                n = (int(s[y, x]) + int(s[y, (x + 1) % L]) + int(s[(y + 1) % L, x])
                     + int(s[(y + 1) % L, (x + 1) % L]))
                if n > 0 and rng.uniform(key, np.uint64(y * L + x)) < pn[n]:
                    new[y, x] = 1
        s = new
        states.append(s.copy())
    return states


def naive_drift_r2(state, t):
    """Sum over active sites of the squared minimum-image distance to the DK cone centre.

    The DK seed cone drifts by -1/2 site per step in every direction (centre ``-t/2``).
    ``state`` is 1-D (L,) or 2-D (L, L).
    """
    L = state.shape[0]
    tot = 0.0
    for idx in zip(*np.nonzero(state)):
        for x in idx:
            d = (x + t / 2.0) % L
            d = min(d, L - d)
            tot += d * d
    return tot


def naive_contact(L, dim, lam, times, seed=0, sample=0, init="full"):
    """Contact process, one event at a time in plain Python; same draws as the kernel.

    Returns ``(n_active, r2)`` arrays at ``times`` (r2: sum of squared minimum-image
    distances of active sites from the origin). Sites are numbered ``x0 + L x1 + L^2 x2``;
    direction ``2 a`` is ``+e_a``, ``2 a + 1`` is ``-e_a``.
    """
    rng, k0 = _lattice_keys(seed, sample)
    key = np.uint64(rng.step_key(k0, 0))
    N = L ** dim
    if init == "full":
        active = list(range(N))
    else:
        active = [0]
    occupied = set(active)

    def coords(s):
        return [(s // L ** a) % L for a in range(dim)]

    def r2sum():
        tot = 0
        for s in active:
            for x in coords(s):
                d = min(x, L - x)
                tot += d * d
        return tot

    out_n = np.zeros(len(times))
    out_r2 = np.zeros(len(times))
    t, ti, e = 0.0, 0, 0
    while ti < len(times) and active:
        n = len(active)
        tnext = t + 1.0 / ((1.0 + lam) * n)
        while ti < len(times) and times[ti] < tnext:
            out_n[ti] = n
            out_r2[ti] = r2sum()
            ti += 1
        if ti >= len(times):
            break
        d1 = int(rng.draw(key, np.uint64(3 * e)))
        d2 = int(rng.draw(key, np.uint64(3 * e + 1)))
        k = min(int(((d1 >> 11) / 2.0**53) * n), n - 1)
        site = active[k]
        if (d2 >> 11) / 2.0**53 < 1.0 / (1.0 + lam):
            active[k] = active[-1]
            active.pop()
            occupied.discard(site)
        else:
            if dim == 3:
                d3 = int(rng.draw(key, np.uint64(3 * e + 2)))
                direction = int(((d3 >> 11) / 2.0**53) * 6.0)
            else:
                direction = d1 & (2 * dim - 1)
            c = coords(site)
            a, sign = divmod(direction, 2)
            c[a] = (c[a] + (1 if sign == 0 else -1)) % L
            nbr = sum(c[b] * L ** b for b in range(dim))
            if nbr not in occupied:
                occupied.add(nbr)
                active.append(nbr)
        t = tnext
        e += 1
    return out_n, out_r2


def mean_field_contact_rho(lam, t, rho0=1.0):
    """Solution of the mean-field equation d rho/dt = (lam - 1) rho - lam rho^2."""
    t = np.asarray(t, dtype=np.float64)
    a = lam - 1.0
    if a == 0.0:
        return rho0 / (1.0 + lam * rho0 * t)
    rs = a / lam if lam > 0 else 0.0
    if lam == 0.0:
        return rho0 * np.exp(-t)
    return rs / (1.0 + (rs / rho0 - 1.0) * np.exp(-a * t))


def local_slopes(ds, t0, m=2.0, n=8):
    """-d ln rho / d ln t between t and m t, for t in [t0, 10 t0 / m] (log interpolation)."""
    rho = ds.rho.mean("batch").values
    t = ds.t.values.astype(float)
    keep = t > 0

    def f(x):
        return np.exp(np.interp(np.log(x), np.log(t[keep]), np.log(rho[keep])))

    ts = np.geomspace(t0, 10 * t0 / m, n)
    return -np.log(f(m * ts) / f(ts)) / np.log(m)


def assert_same_any_thread_count(runs, **kw):
    """Simulate each ``(process, init)`` of ``runs`` with 1 and 2 Numba threads: same datasets.

    ``kw`` goes to :func:`absorbphys.simulate`; skips the test without 2 Numba threads.
    """
    import numba
    import pytest
    import xarray as xr

    import absorbphys

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    old = numba.get_num_threads()
    out = []
    try:
        for nthreads in (1, 2):
            numba.set_num_threads(nthreads)
            out.append([absorbphys.simulate(proc, init=init, **kw) for proc, init in runs])
    finally:
        numba.set_num_threads(old)
    for a, b in zip(*out):
        xr.testing.assert_equal(a, b)


# ============================================================ networks (MLP, CNN)


def _net_normals(key, n):
    """First ``n`` standard normals of a counter-based stream (pairs from normal_pair)."""
    from absorbphys.kernels import rng as _rng

    out = []
    for m in range((n + 1) // 2):
        out.extend(_rng.normal_pair(np.uint64(key), np.uint64(m)))
    return np.array(out[:n])


def _net_init(seed, sample, n, q0, rho0, C=None, seed_only=False):
    """Layer-0 replicas h, h' (shape (n,) or (n // C, C)) exactly as the kernels draw them."""
    from absorbphys.kernels import rng as _rng

    key = np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_INPUT))
    z = np.array([_rng.normal_pair(key, np.uint64(i)) for i in range(n)])
    h = np.sqrt(q0) * z[:, 0]
    s = np.sqrt(rho0 * (2 - rho0))
    hp = (1 - rho0) * h + s * np.sqrt(q0) * z[:, 1]
    if C is not None:
        h, hp = h.reshape(-1, C), hp.reshape(-1, C)
        if seed_only:
            hp[1:] = h[1:]
    return h, hp


def _one_minus_c(h, hp):
    return 1.0 - np.dot(h, hp) / np.sqrt(np.dot(h, h) * np.dot(hp, hp))


def naive_mlp_weights(width, sigma_w, sigma_b, phi, t_max, q0, rho0, seed=0, sample=0):
    """Two replicas through explicit weights, the obvious way; rho(l) = 1 - h.h'/(|h||h'|).

    W of layer t: normals 0 .. N^2 - 1 of ``step_key(sample_key(seed, s, WEIGHTS), t)``
    (row-major, N even), biases the next N normals.
    """
    from absorbphys.kernels import rng as _rng

    n = width
    h, hp = _net_init(seed, sample, n, q0, rho0)
    kw = np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_WEIGHTS))
    rho = [_one_minus_c(h, hp)]
    for t in range(t_max):
        z = _net_normals(_rng.step_key(kw, np.uint64(t)), n * n + n)
        W = z[:n * n].reshape(n, n) * sigma_w / np.sqrt(n)
        b = z[n * n:] * sigma_b
        h, hp = W @ phi(h) + b, W @ phi(hp) + b
        rho.append(_one_minus_c(h, hp))
    return np.array(rho)


def naive_mlp_gaussian(width, sigma_w, sigma_b, phi, t_max, q0, rho0, seed=0, sample=0):
    """Exact transition via the 2x2 Cholesky factor of the layer covariance, two replicas.

    Given layer l, (h_i, h'_i) ~ N(0, sigma_w^2/N Gram(phi(h), phi(h')) + sigma_b^2), drawn as
    h = L11 z1, h' = L21 z1 + L22 z2 with (z1, z2) = normal_pair(step_key(dyn, t), i).
    """
    from absorbphys.kernels import rng as _rng

    n = width
    h, hp = _net_init(seed, sample, n, q0, rho0)
    kd = np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_DYNAMICS))
    rho = [_one_minus_c(h, hp)]
    for t in range(t_max):
        a, ap_ = phi(h), phi(hp)
        q11 = sigma_w**2 / n * a @ a + sigma_b**2
        q12 = sigma_w**2 / n * a @ ap_ + sigma_b**2
        q22 = sigma_w**2 / n * ap_ @ ap_ + sigma_b**2
        L11 = np.sqrt(q11)
        L21 = q12 / L11
        L22 = np.sqrt(max(q22 - L21**2, 0.0))
        key = np.uint64(_rng.step_key(kd, np.uint64(t)))
        z = np.array([_rng.normal_pair(key, np.uint64(i)) for i in range(n)])
        h, hp = L11 * z[:, 0], L21 * z[:, 0] + L22 * z[:, 1]
        rho.append(_one_minus_c(h, hp))
    return np.array(rho)


def naive_cnn_shared(L, C, sigma_w, sigma_b, K, phi, t_max, q0, rho0, seed=0, sample=0,
                     seed_only=False):
    """1-D weight-shared CNN with circular padding via np.roll; returns rho_x(l), shape (t, L).

    W[k, c_in, c_out] of layer t: normals 0 .. K C^2 - 1 (row-major) of
    ``step_key(sample_key(seed, s, WEIGHTS), t)``, biases the C normals after them (pairs).
    """
    from absorbphys.kernels import rng as _rng

    h, hp = _net_init(seed, sample, L * C, q0, rho0, C=C, seed_only=seed_only)
    kw = np.uint64(_rng.sample_key(seed, sample, _rng.STREAM_WEIGHTS))

    def rho_x(h, hp):
        return np.array([_one_minus_c(h[x], hp[x]) for x in range(L)])

    out = [rho_x(h, hp)]
    nw = K * C * C
    for t in range(t_max):
        key = _rng.step_key(kw, np.uint64(t))
        z = _net_normals(key, 2 * ((nw + 1) // 2) + C)
        W = z[:nw].reshape(K, C, C) * sigma_w / np.sqrt(C * K)
        b = z[2 * ((nw + 1) // 2):] * sigma_b

        def conv(v):
            y = np.zeros_like(v)
            for k in range(K):
                y += np.roll(v, -(k - K // 2), axis=0) @ W[k]
            return y + b
        h, hp = conv(phi(h)), conv(phi(hp))
        out.append(rho_x(h, hp))
    return np.array(out)
