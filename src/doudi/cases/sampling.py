"""The county's random home-visit spot check (2012 审核审批办法 art. 26; 2021 审核确认办法 art. 20).

Kin-declared and disputed cases are always visited; of the others at least `ratio` (rounded up) are drawn at
random. The draw is seeded by the batch id and works on sorted ids, so the same batch always gives the same sample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from decimal import Decimal

MIN_RATIO = Decimal("0.30")


def sample_size(population: int, ratio: Decimal) -> int:
    return math.ceil(Decimal(population) * ratio) if population else 0


def draw(batch_id: int, population: Iterable[int], mandatory: Iterable[int], ratio: Decimal) -> list[int]:
    """Sorted ids to visit: every mandatory id plus ceil(ratio × others) drawn with a batch-seeded generator."""
    if ratio < MIN_RATIO or ratio > 1:
        raise ValueError(f"spot-check ratio must be between {MIN_RATIO} and 1, got {ratio}")
    must = set(mandatory)
    others = sorted(set(population) - must)
    rng = random.Random(f"doudi-spot-check-{batch_id}")
    chosen = rng.sample(others, sample_size(len(others), ratio))
    return sorted(must | set(chosen))
