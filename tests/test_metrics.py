import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mrilab.metrics import hfen, log_kernel, nmse, psnr, scores, ssim, ssim_loss


def pair(seed=0, shape=(3, 64, 64)):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g, dtype=torch.float64)
    target = torch.nn.functional.avg_pool2d(target[:, None], 5, 1, 2)[:, 0] * 3
    pred = target + 0.05 * torch.randn(shape, generator=g, dtype=torch.float64)
    return pred, target


def test_psnr_and_ssim_agree_with_scikit_image():
    pred, target = pair()
    ours_psnr, ours_ssim = psnr(pred, target), ssim(pred, target)
    for i in range(pred.shape[0]):
        p, t = pred[i].numpy(), target[i].numpy()
        rng = t.max()
        assert abs(ours_psnr[i] - peak_signal_noise_ratio(t, p, data_range=rng)) < 1e-3
        assert abs(ours_ssim[i] - structural_similarity(t, p, data_range=rng)) < 1e-3


def test_metrics_accept_complex_and_channel_dim():
    pred, target = pair()
    phase = torch.exp(1j * torch.rand_like(pred))
    assert torch.allclose(psnr((pred * phase)[:, None], target[:, None]), psnr(pred.abs(), target))


def test_perfect_reconstruction():
    _, target = pair()
    assert torch.all(ssim(target, target) > 1 - 1e-12)
    assert torch.all(nmse(target, target) == 0)
    assert torch.all(hfen(target, target) == 0)
    assert torch.isinf(psnr(target, target)).all()


def test_nmse_and_hfen_definitions():
    pred, target = pair()
    expected = ((pred - target) ** 2).sum(dim=(1, 2)) / (target**2).sum(dim=(1, 2))
    assert torch.allclose(nmse(pred, target), expected)
    kernel = log_kernel()
    assert kernel.shape == (15, 15) and abs(float(kernel.sum())) < 1e-12
    assert float(kernel[7, 7]) < 0  # negative centre, as MATLAB's fspecial('log')
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    k = kernel.numpy()
    p, t = pred[0].numpy(), target[0].numpy()
    lp = scipy_ndimage.correlate(p, k, mode="constant")
    lt = scipy_ndimage.correlate(t, k, mode="constant")
    assert abs(float(hfen(pred, target)[0]) - np.linalg.norm(lp - lt) / np.linalg.norm(lt)) < 1e-10


def test_worse_reconstruction_scores_worse():
    _, target = pair()
    noise = torch.randn_like(target)
    good, bad = target + 0.01 * noise, target + 0.1 * noise
    for name, value in scores(good, target).items():
        worse = scores(bad, target)[name]
        assert torch.all(worse > value) if name in ("hfen", "nmse") else torch.all(worse < value)


def test_ssim_loss_is_differentiable():
    pred, target = pair()
    pred = pred.float().requires_grad_(True)
    loss = ssim_loss(pred, target.float())
    loss.backward()
    assert 0 < loss.item() < 1 and torch.isfinite(pred.grad).all()
