"""PC-RNN (mrilab.models.pc_rnn) against the paper's equations: eqs. (11)–(13), and gradient descent as a ConvRNN."""

import pytest
import torch

from mrilab.coils import rss
from mrilab.masks import cartesian_mask
from mrilab.models.pc_rnn import PCRNN, ConvRNN, gradient_descent_weights
from mrilab.ops import MRIOperator, channels_to_complex, complex_to_channels, fft2c, ifft2c


def coil_data(coils: int = 3, size: int = 16, batch: int = 2, seed: int = 0, dtype=torch.complex64):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, coils, size, size, dtype=dtype, generator=generator)
    mask = cartesian_mask((size, size), 0.4, seed=seed)
    return fft2c(images) * mask, mask


def test_every_iterate_and_the_output_keep_the_measured_k_space_coil_by_coil_eq_11():
    torch.manual_seed(0)
    model = PCRNN(coils=3, features=4, iterations=2).eval()
    kspace, mask = coil_data()
    with torch.no_grad():
        image, stages = model(kspace, mask, return_stages=True)
    assert len(stages) == 3 * 2 + 1  # K iterates of each of the three modules, then the final CNN
    for stage in stages:
        coils = stage["coils"]
        assert coils.shape == kspace.shape
        assert torch.allclose(fft2c(coils) * mask, kspace, atol=1e-5)  # σ: D F x = D y for every coil
        assert torch.allclose(stage["x"][:, 0], rss(coils), atol=1e-6)  # eq. (13) on every stage
    assert image.shape == (2, 1, 16, 16) and not image.is_complex() and bool((image >= 0).all())
    assert torch.equal(image, stages[-1]["x"])


def test_the_recurrence_carries_a_hidden_state_eq_12():
    torch.manual_seed(0)
    module = ConvRNN(channels=2, features=4, strides=(1, 1), iterations=3).double()
    kspace, mask = coil_data(coils=1, dtype=torch.complex128)
    op, x0 = MRIOperator(mask), ifft2c(kspace)
    iterates = module(x0, op, kspace)
    # by hand: h1 = g_res(0) + g_enc(x0), x1 = σ(g_dec(h1)), h2 = g_res(h1) + g_enc(x1), ...
    h, x = None, x0
    for expected in iterates:
        encoded = module.encoder(complex_to_channels(x))
        h = module.cell(torch.zeros_like(encoded) if h is None else h) + encoded
        x = op.hard_dc(channels_to_complex(module.decoder(h)), kspace)
        assert torch.allclose(x, expected, atol=1e-12)
    stateless = ConvRNN(channels=2, features=4, strides=(1, 1), iterations=1).double()
    stateless.load_state_dict(module.state_dict())
    second = stateless(iterates[0], op, kspace)[0]  # x^(1) fed again, without the hidden state h^(1)
    assert not torch.allclose(second, iterates[1])


@pytest.mark.parametrize("strides", [(2, 2), (2, 1), (1, 1)])
def test_each_module_returns_images_of_the_input_size(strides):
    module = ConvRNN(channels=4, features=6, strides=strides, iterations=1)
    kspace, mask = coil_data(coils=2, size=32)
    assert module(ifft2c(kspace), MRIOperator(mask), kspace)[0].shape == (2, 2, 32, 32)


