"""Forecast combination: the members' weights with the least validation MAE.

The weights lie on a grid over the simplex (non-negative, summing to 1, in steps of
``1 / resolution``), so a member that does not help gets 0 and a single member is one of
the choices: the combination is never worse on validation than its best member. A coarse
grid keeps it from fitting validation noise (Claeskens et al. 2016, "The forecast
combination puzzle": estimated weights rarely beat simple ones by much, often lose).
"""

from itertools import combinations

import numpy as np

__all__ = ["combination_weights", "simplex_grid"]


def simplex_grid(members: int, resolution: int) -> np.ndarray:
    """Every weight vector with entries in multiples of ``1 / resolution`` summing to 1.

    >>> simplex_grid(2, 2).tolist()
    [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    """
    if members < 1 or resolution < 1:
        raise ValueError("a grid needs at least one member and one step")
    rows = []
    # Stars and bars: the positions of members - 1 bars among resolution + members - 1 slots.
    for bars in combinations(range(resolution + members - 1), members - 1):
        edges = (-1, *bars, resolution + members - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(members)])
    return np.asarray(rows, dtype=float) / resolution


def combination_weights(
    medians: np.ndarray, target: np.ndarray, resolution: int = 10
) -> np.ndarray:
    """Weights (M,) of the members' medians (M, ...) with the least MAE against ``target``.

    Targets that are not finite are left out. Of equally good weights, the most even one
    (the least sum of squares) is taken, so a tie between members is shared.

    Raises:
        ValueError: no finite target, or medians of another shape than the target.
    """
    medians = np.asarray(medians, dtype=float)
    target = np.asarray(target, dtype=float)
    if medians.shape[1:] != target.shape:
        raise ValueError(f"medians {medians.shape[1:]} do not match the target {target.shape}")
    known = np.isfinite(target) & np.isfinite(medians).all(axis=0)
    if not known.any():
        raise ValueError("no finite target to weigh the members on")
    grid = simplex_grid(len(medians), resolution)
    x, y = medians[:, known], target[known]
    errors = np.concatenate(  # in chunks: grid x outcomes can be large
        [np.abs(grid[i : i + 32] @ x - y).mean(axis=1) for i in range(0, len(grid), 32)]
    )
    best = np.flatnonzero(errors <= errors.min() * (1 + 1e-12))
    return grid[best[np.argmin((grid[best] ** 2).sum(axis=1))]]
