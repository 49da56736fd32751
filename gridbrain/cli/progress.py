"""Progress bars for long CLI work."""

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from gridbrain.processors.forecast.base import Progress, QuantileModel

__all__ = ["epoch_bar"]


@contextmanager
def epoch_bar(description: str, model: QuantileModel) -> Iterator[Progress]:
    """A bar over training epochs showing the train and validation loss."""
    total = getattr(getattr(model, "train_config", None), "epochs", None)
    with tqdm(total=total, desc=description, unit="epoch") as bar:

        def done(epoch: int, train_loss: float, val_loss: float) -> None:
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            bar.update(1)

        yield done
