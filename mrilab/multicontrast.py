"""The multi-contrast model of IMA: Theorem 1's decomposition and the half-quadratic-splitting steps.

Zheng et al., "Breaking Information Isolation: Accelerating MRI via Inter-sequence Mapping and Progressive
Masking", AAAI 2025. The target ``X`` (``HW × C``) and the reference embedding ``Y`` (``HW × c``) are related by
``Y = X R + N_y`` (eq. 2); Theorem 1 turns this into ``X = Ŷ A + Ỹ B`` (eq. 4), and the model

    min_{X, Ỹ} ½‖M ⊙ F X − Z‖² + ½‖Y A + Ỹ B − X‖² + λ₁ R₁(X) + λ₂ R₂(Ỹ)              (6)

is split with ``G ≈ X`` (eq. 7) into three sub-problems (8)–(11), solved by

* :func:`x_step`, one gradient step on sub-problem (8) (eq. 12; IMA's eq. 15 with a learned ``∇R₁``);
* :func:`ytilde_step`, one gradient step on sub-problem (9) (eq. 13; IMA's eq. 20 with learned operators);
* :func:`g_step`, the closed-form minimiser of sub-problem (11) (eq. 14; IMA's eq. 22).

:func:`theorem1_factors` constructs ``A``, ``B`` and ``Ỹ`` of Theorem 1 (b) from ``X`` and ``Ŷ``;
:func:`misaligned` moves a reference image as a patient who moved between the two scans would.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional

from ._checks import check_tensor
from .ops import MRIOperator


def _rank(matrix: torch.Tensor, tolerance: float) -> int:
    values = torch.linalg.svdvals(matrix)
    return int((values > tolerance * values.max()).sum()) if values.numel() and values.max() > 0 else 0


def theorem1_factors(x: torch.Tensor, y_hat: torch.Tensor, *, tolerance: float = 1e-10,
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(A, B, Ỹ)`` with ``X = Ŷ A + Ỹ B`` (Theorem 1 (b)), for ``Ŷ = X R`` of rank ``c < r = rank X``.

    ``x`` is real ``(HW, C)`` and ``y_hat`` real ``(HW, c)``. The construction follows the proof: the columns of
    ``Ŷ`` lie in the column space of ``X`` (statement (a)); the part of that space orthogonal to them has dimension
    ``r − c`` and ``Ỹ`` is an orthonormal basis of it; ``[Ŷ Ỹ]`` then has rank ``r`` and the column space of ``X``,
    so ``[A; B] = [Ŷ Ỹ]⁺ X`` solves ``X = [Ŷ Ỹ][A; B]`` exactly. Shapes: ``A`` ``(c, C)``, ``B`` ``(r − c, C)``,
    ``Ỹ`` ``(HW, r − c)``. Ranks are counted with singular values above ``tolerance`` times the largest.

    Raises ``ValueError`` when the theorem's conditions fail: ``rank Ŷ ≠ c``, ``r ≤ c``, or columns of ``Ŷ`` outside
    the column space of ``X`` (then no ``R`` with ``Ŷ = X R`` exists, and no decomposition with ``r − c`` extra
    columns either).
    """
    check_tensor("x", x, ndim=2, complex_=False)
    check_tensor("y_hat", y_hat, ndim=2, complex_=False)
    if y_hat.shape[0] != x.shape[0]:
        raise ValueError(f"y_hat must have as many rows as x ({x.shape[0]}), got shape {tuple(y_hat.shape)}")
    c, r = y_hat.shape[1], _rank(x, tolerance)
    if _rank(y_hat, tolerance) != c:
        raise ValueError(f"y_hat must have full column rank c = {c}, got rank {_rank(y_hat, tolerance)}")
    if r <= c:
        raise ValueError(f"Theorem 1 needs rank(x) = r > c = {c}, got r = {r}")
    u = torch.linalg.svd(x, full_matrices=False).U[:, :r]  # orthonormal basis of the column space of X
    outside = y_hat - u @ (u.T @ y_hat)
    if outside.norm() > tolerance**0.5 * max(float(y_hat.norm()), 1.0):
        raise ValueError("y_hat has columns outside the column space of x: no R with y_hat = x R exists "
                         f"(relative residual {float(outside.norm() / y_hat.norm()):.2e})")
    q_y = torch.linalg.qr(y_hat).Q
    complement = u - q_y @ (q_y.T @ u)  # the part of col(X) orthogonal to col(Ŷ), of rank r − c
    y_tilde = torch.linalg.svd(complement, full_matrices=False).U[:, : r - c]
    factors = torch.linalg.pinv(torch.cat([y_hat, y_tilde], dim=1)) @ x
    return factors[:c], factors[c:], y_tilde


def x_step(op: MRIOperator, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, *, mu: float | torch.Tensor,
           alpha: float | torch.Tensor, lam1: float | torch.Tensor, prior_gradient: torch.Tensor) -> torch.Tensor:
    """Return eq. (12): ``X − μ Aᴴ(A X − Z) − μ (α (X − G) + λ₁ ∇R₁(X))``, a gradient step on sub-problem (8).

    ``op`` is ``A = M F`` (IMA's ``U``), ``x`` and ``g`` complex images, ``y`` the measured k-space ``Z`` and
    ``prior_gradient`` ``∇R₁(X)`` (a network's output in IMA, eq. 15, which writes the same step in k-space:
    ``F X − μ (M F X − Z)`` is the data term of this step, because ``F`` is unitary).
    """
    return x - mu * op.adjoint(op.forward(x) - y) - mu * (alpha * (x - g) + lam1 * prior_gradient)


def ytilde_step(y_tilde: torch.Tensor, residual: torch.Tensor, *, beta: float | torch.Tensor,
                lam2: float | torch.Tensor, prior_gradient: torch.Tensor,
                transpose: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Return eq. (13): ``Ỹ − β (Y A − G + Ỹ B) Bᵀ − β λ₂ ∇R₂(Ỹ)``, a gradient step on sub-problem (9).

    ``residual`` is ``Y A − G + Ỹ B`` and ``transpose`` applies ``· Bᵀ`` to it (IMA's eq. 20 replaces both by
    networks: the residual by ``CSCA(Y, G) + Ỹ`` and ``Bᵀ`` by a convolution block).
    """
    return y_tilde - beta * transpose(residual) - beta * lam2 * prior_gradient


def g_step(mapping: torch.Tensor, x: torch.Tensor, *, alpha: float | torch.Tensor) -> torch.Tensor:
    """Return eq. (14): ``G = (Y A + Ỹ B + α X) / (1 + α)``, the minimiser of sub-problem (11).

    ``mapping`` is ``Y A + Ỹ B`` (IMA's eq. 22: the sum of two networks' outputs). ``α > −1`` keeps (11) strictly
    convex.
    """
    return (mapping + alpha * x) / (1 + alpha)


def misaligned(image: torch.Tensor, *, shift: float = 0.0, degrees: float = 0.0) -> torch.Tensor:
    """Return complex images ``(B, 1, H, W)`` shifted by ``shift`` pixels along the width and rotated by ``degrees``.

    The rotation is about the image centre, counter-clockwise as the image is drawn (row 0 at the top), and comes
    after the shift; values are interpolated bilinearly from the real and imaginary parts, and zero where the moved
    image does not reach. ``shift = degrees = 0`` returns ``image`` unchanged. A model of a reference contrast that
    was not registered to the target: the patient moved between the two acquisitions.
    """
    check_tensor("image", image, ndim=4, complex_=True)
    if image.shape[1] != 1:
        raise ValueError(f"image must have shape (B, 1, H, W), got {tuple(image.shape)}")
    if shift == 0 and degrees == 0:
        return image
    batch, _, height, width = image.shape
    angle = torch.tensor(degrees * torch.pi / 180, dtype=torch.float64)
    cos, sin = float(torch.cos(angle)), float(torch.sin(angle))
    # affine_grid maps each output location (normalised to [-1, 1], y pointing down) to where it samples the input:
    # the inverse rotation, then the inverse shift (one pixel is 2 / W in normalised units)
    theta = torch.tensor([[cos, -sin * height / width, -2 * shift / width],
                          [sin * width / height, cos, 0.0]], dtype=image.real.dtype, device=image.device)
    grid = functional.affine_grid(theta.expand(batch, 2, 3), [batch, 2, height, width], align_corners=False)
    channels = torch.cat([image.real, image.imag], dim=1)
    moved = functional.grid_sample(channels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return torch.complex(moved[:, :1], moved[:, 1:])
