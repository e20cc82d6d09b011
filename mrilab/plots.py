"""Figures the chapters share: image grids, masks with their point-spread functions, loss curves."""

from __future__ import annotations

import matplotlib

if not matplotlib.get_backend().lower().startswith(("module://matplotlib_inline", "nbagg", "widget", "ipympl")):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Widest figure, in inches, that the book's text column shows at its own size (about 750 px at a 1280 px window and
# matplotlib's 100 dpi): a wider one is scaled down on the page, and its titles with it. The grids below shrink their
# panels to fit it, so that a title keeps the size set here.
PAGE_WIDTH = 7.4
TITLE_SIZE = 10  # points: a panel's title, legible next to the page's 16 px text


def fit_width(ncols: int, size: float, extra: float = 0.0) -> float:
    """Panel size (inches) of a grid of ``ncols`` panels of ``size`` plus ``extra`` inches that fits ``PAGE_WIDTH``."""
    return min(size, (PAGE_WIDTH - extra) / ncols)


def to_numpy_image(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Return a ``(H, W)``, ``(1, H, W)`` or ``(1, 1, H, W)`` tensor or array as a float NumPy image.

    Complex input becomes its magnitude; real input is unchanged (so phase maps and log-scale images keep their sign).
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.abs() if x.is_complex() else x
        x = x.numpy()
    x = np.asarray(x)
    x = np.abs(x) if np.iscomplexobj(x) else x
    while x.ndim > 2:
        x = x[0]
    return x.astype(float)


def show_images(images: dict, *, ncols: int | None = None, size: float = 2.6, vmax: float | None = None,
                cmap: str = "gray", suptitle: str | None = None) -> Figure:
    """Draw a row (or grid) of labelled magnitude images; ``images`` maps titles to tensors or arrays.

    Panels are ``size`` inches square, or smaller where ``ncols`` of them would be wider than the page
    (:data:`PAGE_WIDTH`); titles are :data:`TITLE_SIZE` points either way.
    """
    n = len(images)
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    size = fit_width(ncols, size)
    lines = max(str(title).count("\n") + 1 for title in images)
    title = lines * 1.3 * TITLE_SIZE / 72 + 0.1  # inches above each panel for its title
    height = nrows * (size + title) + (0.4 if suptitle else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for ax, (label, image) in zip(axes.flat, images.items(), strict=False):
        ax.imshow(to_numpy_image(image), cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(label, fontsize=TITLE_SIZE)
    for ax in axes.flat:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def loss_curves(histories: dict[str, dict], *, ylabel: str = "training loss", title: str | None = None,
                legend: str | None = None) -> Figure:
    """Draw the training loss (log scale) of every :class:`mrilab.train.Trainer` history of ``{label: history}``.

    A history with validation losses (``"val_step"``, ``"val_loss"``) adds them as a dashed line of the same colour.
    """
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for label, history in histories.items():
        (line,) = ax.plot(history["step"], history["loss"], label=label)
        if history.get("val_step"):
            ax.plot(history["val_step"], history["val_loss"], "--", color=line.get_color(),
                    label=f"{label} (validation)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(ax.get_lines()) > 1:
        ax.legend(title=legend, fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def psf(mask: torch.Tensor) -> torch.Tensor:
    """Return the point-spread function of a sampling mask: ``|F^H M 1|`` normalised to a peak of 1."""
    from .ops import ifft2c

    response = ifft2c(mask.to(torch.complex64)).abs()
    return response / response.max()


def reconstruction_grid(reconstructions: dict, target: torch.Tensor, *, size: float = 2.3,
                        percentile: float = 99.0) -> Figure:
    """Draw reconstructions (top) and their error maps ``||x| − |x*||`` (below), titled with their head-mask PSNR.

    The error maps share one colour scale: the ``percentile`` of all methods' errors inside the head mask of the
    clean ``target`` (a fixed scale saturates at the skull and makes every method look alike). Like
    :func:`show_images`, the panels shrink below ``size`` inches where the figure would be wider than the page, and the
    titles keep :data:`TITLE_SIZE` points.
    """
    from . import metrics

    clean = torch.as_tensor(to_numpy_image(target))
    head = metrics.foreground_mask(clean)[0]
    errors = {name: (torch.as_tensor(to_numpy_image(x)) - clean).abs() for name, x in reconstructions.items()}
    scale = float(np.percentile(torch.cat([e[head] for e in errors.values()]).numpy(), percentile))
    n = len(reconstructions)
    bar, labels = 0.12, 0.8  # inches: the colour bar, and its ticks and label
    size = fit_width(n, size, extra=bar + labels)
    # the colour bar has a column of its own, so the error maps line up with the reconstructions above them
    fig, axes = plt.subplots(2, n + 1, figsize=(size * n + bar + labels, 2 * size + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * n + [bar / size]})
    vmax = float(clean.max())
    for k, (name, x) in enumerate(reconstructions.items()):
        db = float(metrics.psnr(torch.as_tensor(to_numpy_image(x)), clean, mask=head))
        axes[0, k].imshow(to_numpy_image(x), cmap="gray", vmin=0, vmax=vmax)
        axes[0, k].set_title(f"{name}\n{db:.2f} dB", fontsize=TITLE_SIZE)
        image = axes[1, k].imshow(errors[name].numpy(), cmap="magma", vmin=0, vmax=scale)
    for ax in axes[:, :n].flat:
        ax.axis("off")
    axes[0, n].remove()
    fig.colorbar(image, cax=axes[1, n], label="|error|")
    return fig
