"""Interactive explorers for the chapters (ipywidgets). Each chapter also draws a static figure for the web page.

When the chapters are executed in batch to build the book (``MRILAB_STATIC=1``, set by ``tools/book.py execute``),
the explorers return ``None`` instead of a widget: nobody can move a slider there, and the static figures are what
the web page shows.
"""

from __future__ import annotations

import os

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from matplotlib.figure import Figure

from . import metrics
from .masks import MASK_KINDS, mask_from_name, sampling_ratio
from .ops import MRIOperator
from .plots import psf, to_numpy_image


def mask_figure(image: torch.Tensor, kind: str, ratio: float, center_fraction: float | None = None,
                seed: int = 0) -> Figure:
    """Mask, log-PSF and zero-filled reconstruction of ``image`` ``(1, 1, H, W)``, with PSNR/SSIM in the title."""
    shape = tuple(image.shape[-2:])
    if kind in ("cartesian", "equispaced") and center_fraction is not None:
        from .masks import cartesian_mask

        pattern = "random" if kind == "cartesian" else "equispaced"
        mask = cartesian_mask(shape, ratio, center_fraction=min(center_fraction, ratio), pattern=pattern, seed=seed)
    else:
        mask = mask_from_name(kind, shape, ratio, seed=seed)
    op = MRIOperator(mask)
    zero_filled = op.adjoint(op.forward(image))
    p, s = metrics.psnr(zero_filled.abs(), image.abs()), metrics.ssim(zero_filled.abs(), image.abs())
    fig, axes = plt.subplots(1, 3, figsize=(7.4, 2.7))
    axes[0].imshow(mask.numpy(), cmap="gray")
    axes[0].set_title(f"{kind} mask, {100 * sampling_ratio(mask):.1f} % sampled", fontsize=9)
    axes[1].imshow(torch.log10(psf(mask) + 1e-4).numpy(), cmap="magma", vmin=-4, vmax=0)
    axes[1].set_title("log10 |PSF|", fontsize=9)
    axes[2].imshow(to_numpy_image(zero_filled), cmap="gray", vmin=0)
    axes[2].set_title(f"zero-filled: PSNR {float(p):.2f} dB, SSIM {float(s):.3f}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def interactive() -> bool:
    """Return whether the explorers are live: False while the book is built in batch (``MRILAB_STATIC=1``)."""
    return os.environ.get("MRILAB_STATIC") != "1"


def mask_explorer(image: torch.Tensor) -> widgets.Widget | None:
    """Mask type, sampling ratio and centre fraction → mask, PSF, zero-filled image and its PSNR/SSIM."""
    if not interactive():
        return None
    output = widgets.Output()
    kind = widgets.Dropdown(options=MASK_KINDS, value="cartesian", description="mask")
    ratio = widgets.FloatSlider(value=0.25, min=0.05, max=0.6, step=0.05, description="ratio")
    centre = widgets.FloatSlider(value=0.08, min=0.0, max=0.3, step=0.01, description="centre (1-D)")
    seed = widgets.IntSlider(value=0, min=0, max=9, description="seed")

    def redraw(*_: object) -> None:
        with output:
            output.clear_output(wait=True)
            fig = mask_figure(image, kind.value, ratio.value, centre.value, seed.value)
            display(fig)
            plt.close(fig)

    for control in (kind, ratio, centre, seed):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kind, ratio]), widgets.HBox([centre, seed]), output])


def stage_explorer(stages: list[torch.Tensor], target: torch.Tensor, *, title: str = "stage") -> widgets.Widget | None:
    """Build a slider over a network's stage outputs, each shown next to its error map and PSNR."""
    if not interactive():
        return None
    output = widgets.Output()
    slider = widgets.IntSlider(value=len(stages), min=1, max=len(stages), description=title)

    def redraw(*_: object) -> None:
        with output:
            output.clear_output(wait=True)
            x = stages[slider.value - 1]
            fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.2))
            axes[0].imshow(to_numpy_image(x), cmap="gray", vmin=0)
            axes[0].set_title(f"{title} {slider.value}: PSNR {float(metrics.psnr(x.abs(), target.abs())):.2f} dB")
            axes[1].imshow(to_numpy_image(x.abs() - target.abs()), cmap="magma", vmin=0, vmax=0.2)
            axes[1].set_title("|error|")
            for ax in axes:
                ax.axis("off")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, output])
