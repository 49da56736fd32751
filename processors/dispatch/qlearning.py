"""A tabular Q-learning storage policy for a merchant battery trading on a price forecast.

The state of each step is (step of the day, SOC level, price bin); the actions change the
stored energy by whole SOC levels, from the largest discharge to the largest charge the
power limits allow in a step. The price bin places the step's planned price against the
rest of the day's plan (its ratio to their highest and to their lowest, four bins each),
so a table learnt on years of one market carries over to another price level. The day
ends at the target SOC: actions that could not get back to it in the steps left are
never taken nor learnt.

Learning is the Q-learning update ``Q(s,a) += alpha (r + max_a' Q(s',a') - Q(s,a))``
(undiscounted: the day is the episode) swept over historical days, each step replayed
from every SOC level with every action: a battery does not move the market, so these
counterfactual transitions are exact and no exploration policy is needed. Rewards are
the energy traded times the actual price over the day's mean absolute planned price, so
cheap and dear years weigh alike. Pure numpy: arrays in, arrays out.
"""

import io
import json
from dataclasses import dataclass, field
from typing import Self

import numpy as np

from gridbrain.processors.dispatch.assets import StorageAsset

__all__ = ["MAX_STEPS", "POLICY_QUANTITY", "QPolicy", "price_bins"]

#: The registry's quantity of learnt dispatch policies (kept apart from forecasters).
POLICY_QUANTITY = "dispatch_policy"
#: Bin edges of a step's planned price over the highest / the lowest planned price of
#: the rest of the day (a round trip of 90 % pays from a ratio of about 0.9 / 1.1).
_TO_HIGHEST = (0.85, 0.92, 1.0)
_TO_LOWEST = (1.0, 1.08, 1.17)
PRICE_BINS = (len(_TO_HIGHEST) + 1) * (len(_TO_LOWEST) + 1)
MAX_STEPS = 25  # a day of hourly steps, the autumn clock change included
SOC_LEVELS = 9


def price_bins(planned: np.ndarray) -> np.ndarray:
    """The price bin (0 .. PRICE_BINS-1) of each step of a day's planned prices.

    A dear step before a cheap one is a time to sell (high "to lowest" bin), a cheap one
    before a dear one a time to buy (low "to highest" bin):

    >>> price_bins(np.array([30.0, 10.0, 40.0, 20.0])).tolist()
    [3, 0, 15, 13]
    """
    planned = np.asarray(planned, dtype=np.float64)
    scale = max(float(np.abs(planned).mean()), 1e-9) * 1e-3
    bins = np.empty(len(planned), dtype=np.int64)
    for t, price in enumerate(planned):
        rest = planned[t + 1 :] if t + 1 < len(planned) else planned[t:]
        high = np.digitize(price / max(rest.max(), scale), _TO_HIGHEST)
        low = np.digitize(price / max(rest.min(), scale), _TO_LOWEST)
        bins[t] = high * (len(_TO_LOWEST) + 1) + low
    return bins


