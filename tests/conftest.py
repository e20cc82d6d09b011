import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def random_complex(*shape, dtype=torch.complex64):
    return torch.randn(*shape, dtype=dtype)


@pytest.fixture(scope="session")
def smoke_dataset_root(tmp_path_factory):
    """A built smoke dataset shared by the tests of the whole session."""
    from mrilab.data import build_dataset

    root = tmp_path_factory.mktemp("data")
    build_dataset("smoke", root=root)
    return root
