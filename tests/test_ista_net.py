
import pytest
import torch

from mrilab.masks import cartesian_mask
from mrilab.models import ISTANetPlus
from mrilab.ops import MRIOperator

N = 32


def phantom(n: int = N) -> torch.Tensor:
    """A few ellipses with a smooth phase, complex64 ``(1, 1, n, n)``."""
    coords = torch.linspace(-1, 1, n)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    image = torch.zeros(n, n)
    for value, cy, cx, ry, rx in [(1.0, 0, 0, 0.8, 0.6), (-0.5, 0.1, 0, 0.6, 0.45), (0.4, -0.3, 0.2, 0.15, 0.2)]:
        image += value * ((((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= 1)
    return torch.polar(image, 0.5 * xx + 0.3 * yy)[None, None]


def batch(n_samples: int = 2) -> dict:
    target = torch.cat([phantom() * (1 + 0.2 * i) for i in range(n_samples)])
    mask = cartesian_mask((N, N), 0.3, seed=0)
    return {"kspace": MRIOperator(mask)(target), "mask": mask, "target": target}


def small_model(**kwargs) -> ISTANetPlus:
    return ISTANetPlus(**{"n_phases": 3, "n_filters": 8, **kwargs})


def test_per_sample_masks_are_accepted():
    data = batch()
    masks = torch.stack([cartesian_mask((N, N), 0.3, seed=s) for s in range(2)])[:, None]
    out = small_model()(data["kspace"] * masks, masks)
    assert out.shape == (2, 1, N, N)


def test_parameter_count_matches_formula():
    model = ISTANetPlus()
    count = sum(p.numel() for p in model.parameters())
    assert count == 9 * (2 * 2 * 32 * 9 + 4 * 32 * 32 * 9 + 2) == ISTANetPlus.parameter_count() == 342_162
    small = small_model(kernel_size=5)
    assert sum(p.numel() for p in small.parameters()) == ISTANetPlus.parameter_count(3, 8, 5)


def test_symmetry_term_is_weighted_by_gamma():
    data = batch()
    torch.manual_seed(1)
    plain = small_model(gamma=0.0)
    torch.manual_seed(1)
    weighted = small_model(gamma=1.0)
    with torch.no_grad():
        assert weighted.training_loss(data) > plain.training_loss(data)


def test_a_few_adam_steps_reduce_the_loss():
    data = batch(1)
    model = small_model()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        optimiser.zero_grad()
        loss = model.training_loss(data)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_bad_training_batches_and_settings_raise_clear_errors():
    data = batch(1)
    model = small_model()
    with pytest.raises(KeyError, match="target"):
        model.training_loss({"kspace": data["kspace"], "mask": data["mask"]})
    with pytest.raises(ValueError, match="target must have shape"):
        model.training_loss({**data, "target": data["target"][..., :16]})
    with pytest.raises(ValueError, match="n_phases"):
        ISTANetPlus(n_phases=0)


def test_gradient_steps_init_is_plain_gradient_descent():
    torch.manual_seed(0)
    model = ISTANetPlus(n_phases=3, n_filters=4, step_init=0.5, init="gradient_steps")
    mask = cartesian_mask((16, 16), 0.4, seed=0)
    op = MRIOperator(mask)
    y = op.forward(torch.randn(2, 1, 16, 16, dtype=torch.complex64))
    x = op.adjoint(y)
    for _ in range(3):
        x = x - 0.5 * op.adjoint(op.forward(x) - y)
    assert torch.allclose(model(y, mask), x, atol=1e-6)
    with pytest.raises(ValueError, match="init must be"):
        ISTANetPlus(init="random")
