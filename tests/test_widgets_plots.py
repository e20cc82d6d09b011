import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from mrilab.masks import cartesian_mask
from mrilab.plots import PAGE_WIDTH, TITLE_SIZE, psf, reconstruction_grid, show_images, to_numpy_image
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


def test_wide_grids_fit_the_page_so_their_titles_keep_their_size():
    """A grid wider than the page would be scaled down in the book, its titles with it: panels shrink instead."""
    target = torch.rand(1, 1, 32, 32) + 0.5
    images = {f"method {k}": target for k in range(6)}
    for fig in (show_images(images, size=2.6), reconstruction_grid(images, target, size=2.3)):
        assert fig.get_figwidth() <= PAGE_WIDTH + 1e-9
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert len(titles) == 6 and all(ax.title.get_fontsize() == TITLE_SIZE for ax in fig.axes if ax.get_title())
        plt.close(fig)
    narrow = show_images({"a": target, "b": target}, size=2.0)
    assert narrow.get_figwidth() == 4.0  # a grid that fits keeps the size asked for
    plt.close(narrow)
