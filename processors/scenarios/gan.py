"""A conditional GAN of day-ahead scenarios given the day's quantile forecast (PyTorch).

The generator maps noise and the forecast to the day's standardised error (the outcome
minus the forecast's median, over its 10-90 % spread, step by step); the critic tells
generated errors from historical ones under the same forecast. Trained as a Wasserstein
GAN with gradient penalty (Gulrajani et al. 2017): the usual choice for small tabular
data, where the original GAN's loss collapses modes. Seeds are fixed, so a fit repeats.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = ["ScenarioGAN"]


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, outputs),
    )


@dataclass
class ScenarioGAN:
    """Generator and critic for days of ``steps`` steps forecast at quantile ``levels``.

    Attributes:
        levels: the forecast's quantile levels (their order in the last axis).
        steps: steps per day.
        low: floor of the scenarios (e.g. 0 for load), None for none.
        noise: size of the noise vector.
        hidden: width of both networks.
        blocks: how many block means of each forecast quantile condition the networks.
        seed: fixes initialisation, batches and noise.
    """

    levels: np.ndarray
    steps: int
    low: float | None = None
    noise: int = 32
    hidden: int = 256
    blocks: int = 8
    seed: int = 0
    _scale: float = field(default=1.0, init=False)

    def __post_init__(self) -> None:
        torch.manual_seed(self.seed)
        self._lo, self._mid, self._hi = (
            int(np.argmin(np.abs(np.asarray(self.levels) - p))) for p in (0.1, 0.5, 0.9)
        )
        if self.steps % self.blocks:
            raise ValueError(f"{self.steps} steps do not split into {self.blocks} blocks")
        condition = 3 * self.blocks + 3
        self.generator = _mlp(self.noise + condition, self.hidden, self.steps)
        self.critic = _mlp(self.steps + condition, self.hidden, 1)

    def _condition(self, quantiles: np.ndarray, phase: np.ndarray) -> torch.Tensor:
        """The window's level, its quantiles in block means, and the time of day it starts.

        Level as a log; p10 / p50 / p90 over the level in ``blocks`` means each; ``phase``
        (fraction of a day) as sin and cos.

        A compact condition: with the whole forecast (steps x levels numbers) against a
        few hundred days, the generator learns to ignore its noise (mode collapse).
        """
        mid = quantiles[:, :, self._mid]
        level = np.abs(mid).mean(axis=1, keepdims=True) + self._scale * 0.05
        angle = 2 * np.pi * np.broadcast_to(np.asarray(phase, dtype=np.float64), (len(mid),))
        parts = [np.log(level / self._scale), np.sin(angle)[:, None], np.cos(angle)[:, None]]
        for index in (self._lo, self._mid, self._hi):
            shape = quantiles[:, :, index] / level
            parts.append(shape.reshape(len(shape), self.blocks, -1).mean(axis=2))
        return torch.as_tensor(np.column_stack(parts), dtype=torch.float32)

    def _spread(self, quantiles: np.ndarray) -> np.ndarray:
        width = quantiles[:, :, self._hi] - quantiles[:, :, self._lo]
        return np.maximum(width, self._scale * 0.05)

    def fit(
        self,
        quantiles: np.ndarray,
        actual: np.ndarray,
        iterations: int = 2000,
        batch: int = 64,
        critic_steps: int = 5,
        penalty: float = 10.0,
        progress: Callable[[int], None] | None = None,
        phase: np.ndarray | float = 0.0,
    ) -> None:
        """Learn from historical windows: forecasts (N, T, K) and outcomes (N, T).

        ``phase`` (N,) is the time of day each window starts at (fraction of a day): days
        can be cut at any hour, many more windows than days to learn from.
        """
        quantiles = np.asarray(quantiles, dtype=np.float64)
        self._scale = float(np.abs(quantiles[:, :, self._mid]).mean()) or 1.0
        errors = (actual - quantiles[:, :, self._mid]) / self._spread(quantiles)
        target = torch.as_tensor(np.clip(errors, -10, 10), dtype=torch.float32)
        condition = self._condition(quantiles, np.asarray(phase))
        generator = torch.Generator().manual_seed(self.seed)
        optim_g = torch.optim.Adam(self.generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
        optim_c = torch.optim.Adam(self.critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
        n = len(target)
        for iteration in range(iterations):
            for _ in range(critic_steps):
                pick = torch.randint(n, (batch,), generator=generator)
                real, cond = target[pick], condition[pick]
                fake = self._generate(cond, generator).detach()
                mix = torch.rand(batch, 1, generator=generator)
                between = (mix * real + (1 - mix) * fake).requires_grad_(True)
                score = self.critic(torch.cat([between, cond], 1))
                (grad,) = torch.autograd.grad(score.sum(), between, create_graph=True)
                gp = ((grad.norm(dim=1) - 1) ** 2).mean()
                real_score = self.critic(torch.cat([real, cond], 1)).mean()
                fake_score = self.critic(torch.cat([fake, cond], 1)).mean()
                loss_c = fake_score - real_score + penalty * gp
                optim_c.zero_grad()
                loss_c.backward()
                optim_c.step()
            pick = torch.randint(n, (batch,), generator=generator)
            cond = condition[pick]
            loss_g = -self.critic(torch.cat([self._generate(cond, generator), cond], 1)).mean()
            optim_g.zero_grad()
            loss_g.backward()
            optim_g.step()
            if progress is not None:
                progress(iteration)

    def _generate(self, condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(len(condition), self.noise, generator=generator)
        return self.generator(torch.cat([z, condition], 1))

    def sample(
        self, quantiles: np.ndarray, count: int, rng: np.random.Generator, phase: float = 0.0
    ) -> np.ndarray:
        """``count`` scenarios (S, T) of a window forecast by ``quantiles`` (T, K)."""
        day = np.asarray(quantiles, dtype=np.float64)[None]
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        condition = self._condition(day, np.array([phase])).repeat(count, 1)
        with torch.no_grad():
            errors = self._generate(condition, generator).numpy()
        out = day[0, :, self._mid] + errors * self._spread(day)[0]
        return out if self.low is None else np.maximum(out, self.low)
