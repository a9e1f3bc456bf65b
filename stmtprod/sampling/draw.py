"""Drawing samples that anyone can draw again.

The seed of a sample is derived from the run, the inspection stage and the lot, and recorded in the
ledger with the sample. To redraw by hand, with nothing but Python (3.11 or later):

    import hashlib, random
    digest = hashlib.sha256(f"{run_id}\\n{stage}\\n{lot}".encode("utf-8")).digest()
    seed = int.from_bytes(digest[:8], "big")
    sample = sorted(random.Random(seed).sample(sorted(set(population)), n))

where ``population`` is the lot's units (e.g. the piece sequence numbers) and ``n`` the plan's
sample size. A lot inspected again at a stage after a correction (its N-th inspection there, N >= 2)
is drawn with ``lot`` written ``LOT#N`` (e.g. ``AU#2``), so the re-inspection gets a fresh sample. The population is sorted first, so the order in which it is listed does not matter;
when n is at least the lot size the whole lot is the sample (100% inspection).
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable


def seed_material(run_id: str, stage: int, lot: str) -> bytes:
    """The bytes hashed for a seed: run id, stage and lot, one per line, UTF-8."""
    parts = [str(run_id), str(int(stage)), str(lot)]
    for part in parts:
        if "\n" in part or "\r" in part:
            raise ValueError(f"run id, stage and lot must be single-line text, got {part!r}")
    if not parts[0] or not parts[2]:
        raise ValueError("run id and lot must not be empty")
    return "\n".join(parts).encode("utf-8")


def sample_seed(run_id: str, stage: int, lot: str) -> int:
    """The sample's seed: the first 8 bytes of SHA-256(run id, stage, lot), big-endian, as an int."""
    return int.from_bytes(hashlib.sha256(seed_material(run_id, stage, lot)).digest()[:8], "big")


def draw_sample(population: Iterable[int], n: int, seed: int) -> list[int]:
    """The n units of ``population`` drawn with ``seed``, sorted.

    ``random.Random(seed).sample`` over the sorted, de-duplicated population; deterministic for a
    given seed and population. When n >= the lot size, the whole lot (100% inspection).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"sample size must be a non-negative integer, got {n!r}")
    units = sorted(set(population))
    if n >= len(units):
        return units
    return sorted(random.Random(seed).sample(units, n))


def redraw(run_id: str, stage: int, lot: str, population: Iterable[int], n: int) -> tuple[int, list[int]]:
    """(seed, sample) for a lot: the seed from run, stage and lot, then the draw."""
    seed = sample_seed(run_id, stage, lot)
    return seed, draw_sample(population, n, seed)
