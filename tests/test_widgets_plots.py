import ipywidgets
import numpy as np
import torch

from mrilab.masks import cartesian_mask
from mrilab.plots import psf, to_numpy_image
from mrilab.widgets import mask_explorer, stage_explorer


def test_explorers_build_interactively_and_not_in_batch(monkeypatch):
    image = torch.randn(1, 1, 32, 32, dtype=torch.complex64)
    monkeypatch.delenv("MRILAB_STATIC", raising=False)
    assert isinstance(mask_explorer(image), ipywidgets.Widget)
    assert isinstance(stage_explorer([image, image * 0.5], image), ipywidgets.Widget)
    monkeypatch.setenv("MRILAB_STATIC", "1")
    assert mask_explorer(image) is None and stage_explorer([image], image) is None


def test_images_keep_the_sign_of_real_data():
    log_psf = torch.log10(psf(cartesian_mask((32, 32), 0.25)) + 1e-4)
    shown = to_numpy_image(log_psf)
    assert shown.min() < -1 and shown.max() < 1e-3 and np.ptp(shown) > 1
    assert np.allclose(to_numpy_image(torch.tensor([[3 + 4j]])), 5)
