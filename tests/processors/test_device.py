import torch

from gridbrain.processors.device import resolve_device


def test_device_selection() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