def test_gradient_descent_is_a_conv_rnn_with_hand_set_weights_eq_3():
    step, lam, iterations = 0.2, 0.5, 4
    kspace, mask = coil_data(coils=2, dtype=torch.complex128)
    op = MRIOperator(mask)
    module = ConvRNN(channels=4, features=8, strides=(1, 1), iterations=iterations).double()
    gradient_descent_weights(module, step, lam)

    def energy(x):  # ½‖D F x − y‖² + (λ/2)‖∇x‖², forward differences of x padded with zeros
        padded = torch.nn.functional.pad(torch.view_as_real(x).movedim(-1, 1), (1, 1, 1, 1))
        gradient = (padded.diff(dim=-1) ** 2).sum() + (padded.diff(dim=-2) ** 2).sum()
        return 0.5 * (op.forward(x) - kspace).abs().pow(2).sum() + 0.5 * lam * gradient

    x = ifft2c(kspace)
    expected = []
    for _ in range(iterations):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x), x)
        x = op.hard_dc(x.detach() - step * grad, kspace)
        expected.append(x)
    got = module(ifft2c(kspace), op, kspace)
    for a, b in zip(got, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    assert not torch.allclose(got[-1], ifft2c(kspace))  # the iterates did move


def test_the_paper_normalisation_makes_the_model_commute_with_units():
    torch.manual_seed(0)
    model = PCRNN(coils=2, features=4, iterations=1, scales=(2, 1)).eval()
    kspace, mask = coil_data(coils=2)
    zero_filled = rss(ifft2c(kspace), dim=1)
    assert torch.allclose(model.data_scale(kspace)[:, 0, 0, 0], zero_filled.flatten(1).mean(dim=1))
    assert torch.equal(model.prepare(kspace, mask).scale, model.data_scale(kspace * mask))  # what prepare divides by
    with torch.no_grad():
        assert torch.allclose(model(7.0 * kspace, mask), 7.0 * model(kspace, mask), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("options", "message"), [
    ({"coils": 0}, "coils must be a positive integer"),
    ({"iterations": 0}, "iterations must be a positive integer"),
    ({"scales": ()}, "scales must be a non-empty sequence"),
    ({"scales": (8, 1)}, "scales must be a non-empty sequence"),
    ({"features": (4, 4)}, "features must be a positive integer or one per scale"),
])
def test_bad_configurations_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        PCRNN(**options)


def test_a_kspace_with_another_coil_count_is_refused():
    kspace, mask = coil_data(coils=3)
    with pytest.raises(ValueError, match="kspace must have 2 coils"):
        PCRNN(coils=2, features=4, iterations=1)(kspace, mask)


def test_the_paper_sizes_count_their_parameters():
    small = PCRNN(coils=16, features=4, iterations=1)
    counted = sum(p.numel() for p in small.parameters())
    by_hand = 0
    channels, f = 32, 4
    for _ in range(3):
        by_hand += (channels * f * 9 + f) + (f * f * 9 + f)  # encoder
        by_hand += 2 * 2 * (f * f * 9 + f)  # two ResConvs of two convolutions
        by_hand += (f * f * 9 + f) + (f * channels * 9 + channels)  # decoder
    by_hand += (3 * channels * f * 9 + f) + 2 * (f * f * 9 + f) + (f * channels * 9 + channels)  # final CNN
    assert counted == by_hand


def test_the_ablations_run_modules_in_any_order_and_in_parallel():
    kspace, mask = coil_data(coils=1)
    torch.manual_seed(0)
    chained = PCRNN(features=4, iterations=1, scales=(1, 2, 4)).eval()
    parallel = PCRNN(features=4, iterations=1, scales=(1, 2, 4), connected=False).eval()
    parallel.load_state_dict(chained.state_dict())
    with torch.no_grad():
        _, chained_stages = chained(kspace, mask, return_stages=True)
        _, parallel_stages = parallel(kspace, mask, return_stages=True)
        scale = parallel.data_scale(kspace * mask)
        normalised = kspace * mask / scale
        second = parallel.pyramid[1](ifft2c(normalised), MRIOperator(mask), normalised)[0]  # from x̂_0, not x̂_1
    assert torch.equal(chained_stages[0]["coils"], parallel_stages[0]["coils"])  # the first module: x̂_0 either way
    assert torch.allclose(parallel_stages[1]["coils"] / scale, second, atol=1e-5)
    assert not torch.allclose(chained_stages[1]["coils"], parallel_stages[1]["coils"])


def test_the_gradient_descent_weights_need_a_stride_1_module_of_twice_the_channels():
    with pytest.raises(ValueError, match="features = 2 \\* channels = 8"):
        gradient_descent_weights(ConvRNN(channels=4, features=6, strides=(1, 1), iterations=1), 0.1, 0.1)
    with pytest.raises(ValueError, match="stride 1"):
        gradient_descent_weights(ConvRNN(channels=4, features=8, strides=(2, 1), iterations=1), 0.1, 0.1)
