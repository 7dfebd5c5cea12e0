"""The order a slot polls its queues in, like Asynq's ``Queues`` map.

Weighted (the default): before every dequeue, queues are ordered by a draw in which each queue's chance
to come first is proportional to its weight; Redis' BLPOP then takes from the first non-empty one, so
under load each queue gets its share and an empty queue never starves the others. Strict: always the
highest weight first.
"""

import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

Q = TypeVar("Q")


def weighted_order(queues: Sequence[Q], weights: Sequence[int], rng: random.Random) -> list[Q]:
    """Draw queues without replacement, each time with probability proportional to weight."""
    remaining = list(zip(queues, weights, strict=True))
    order: list[Q] = []
    while remaining:
        total = sum(weight for _, weight in remaining)
        pick = rng.uniform(0, total)
        for index, (queue, weight) in enumerate(remaining):
            pick -= weight
            if pick <= 0 or index == len(remaining) - 1:
                order.append(queue)
                del remaining[index]
                break
    return order


def strict_order(queues: Sequence[Q], weights: Sequence[int]) -> list[Q]:
    ranked = sorted(zip(queues, weights, strict=True), key=lambda pair: -pair[1])
    return [queue for queue, _ in ranked]


def weights_for(names: Sequence[str], configured: Mapping[str, int]) -> list[int]:
    """Queues with no configured weight get 1, the lowest."""
    return [configured.get(name, 1) for name in names]
