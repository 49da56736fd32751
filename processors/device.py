"""Where models run: the ``device`` setting resolved against the machine."""

import torch

__all__ = ["resolve_device"]


def resolve_device(setting: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; other settings unchanged.

    >>> resolve_device("cpu")
    'cpu'
    """
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting
