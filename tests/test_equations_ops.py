"""The forward model against dense matrices: fft2c/ifft2c, A = M F S, A^H, A^H A, hard and soft data consistency.

Every reference here is built from the definitions alone (the centred DFT written entry by entry, the operator as a
stack of ``diag(M) F diag(S_c)`` blocks with maps, or ``diag(M) F`` repeated along the diagonal coil by coil without,
the proximal step as a dense linear solve) and compared with the package's own code path on small random inputs, also
with the mask given per call. The other ``test_equations_*`` files import the dense operator from here.
"""

import math

import pytest
import torch

from mrilab.ops import (
    MRIOperator,
    batch_to_complex,
    channels_to_complex,
    complex_to_batch,
    complex_to_channels,
    fft2c,
    full_precision,
    ifft2c,
)

DTYPE = torch.complex128


def dft_matrix(n: int) -> torch.Tensor:
    """The centred orthonormal DFT, entry by entry: ``F[k, j] = exp(−2πi (k − c)(j − c) / n) / √n``, ``c = n // 2``.

    Index ``c`` is the centre of image and k-space (``fftshift``'s convention, also for odd ``n``).
    """
    matrix = torch.empty(n, n, dtype=DTYPE)
    c = n // 2
    for k in range(n):
        for j in range(n):
            matrix[k, j] = complex(math.cos(-2 * math.pi * (k - c) * (j - c) / n),
                                   math.sin(-2 * math.pi * (k - c) * (j - c) / n)) / math.sqrt(n)
    return matrix


def dft2_matrix(height: int, width: int) -> torch.Tensor:
    """The 2-D centred DFT acting on row-major vectorised ``(H, W)`` images: ``F_H ⊗ F_W``."""
    return torch.kron(dft_matrix(height), dft_matrix(width))


def dense_operator(mask: torch.Tensor, sens: torch.Tensor | None, batch: int, *, coils: int = 1) -> list[torch.Tensor]:
    """One dense ``A_b`` per sample: with maps ``(C·H·W, H·W)``, the coil blocks ``diag(M_b) F diag(S_{b,c})``
    stacked; without, ``(C·H·W, C·H·W)``, ``coils`` blocks ``diag(M_b) F`` on the diagonal (coil by coil)."""
    height, width = mask.shape[-2:]
    f2 = dft2_matrix(height, width)
    matrices = []
    for b in range(batch):
        m = (mask if mask.ndim == 2 else mask[b if mask.shape[0] > 1 else 0, 0]).reshape(-1).to(DTYPE)
        if sens is None:
            matrices.append(torch.block_diag(*[m[:, None] * f2] * coils))
        else:
            s = sens if sens.ndim == 3 else sens[b if sens.shape[0] > 1 else 0]
            matrices.append(torch.cat([m[:, None] * f2 * s[c].reshape(-1).to(DTYPE)[None, :]
                                       for c in range(s.shape[0])]))
    return matrices


def apply(matrices: list[torch.Tensor], v: torch.Tensor, out_shape: tuple) -> torch.Tensor:
    """``(matrices[b] @ vec(v_b))`` for every sample, reshaped to ``(B, *out_shape)``."""
    return torch.stack([a @ v[b].reshape(-1) for b, a in enumerate(matrices)]).reshape(len(matrices), *out_shape)


def random(*shape, seed=0):
    return torch.randn(*shape, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))


def random_mask(shape, seed=0, fraction=0.4):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < fraction


# -- the centred FFT --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 6), (5, 7), (6, 5)])
def test_fft2c_and_ifft2c_are_the_centred_unitary_dft_matrices(shape):
    height, width = shape
    x = random(2, 3, height, width)
    f_h, f_w = dft_matrix(height), dft_matrix(width)
    expected = torch.einsum("kj,bcjl,ml->bckm", f_h, x, f_w)
    assert torch.allclose(fft2c(x), expected, atol=1e-12)
    expected_inverse = torch.einsum("kj,bcjl,ml->bckm", f_h.conj().T, x, f_w.conj().T)
    assert torch.allclose(ifft2c(x), expected_inverse, atol=1e-12)
    # on a plain 2-D array too (the transform is over the last two dimensions only)
    assert torch.allclose(fft2c(x[0, 0]), expected[0, 0], atol=1e-12)


# -- real channels for the networks --------------------------------------------------------------------------------
def test_channel_layouts_are_real_parts_then_imaginary_parts():
    x = random(2, 3, 4, 5).to(torch.complex64)
    channels = complex_to_channels(x)
    for c in range(3):
        assert torch.equal(channels[:, c], x[:, c].real) and torch.equal(channels[:, 3 + c], x[:, c].imag)
    assert torch.equal(channels_to_complex(channels), x)
    stacked = complex_to_batch(x)
    assert stacked.shape == (4, 3, 4, 5)
    assert torch.equal(stacked[:2], x.real) and torch.equal(stacked[2:], x.imag)
    assert torch.equal(batch_to_complex(stacked), x)


def test_channel_helpers_check_shapes_and_dtypes_but_never_values():
    nan = torch.full((2, 1, 3, 3), float("nan"), dtype=torch.complex64)
    assert torch.isnan(batch_to_complex(complex_to_batch(nan))).all()
    assert torch.isnan(channels_to_complex(complex_to_channels(nan))).all()
    for helper, bad, error, message in (
        (complex_to_batch, torch.zeros(2, 1, 3, 3), TypeError, "^x must be a complex tensor"),
        (complex_to_batch, torch.zeros(1, 3, 3, dtype=torch.complex64), ValueError, "^x must have 4 dimensions"),
        (batch_to_complex, torch.zeros(2, 1, 3, 3, dtype=torch.complex64), TypeError, "^x must be a real tensor"),
        (batch_to_complex, torch.zeros(2, 3, 3), ValueError, "^x must have 4 dimensions"),
        (complex_to_channels, torch.zeros(2, 1, 3, 3), TypeError, "^x must be a complex tensor"),
        (channels_to_complex, torch.zeros(2, 3, 3, 3), ValueError, "^x must have an even number of channels"),
    ):
        with pytest.raises(error, match=message):
            helper(bad)


def test_full_precision_only_widens_half_precision():
    for dtype in (torch.bfloat16, torch.float16):
        assert full_precision(torch.ones(2, dtype=dtype)).dtype == torch.float32
    for dtype in (torch.float32, torch.float64, torch.complex64):
        x = torch.ones(2, dtype=dtype)
        assert full_precision(x) is x


# -- the operator A = M F S ----------------------------------------------------------------------------------------
SHAPE = (4, 6)
#: (mask, sens, coil images): with maps the images have one coil, without ``C`` (single coil: 1).
CASES = {
    "single coil, one mask": lambda: (random_mask(SHAPE, 1), None, 1),
    "single coil, mask per sample": lambda: (random_mask((2, 1, *SHAPE), 2), None, 1),
    "coil by coil, one mask": lambda: (random_mask(SHAPE, 37), None, 3),
    "coil by coil, mask per sample": lambda: (random_mask((2, 1, *SHAPE), 38), None, 2),
    "coils (C, H, W), mask per sample": lambda: (random_mask((2, 1, *SHAPE), 3), random(3, *SHAPE, seed=4), 1),
    "coils per sample, one mask": lambda: (random_mask(SHAPE, 5), random(2, 3, *SHAPE, seed=6), 1),
    "coils per sample, mask per sample": lambda: (random_mask((2, 1, *SHAPE), 7), random(2, 2, *SHAPE, seed=8), 1),
}


def case(name):
    """``mask, sens`` of a case and the coils of its images and of its k-space."""
    mask, sens, image_coils = CASES[name]()
    return mask, sens, image_coils, image_coils if sens is None else sens.shape[-3]


@pytest.mark.parametrize("name", CASES)
def test_forward_adjoint_and_normal_are_the_dense_matrices(name):
    mask, sens, image_coils, kspace_coils = case(name)
    op = MRIOperator(mask, sens)
    assert op.n_coils == (1 if sens is None else kspace_coils)
    matrices = dense_operator(mask, sens, 2, coils=image_coils)
    x, y = random(2, image_coils, *SHAPE, seed=10), random(2, kspace_coils, *SHAPE, seed=11)
    assert torch.allclose(op.forward(x), apply(matrices, x, (kspace_coils, *SHAPE)), atol=1e-12)
    assert torch.allclose(op(x), op.forward(x))
    adjoints = [a.conj().T for a in matrices]
    assert torch.allclose(op.adjoint(y), apply(adjoints, y, (image_coils, *SHAPE)), atol=1e-12)
    normals = [a.conj().T @ a for a in matrices]
    assert torch.allclose(op.normal(x), apply(normals, x, (image_coils, *SHAPE)), atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_hard_dc_replaces_the_sampled_kspace_of_every_coil(name):
    """Without maps, coil by coil ``F^H(M y_c + (1 − M) F x_c)``; with maps
    ``Σ_c S_c^* F^H(M y_c + (1 − M) F S_c x) / Σ_c |S_c|²``."""
    mask, sens, image_coils, kspace_coils = case(name)
    op = MRIOperator(mask, sens)
    masks = (mask if mask.ndim == 4 else mask[None, None]).expand(2, 1, *SHAPE).to(DTYPE)
    f2 = dft2_matrix(*SHAPE)
    x, y = random(2, image_coils, *SHAPE, seed=12), random(2, kspace_coils, *SHAPE, seed=13)
    expected = torch.zeros(2, image_coils, *SHAPE, dtype=DTYPE)
    for b in range(2):
        m = masks[b, 0].reshape(-1)
        if sens is None:
            for c in range(image_coils):
                k = m * y[b, c].reshape(-1) + (1 - m) * (f2 @ x[b, c].reshape(-1))
                expected[b, c] = (f2.conj().T @ k).reshape(SHAPE)
            continue
        maps = sens.expand(2, *sens.shape[-3:])[b]
        numerator = torch.zeros(SHAPE[0] * SHAPE[1], dtype=DTYPE)
        for c in range(kspace_coils):
            s = maps[c].reshape(-1)
            k = m * y[b, c].reshape(-1) + (1 - m) * (f2 @ (s * x[b, 0].reshape(-1)))
            numerator += s.conj() * (f2.conj().T @ k)
        weight = (maps.abs() ** 2).sum(dim=0).reshape(-1)
        expected[b, 0] = (numerator / weight).reshape(SHAPE)
    assert torch.allclose(op.hard_dc(x, y), expected, atol=1e-12)


def dense_prox(matrices, z, y, rho):
    """``argmin_x ‖A x − y‖² + ρ‖x − z‖²`` per sample: ``(A^H A + ρ I) x = A^H y + ρ z``, solved densely."""
    out = []
    for b, a in enumerate(matrices):
        r = float(rho[b]) if isinstance(rho, torch.Tensor) else rho
        system = a.conj().T @ a + r * torch.eye(a.shape[1], dtype=DTYPE)
        out.append(torch.linalg.solve(system, a.conj().T @ y[b].reshape(-1) + r * z[b].reshape(-1)))
    return torch.stack(out).reshape(z.shape)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("rho", [0.3, 2, "per sample"])
def test_soft_dc_is_the_dense_least_squares_solution(name, rho):
    """Also without maps, where the dense system couples nothing across coils and the closed form runs coil by
    coil."""
    mask, sens, image_coils, kspace_coils = case(name)
    op = MRIOperator(mask, sens)
    matrices = dense_operator(mask, sens, 2, coils=image_coils)
    rho = torch.tensor([0.25, 1.5], dtype=torch.float64).view(2, 1, 1, 1) if rho == "per sample" else rho
    z, y = random(2, image_coils, *SHAPE, seed=14), random(2, kspace_coils, *SHAPE, seed=15)
    y = apply(matrices, random(2, image_coils, *SHAPE, seed=16), (kspace_coils, *SHAPE)) + 0.1 * y  # noisy
    rho_values = rho.reshape(-1) if isinstance(rho, torch.Tensor) else rho
    x = op.soft_dc(z, y, rho, cg_iterations=200)
    assert torch.allclose(x, dense_prox(matrices, z, y, rho_values), atol=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_a_mask_given_per_call_replaces_the_operators_mask_for_that_call(name):
    """Every method with ``mask=`` is the method of the operator built with that mask (bit for bit), also where the
    two masks differ in shape (one for the batch, one per sample); the next call uses the operator's mask again."""
    mask, sens, image_coils, kspace_coils = case(name)
    own = random_mask(SHAPE if mask.ndim == 4 else (2, 1, *SHAPE), 40, fraction=0.7)
    op, reference = MRIOperator(own, sens), MRIOperator(mask, sens)
    x, z = random(2, image_coils, *SHAPE, seed=41), random(2, image_coils, *SHAPE, seed=42)
    y = random(2, kspace_coils, *SHAPE, seed=43)
    rho = torch.tensor([0.25, 1.5], dtype=torch.float64).view(2, 1, 1, 1)
    for method, args in (("forward", (x,)), ("__call__", (x,)), ("adjoint", (y,)), ("normal", (x,)),
                         ("hard_dc", (x, y)), ("soft_dc", (z, y, rho))):
        got = getattr(op, method)(*args, mask=mask)
        assert torch.equal(got, getattr(reference, method)(*args)), method
        assert not torch.allclose(getattr(op, method)(*args), got), method


@pytest.mark.parametrize("name", CASES)
def test_the_adjoint_with_a_mask_given_per_call_is_the_dense_adjoint(name):
    mask, sens, image_coils, kspace_coils = case(name)
    op = MRIOperator(torch.ones(SHAPE, dtype=torch.bool), sens)
    matrices = dense_operator(mask, sens, 2, coils=image_coils)
    x, y = random(2, image_coils, *SHAPE, seed=44), random(2, kspace_coils, *SHAPE, seed=45)
    assert torch.allclose(op.forward(x, mask=mask), apply(matrices, x, (kspace_coils, *SHAPE)), atol=1e-12)
    adjoints = [a.conj().T for a in matrices]
    assert torch.allclose(op.adjoint(y, mask=mask), apply(adjoints, y, (image_coils, *SHAPE)), atol=1e-12)


def naive_cg(a, rhs, start, iterations):
    """Textbook conjugate gradient on the Hermitian system ``a x = rhs`` from ``start``, ``iterations`` steps."""
    x = start.clone()
    r = rhs - a @ x
    p = r.clone()
    for _ in range(iterations):
        ap = a @ p
        alpha = torch.vdot(r, r).real / torch.vdot(p, ap).real
        x = x + alpha * p
        r_new = r - alpha * ap
        beta = torch.vdot(r_new, r_new).real / torch.vdot(r, r).real
        p = r_new + beta * p
        r = r_new
    return x


@pytest.mark.parametrize("iterations, scale", [(1, 1.0), (2, 1.0), (3, 1.0), (3, 1e-4)])
def test_multicoil_soft_dc_takes_conjugate_gradient_steps_from_z(iterations, scale):
    """Before it converges, every conjugate-gradient iterate is the textbook one started at ``z`` (also for data so
    small that the inner products are far below one)."""
    mask, sens = random_mask((2, 1, *SHAPE), 17), random(2, 3, *SHAPE, seed=18)
    op = MRIOperator(mask, sens)
    matrices = dense_operator(mask, sens, 2)
    rho = torch.tensor([0.5, 2.0], dtype=torch.float64).view(2, 1, 1, 1)
    z, y = scale * random(2, 1, *SHAPE, seed=19), scale * random(2, 3, *SHAPE, seed=20)
    x = op.soft_dc(z, y, rho, cg_iterations=iterations)
    for b, a in enumerate(matrices):
        system = a.conj().T @ a + float(rho[b]) * torch.eye(a.shape[1], dtype=DTYPE)
        rhs = a.conj().T @ y[b].reshape(-1) + float(rho[b]) * z[b].reshape(-1)
        expected = naive_cg(system, rhs, z[b].reshape(-1), iterations)
        assert torch.allclose(x[b].reshape(-1), expected, atol=1e-10)


def test_conjugate_gradient_stops_once_the_residual_is_small():
    """The early exit (‖r‖ ≤ 10⁻⁷ ‖rhs‖ for every sample) saves iterations: 24 unknowns need about 24 of the 500."""
    mask, sens = random_mask((2, 1, *SHAPE), 23), random(2, 3, *SHAPE, seed=24)
    op = MRIOperator(mask, sens)
    calls = []
    normal = op.normal
    op.normal = lambda x, **options: calls.append(1) or normal(x, **options)
    z, y = random(2, 1, *SHAPE, seed=25), random(2, 3, *SHAPE, seed=26)
    x = op.soft_dc(z, y, 0.7, cg_iterations=500)
    assert torch.allclose(x, dense_prox(dense_operator(mask, sens, 2), z, y, 0.7), atol=1e-9)
    assert len(calls) < 60


def test_conjugate_gradient_takes_twenty_steps_by_default():
    height, width = 8, 8  # 64 unknowns: twenty steps are not enough to converge
    mask, sens = random_mask((height, width), 27), random(3, height, width, seed=28)
    op = MRIOperator(mask, sens)
    z, y = random(1, 1, height, width, seed=29), random(1, 3, height, width, seed=30)
    x = op.soft_dc(z, y, 0.05)
    assert torch.equal(x, op.soft_dc(z, y, 0.05, cg_iterations=20))
    assert not torch.allclose(x, op.soft_dc(z, y, 0.05, cg_iterations=21), atol=1e-9)


@pytest.mark.parametrize("coils", [None, 2])
def test_soft_dc_builds_rho_on_the_images_device(coils):
    """ρ goes to the device of ``z``, not to the default device (here a "meta" default would break it)."""
    mask = random_mask(SHAPE, 31)
    op = MRIOperator(mask, None if coils is None else random(coils, *SHAPE, seed=32))
    z, y = random(1, 1, *SHAPE, seed=33), random(1, op.n_coils, *SHAPE, seed=34)
    expected = op.soft_dc(z, y, 0.5)
    with torch.device("meta"):
        assert torch.equal(op.soft_dc(z, y, 0.5), expected)


def test_operator_errors_name_the_argument():
    op = MRIOperator(random_mask(SHAPE, 35))
    sense = MRIOperator(random_mask(SHAPE, 35), random(3, *SHAPE, seed=46))
    z, coils = random(1, 1, *SHAPE, seed=36), random(1, 2, *SHAPE, seed=47)
    value_errors = (
        (lambda: op.soft_dc(z[..., :3], op.forward(z), 1.0), r"^z must have shape \(B, 1, 4, 6\)"),
        (lambda: op.soft_dc(z, op.forward(z)[..., :3], 1.0), r"^y must have shape \(B, 1, 4, 6\)"),
        (lambda: op.hard_dc(z[..., :3], op.forward(z)), r"^x must have shape \(B, 1, 4, 6\)"),
        (lambda: op.hard_dc(z, op.forward(z)[..., :3]), r"^y must have shape \(B, 1, 4, 6\)"),
        (lambda: op.forward(coils[..., :5]), r"^x must have shape \(B, 2, 4, 6\), got \(1, 2, 4, 5\)"),
        (lambda: op.adjoint(coils[..., :5]), r"^y must have shape \(B, 2, 4, 6\) for this operator, got"),
        # without maps, data consistency pairs every coil image with its own k-space
        (lambda: op.hard_dc(coils, random(1, 3, *SHAPE)),
         r"^y must have shape \(B, 2, 4, 6\) for this operator \(one k-space per coil image of x\)"),
        (lambda: op.soft_dc(coils, random(1, 1, *SHAPE), 1.0), r"^y must have shape \(B, 2, 4, 6\) .*image of z"),
        # with maps, one image and the maps' coils
        (lambda: sense.forward(coils), r"^x must have shape \(B, 1, 4, 6\)"),
        (lambda: sense.adjoint(coils), r"^y must have shape \(B, 3, 4, 6\) .*one k-space per coil of sens"),
        (lambda: sense.hard_dc(z, coils), r"^y must have shape \(B, 3, 4, 6\)"),
        (lambda: MRIOperator(random_mask((2, 2, *SHAPE))), r"^mask must be \(H, W\) or \(B, 1, H, W\)"),
        # a mask given per call is checked like the constructor's, and against the operator's size
        (lambda: op.forward(z, mask=random_mask((2, 2, *SHAPE))), r"^mask must be \(H, W\) or \(B, 1, H, W\)"),
        (lambda: op.adjoint(z, mask=random_mask((4, 5))), r"^mask must have the operator's spatial size \(4, 6\)"),
        (lambda: op.soft_dc(z, z, 1.0, mask=random_mask((3, 1, *SHAPE))),
         "^z has batch size 1 but mask has batch size 3"),
    )
    for call, message in value_errors:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(TypeError, match="^mask must have dtype torch.bool"):
        op.normal(z, mask=random_mask(SHAPE).float())


def test_soft_dc_accepts_positive_rho_only():
    op = MRIOperator(random_mask(SHAPE, 21))
    z = random(1, 1, *SHAPE, seed=22)
    y = op.forward(z)
    for bad in (0, 0.0, -1.0, "1", None):
        with pytest.raises(ValueError, match="rho must be a positive number"):
            op.soft_dc(z, y, bad)
    assert torch.allclose(op.soft_dc(z, y, 1), op.soft_dc(z, y, 1.0))
