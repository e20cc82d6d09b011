"""The one adjoint test every linear operator of the book passes: ⟨A x, y⟩ = c ⟨x, A^H y⟩ for random x, y."""

from collections.abc import Callable

import torch


def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """⟨a, b⟩ = Σ conj(a) b (real tensors: the plain sum of products)."""
    return (a.conj() * b).sum() if a.is_complex() else (a * b).sum()


def assert_adjoint(forward: Callable, adjoint: Callable, x_shape: tuple, y_shape: tuple, *,
                   dtype: torch.dtype = torch.complex128, scale: float = 1.0, rtol: float = 1e-10,
                   trials: int = 3, seed: int = 0) -> None:
    """Assert ``⟨forward(x), y⟩ = scale · ⟨x, adjoint(y)⟩`` for ``trials`` random pairs.

    ``scale`` is 1 for an adjoint pair; e.g. 4 for CGPD-CSNet's initial transfer operators, I^P = 4 (I^R)^T.
    """
    generator = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        x = torch.randn(*x_shape, dtype=dtype, generator=generator)
        y = torch.randn(*y_shape, dtype=dtype, generator=generator)
        with torch.no_grad():
            left, right = inner(forward(x), y), scale * inner(x, adjoint(y))
        assert abs(complex(left - right)) <= rtol * max(abs(complex(left)), 1e-30), (complex(left), complex(right))
