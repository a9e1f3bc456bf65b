"""Operating characteristic (OC) of a single sampling plan: probability of accepting a lot.

Pa(p) = P(d <= Ac) for a sample of n from a process (binomial, no lot size) or from a lot of L
units holding round(p * L) nonconforming units (hypergeometric). Exact sums in Python integers and
floats: no SciPy needed.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def _check(sample_size: int, accept: int, lot_size: int | None) -> None:
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
        raise ValueError(f"sample size must be a positive integer, got {sample_size!r}")
    if isinstance(accept, bool) or not isinstance(accept, int) or accept < 0:
        raise ValueError(f"acceptance number must be a non-negative integer, got {accept!r}")
    if lot_size is not None and (isinstance(lot_size, bool) or not isinstance(lot_size, int) or lot_size < 1):
        raise ValueError(f"lot size must be a positive integer, got {lot_size!r}")


def _check_p(p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"fraction nonconforming must be within 0 and 1, got {p}")
    return p


def binomial_pa(sample_size: int, accept: int, p: float) -> float:
    """P(X <= accept), X ~ Binomial(sample_size, p)."""
    _check(sample_size, accept, None)
    p = _check_p(p)
    n = sample_size
    if accept >= n or p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for d in range(accept + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(d + 1) - math.lgamma(n - d + 1) + d * log_p + (n - d) * log_q
        total += math.exp(log_term)
    return min(1.0, total)


def lot_defectives(p: float, lot_size: int) -> int:
    """Nonconforming units in a lot of ``lot_size`` at fraction ``p``: p * L rounded half up."""
    return int(math.floor(_check_p(p) * lot_size + 0.5))


def hypergeometric_pa(sample_size: int, accept: int, p: float, lot_size: int) -> float:
    """P(X <= accept), X ~ Hypergeometric(lot of lot_size with round(p * lot_size) nonconforming,
    sample of min(sample_size, lot_size)). Exact: integer binomial coefficients."""
    _check(sample_size, accept, lot_size)
    n = min(sample_size, lot_size)
    big_d = lot_defectives(p, lot_size)
    good = lot_size - big_d
    favourable = sum(math.comb(big_d, d) * math.comb(good, n - d) for d in range(0, min(accept, n, big_d) + 1))
    return favourable / math.comb(lot_size, n)


def oc_points(sample_size: int, accept: int, ps: Iterable[float], lot_size: int | None = None) -> list[dict]:
    """[{"p": p, "pa": Pa(p)}, ...] for each p: binomial, or hypergeometric when lot_size is given."""
    _check(sample_size, accept, lot_size)
    points = []
    for p in ps:
        p = _check_p(p)
        pa = binomial_pa(sample_size, accept, p) if lot_size is None else hypergeometric_pa(sample_size, accept, p, lot_size)
        points.append({"p": p, "pa": pa})
    return points


def default_ps(sample_size: int, accept: int, count: int = 41) -> list[float]:
    """An even grid of p from 0 to where the binomial Pa has fallen below 1% (or to 1)."""
    _check(sample_size, accept, None)
    top = 1.0
    step = 0.0005
    p = step
    while p < 1.0:
        if binomial_pa(sample_size, accept, p) < 0.01:
            top = p
            break
        p += step
    return [round(top * i / (count - 1), 6) for i in range(count)]


def oc_chart(points_or_params: Sequence[dict] | dict, path, *, aql: float | None = None,
             title: str | None = None) -> str:
    """Draws the OC curve to a PNG at ``path``; returns the path.

    ``points_or_params`` is either the list ``oc_points`` returns, or a dict with ``sample_size``,
    ``accept`` and optionally ``lot_size`` and ``ps``. ``aql`` (percent) is marked by a vertical
    line with the Pa there.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    sample_size = accept = lot_size = None
    if isinstance(points_or_params, dict):
        params = points_or_params
        sample_size, accept = params["sample_size"], params["accept"]
        lot_size = params.get("lot_size")
        ps = params.get("ps") or default_ps(sample_size, accept)
        points = oc_points(sample_size, accept, ps, lot_size)
    else:
        points = list(points_or_params)
    if not points:
        raise ValueError("no OC points to draw")
    xs = [pt["p"] * 100 for pt in points]
    ys = [pt["pa"] for pt in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, color="#1f4e79", label="Pa")
        ax.set_xlabel("Lot quality, percent nonconforming (100 p)")
        ax.set_ylabel("Probability of acceptance, Pa")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(left=0)
        ax.grid(True, linestyle=":", linewidth=0.6)
        if title is None and sample_size is not None:
            title = f"OC curve: n = {sample_size}, Ac = {accept}" + (
                f", lot of {lot_size} (hypergeometric)" if lot_size else " (binomial)")
        if title:
            ax.set_title(title)
        if aql is not None:
            x = float(aql)
            ax.axvline(x, color="#c00000", linestyle="--", linewidth=1)
            label = f"AQL {aql}%"
            if sample_size is not None:
                pa = (binomial_pa(sample_size, accept, x / 100) if lot_size is None
                      else hypergeometric_pa(sample_size, accept, x / 100, lot_size))
                label += f" (Pa {pa:.3f})"
            ax.annotate(label, xy=(x, 0.5), xytext=(4, 0), textcoords="offset points", color="#c00000",
                        rotation=90, va="center")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return str(path)
