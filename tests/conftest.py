import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_complex(*shape, dtype=torch.complex64):
    return torch.randn(*shape, dtype=dtype)