@dataclass
class QPolicy:
    """The Q-table of one battery, learnt by :meth:`learn`, acted on by :meth:`plan`."""

    asset: StorageAsset
    step_h: float = 1.0
    table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        a = self.asset
        self.level_kwh = (a.soc_max - a.soc_min) * a.capacity_kwh / (SOC_LEVELS - 1)
        up = int(a.charge_kw * a.charge_efficiency * self.step_h / self.level_kwh + 1e-9)
        down = 0
        if a.discharge_efficiency > 0:
            down = int(
                a.discharge_kw * self.step_h / a.discharge_efficiency / self.level_kwh + 1e-9
            )
        self.actions = np.arange(-down, up + 1)  # change of the stored energy, in levels
        self.up, self.down = max(up, 0), max(down, 0)
        span = a.soc_max - a.soc_min
        self.target = round((a.soc_target - a.soc_min) / span * (SOC_LEVELS - 1)) if span else 0
        self.table = np.zeros((MAX_STEPS, SOC_LEVELS, PRICE_BINS, len(self.actions)))
        self._idle = int(np.flatnonzero(self.actions == 0)[0])
        self.table[..., self._idle] = 1e-9  # unseen states idle
        after = np.arange(SOC_LEVELS)[:, None] + self.actions[None, :]
        self._after = np.clip(after, 0, SOC_LEVELS - 1)
        self._allowed = [
            (after >= 0)
            & (after < SOC_LEVELS)
            & (after - self.target <= self.down * left)
            & (self.target - after <= self.up * left)
            for left in range(MAX_STEPS)
        ]

    def _money(
        self, stored: np.ndarray, price: np.ndarray | float, scale: float = 1.0
    ) -> np.ndarray:
        """Money of stored-energy changes at ``price``, wear paid, all over ``scale``."""
        a = self.asset
        bought = np.where(stored > 0, stored / max(a.charge_efficiency, 1e-12), 0.0)
        sold = np.where(stored < 0, -stored * a.discharge_efficiency, 0.0)
        return ((sold - bought) * price - a.degradation_cost_per_kwh * (bought + sold)) / scale

    def learn(
        self,
        days: list[tuple[np.ndarray, np.ndarray]],
        epochs: int = 20,
        alpha: float = 0.5,
        seed: int = 0,
    ) -> None:
        """Sweep the (planned, actual) prices of historical days ``epochs`` times.

        The learning rate falls linearly from ``alpha`` to 1 % of it; days are visited in
        a new random order each epoch (fixed by ``seed``), steps from the day's end.
        """
        rng = np.random.default_rng(seed)
        usable = [
            (price_bins(planned), np.asarray(actual, dtype=np.float64), _level(planned))
            for planned, actual in days
            if 2 <= len(planned) <= MAX_STEPS
        ]
        stored = self.actions * self.level_kwh
        for epoch in range(epochs):
            rate = alpha * (1 - epoch / max(epochs, 1)) + 0.01 * alpha
            for k in rng.permutation(len(usable)):
                bins, actual, scale = usable[k]
                steps = len(bins)
                for t in range(steps - 1, -1, -1):
                    left = steps - 1 - t
                    money = self._money(stored, actual[t], scale)
                    target = np.broadcast_to(money, self._after.shape)
                    if left:
                        ahead = np.where(
                            self._allowed[left - 1], self.table[t + 1, :, bins[t + 1]], -np.inf
                        )
                        target = target + ahead.max(axis=1)[self._after]
                    q = self.table[t, :, bins[t]]
                    self.table[t, :, bins[t]] = np.where(
                        self._allowed[left], q + rate * (target - q), q
                    )

    def plan(self, planned: np.ndarray, start: float | None = None) -> np.ndarray:
        """The greedy day: stored-energy change per step (kWh), ending at the target SOC.

        From SOC ``start`` (fraction; default the target): the first step also brings
        the store onto the nearest level, an action doing so beyond the power limit is
        not taken.

        Raises:
            ValueError: the day has more than MAX_STEPS steps.
        """
        bins = price_bins(planned)
        if len(bins) > MAX_STEPS:
            raise ValueError(f"a day of {len(bins)} steps; the table holds {MAX_STEPS}")
        a = self.asset
        level, offset = self.target, 0.0
        if start is not None:
            above_min = (start - a.soc_min) * a.capacity_kwh / self.level_kwh
            level = min(max(round(above_min), 0), SOC_LEVELS - 1)
            offset = (level - above_min) * self.level_kwh
        up_kwh = a.charge_kw * a.charge_efficiency * self.step_h
        down_kwh = a.discharge_kw * self.step_h / max(a.discharge_efficiency, 1e-12)
        out = np.zeros(len(bins))
        for t, b in enumerate(bins):
            left = len(bins) - 1 - t
            allowed = self._allowed[left][level]
            if t == 0:
                change = self.actions * self.level_kwh + offset
                allowed = allowed & (change <= up_kwh + 1e-9) & (change >= -down_kwh - 1e-9)
            action = int(np.argmax(np.where(allowed, self.table[t, level, b], -np.inf)))
            out[t] = self.actions[action] * self.level_kwh + (offset if t == 0 else 0.0)
            level += int(self.actions[action])
        return out

    def to_bytes(self) -> bytes:
        """The table, its battery and step as one artifact (for the model registry)."""
        buffer = io.BytesIO()
        meta = json.dumps({"asset": self.asset.model_dump(), "step_h": self.step_h})
        np.savez_compressed(buffer, table=self.table, meta=np.array(meta))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, artifact: bytes) -> Self:
        """The policy :meth:`to_bytes` stored.

        Raises:
            ValueError: the artifact is not such a table.
        """
        try:
            with np.load(io.BytesIO(artifact), allow_pickle=False) as stored:
                meta = json.loads(str(stored["meta"]))
                policy = cls(StorageAsset.model_validate(meta["asset"]), float(meta["step_h"]))
                table = np.asarray(stored["table"], dtype=np.float64)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"not a Q-learning table: {exc!r}") from exc
        if table.shape != policy.table.shape:
            raise ValueError(f"table of shape {table.shape}, expected {policy.table.shape}")
        policy.table = table
        return policy

    def profit(self, planned: np.ndarray, actual: np.ndarray) -> float:
        """Money the greedy day on ``planned`` prices earns at ``actual`` prices."""
        return float(self._money(self.plan(planned), np.asarray(actual, dtype=np.float64)).sum())


def _level(planned: np.ndarray) -> float:
    return max(float(np.abs(np.asarray(planned, dtype=np.float64)).mean()), 1e-9)
