"""The contract every reconstruction model of the book follows.

Calling convention::

    x = model(kspace, mask, *, ratio=None, reference=None, sens=None, return_stages=False)
    x, stages = model(kspace, mask, ..., return_stages=True)

* ``kspace``: complex ``(B, C, H, W)`` measurements (``C = 1`` single-coil); values outside the mask are ignored;
* ``mask``: boolean ``(H, W)`` for the batch or ``(B, 1, H, W)`` per sample;
* ``ratio``: the sampling ratio — a number or a ``(B,)`` tensor in (0, 1] — for models conditioned on it;
* ``reference``: complex ``(B, 1, H, W)``, a fully sampled image of another contrast, for models that accept one
  (``accepts_reference``); the others ignore it;
* ``sens``: complex ``(C, H, W)`` or ``(B, C, H, W)`` coil sensitivities (multi-coil models that use them);
* returns the image ``(B, 1, H, W)`` a model's ``output`` attribute names: ``"complex"`` (the default), or
  ``"magnitude"``, real and non-negative (e.g. the root-sum-of-squares of coil images); with ``return_stages``
  also a list with one dict per stage, each holding at least ``"x"``, the stage's output image (the shape and dtype
  of the output). Models add their own intermediate tensors, which may have other shapes: coil images
  ``(B, C, H, W)``, masks, attention maps.

Every model commutes with a change of units, ``model(c·kspace) = c·model(kspace)`` for ``c > 0``: :meth:`prepare`
divides the measurements by their scale ``s`` (:meth:`~ReconstructionModel.data_scale`, by default
:func:`measurement_scale`, the root-mean-square of the measured
k-space per sample relative to :data:`TYPICAL_RMS`) and :meth:`forward` multiplies the output, every stage's ``"x"``
and every complex stage tensor by it again; other real stage tensors (masks, attention maps, descriptors) are left
as they are. A model's :meth:`~ReconstructionModel.unroll` therefore sees data in the units of a typical training
slice (images that peak near 1) whatever the receiver gain, and a ``training_loss`` that calls ``unroll`` compares
with ``target / data.scale``.

:class:`ReconstructionModel` validates all of this once, in :meth:`~ReconstructionModel.prepare`, and hands the
model a :class:`Measurements`; a model ignores the optional inputs it does not use. Subclasses implement
:meth:`~ReconstructionModel.unroll`, record their constructor arguments in ``self.config`` and register with
:func:`mrilab.models.registry.register`, which is all a new model needs to be trained, evaluated, checkpointed and
covered by the contract tests (``tests/test_model_contract.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._checks import check_tensor, compiling
from ..ops import MRIOperator

#: What a model's ``output`` attribute may say it returns.
OUTPUTS = ("complex", "magnitude")


@dataclass
class Measurements:
    """Validated inputs of one forward pass, on the device of ``y``.

    ``y`` is the masked k-space ``M ⊙ kspace / s`` ``(B, C, H, W)`` in units of its scale ``s`` (``scale``, real
    ``(B, 1, 1, 1)``, :func:`measurement_scale`); ``op`` the operator of the mask, always present:
    ``MRIOperator(mask, sens)``, ``A = M F S`` from images ``(B, 1, H, W)``, when ``sens`` is given, else
    ``MRIOperator(mask)``, ``A = M F`` coil by coil on coil images ``(B, C, H, W)`` (single-coil data: ``C = 1``);
    ``ratio`` a float ``(B,)`` tensor or ``None`` when the caller gave none (:meth:`sampling_ratio` falls back to the
    mask); ``reference`` ``None`` unless the model accepts one and the caller gave it, then divided by its own
    :func:`image_scale`.
    """

    y: torch.Tensor
    mask: torch.Tensor
    op: MRIOperator
    ratio: torch.Tensor | None
    reference: torch.Tensor | None
    sens: torch.Tensor | None
    scale: torch.Tensor

    @property
    def batch_size(self) -> int:
        """Return ``B``."""
        return self.y.shape[0]

    def sampling_ratio(self) -> torch.Tensor:
        """Return the given ratio, else the fraction of k-space each sample's mask samples, as a ``(B,)`` tensor."""
        if self.ratio is not None:
            return self.ratio
        fraction = self.mask.flatten(-2).float().mean(dim=-1).reshape(-1)
        return fraction.expand(self.batch_size) if fraction.numel() == 1 else fraction


class ReconstructionModel(nn.Module):
    """Base class of the book's models: one calling convention, inputs checked once at the boundary.

    Class attributes say what a model accepts and returns: ``multi_coil`` (``C > 1``), ``needs_sens`` (required
    maps), ``accepts_reference`` (a reference image is used; without it one is dropped) and ``needs_reference``
    (required; implies ``accepts_reference``), ``size_multiple`` (``H`` and ``W`` must be multiples of it, e.g. 2 for
    a stride-2 layer) and ``output``, one of :data:`OUTPUTS`: ``"complex"`` images ``(B, 1, H, W)`` or
    ``"magnitude"``, real non-negative ``(B, 1, H, W)``.
    """

    multi_coil: bool = False
    needs_sens: bool = False
    accepts_reference: bool = False
    needs_reference: bool = False
    output: str = "complex"
    size_multiple: int = 1
    config: dict

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Check a new model's attributes: a known ``output``; ``needs_reference`` implies ``accepts_reference``."""
        super().__init_subclass__(**kwargs)
        if cls.output not in OUTPUTS:
            raise ValueError(f"{cls.__name__}.output must be one of {OUTPUTS}, got {cls.output!r}")
        if cls.needs_reference and not cls.accepts_reference:
            raise ValueError(f"{cls.__name__} sets needs_reference = True, so it must set accepts_reference = True "
                             "too (a model that needs a reference accepts one)")

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor, *, ratio: float | torch.Tensor | None = None,
                reference: torch.Tensor | None = None, sens: torch.Tensor | None = None,
                return_stages: bool = False) -> torch.Tensor | tuple[torch.Tensor, list[dict]]:
        """Reconstruct images ``(B, 1, H, W)``, complex or (``output = "magnitude"``) magnitudes.

        See the module docstring for the arguments. The output, every stage's ``"x"`` and every complex stage tensor
        are returned in the units of ``kspace`` (multiplied by the scale ``s``).
        """
        data = self.prepare(kspace, mask, ratio=ratio, reference=reference, sens=sens)
        x, stages = self.unroll(data, return_stages=return_stages)
        x = x * data.scale
        if not return_stages:
            return x
        stages = [{key: value * data.scale if _in_units(key, value) else value for key, value in stage.items()}
                  for stage in stages]
        stages[-1]["x"] = x
        return x, stages

    def data_scale(self, y: torch.Tensor) -> torch.Tensor:
        """Return the scale ``s`` that :meth:`prepare` divides the masked k-space ``y`` by: :func:`measurement_scale`.

        A model whose paper normalises otherwise overrides it; any statistic with ``s(c y) = c s(y)`` for ``c > 0``
        keeps the model commuting with a change of units. Real ``(B, 1, 1, 1)``.
        """
        return measurement_scale(y)

    def unroll(self, data: Measurements, *, return_stages: bool) -> tuple[torch.Tensor, list[dict]]:
        """Return the reconstruction and (when ``return_stages``, else an empty list) the per-stage dicts."""
        raise NotImplementedError(f"{type(self).__name__} must implement unroll(data, return_stages=...)")

    def prepare(self, kspace: torch.Tensor, mask: torch.Tensor, *, ratio: float | torch.Tensor | None = None,
                reference: torch.Tensor | None = None, sens: torch.Tensor | None = None) -> Measurements:
        """Check the inputs of the calling convention once and return them as :class:`Measurements`."""
        name = type(self).__name__
        check_tensor("kspace", kspace, ndim=4, complex_=True)
        batch, coils, height, width = kspace.shape
        if coils != 1 and not self.multi_coil:
            raise ValueError(f"kspace must be single-coil (B, 1, H, W) for {name}, got shape {tuple(kspace.shape)}")
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(f"kspace must have H and W divisible by {self.size_multiple} for {name}, "
                             f"got {height}x{width}")
        check_tensor("mask", mask, ndim=(2, 4), dtype=torch.bool)
        if tuple(mask.shape[-2:]) != (height, width) or (mask.ndim == 4 and mask.shape[:2] not in ((batch, 1), (1, 1))):
            raise ValueError(f"mask must be (H, W) or (B, 1, H, W) matching kspace {tuple(kspace.shape)}, "
                             f"got {tuple(mask.shape)}")
        mask = mask.to(kspace.device)
        if reference is None and self.needs_reference:
            raise ValueError(f"{name} needs reference, a complex (B, 1, H, W) image of the reference contrast")
        if not self.accepts_reference:
            reference = None
        if reference is not None:
            check_tensor("reference", reference, ndim=4, complex_=True)
            if tuple(reference.shape) != (batch, 1, height, width):
                raise ValueError(f"reference must have shape {(batch, 1, height, width)}, got {tuple(reference.shape)}")
            reference = reference.to(kspace.device)
        if sens is None and self.needs_sens:
            raise ValueError(f"{name} needs sens, complex coil sensitivities (B, C, H, W)")
        if sens is not None:
            check_tensor("sens", sens, ndim=(3, 4), complex_=True)
            if tuple(sens.shape[-3:]) != (coils, height, width) or (sens.ndim == 4 and sens.shape[0] not in (1, batch)):
                raise ValueError(f"sens must be (C, H, W) or (B, C, H, W) matching kspace {tuple(kspace.shape)}, "
                                 f"got {tuple(sens.shape)}")
            sens = sens.to(kspace.device)
        op = MRIOperator(mask, sens)
        ratio = None if ratio is None else ratio_tensor(ratio, batch, kspace.device)
        y = kspace * mask
        scale = self.data_scale(y)
        if reference is not None:
            reference = reference / image_scale(reference)
        return Measurements(y / scale, mask, op, ratio, reference, sens, scale)


def _in_units(key: str, value: object) -> bool:
    """Whether a stage entry is in the units of the data: the stage's image ``"x"`` and every complex tensor."""
    return isinstance(value, torch.Tensor) and (key == "x" or value.is_complex())


TYPICAL_RMS = 0.25
"""The root-mean-square of the measured k-space of a typical slice whose image peaks at 1.

On the training slices of ``demo`` at 10–30 % (1-D Cartesian) the ratio of the masked k-space's RMS to the
image's peak has median 0.23 (T1w) and 0.27 (the broad data). Dividing by ``RMS / TYPICAL_RMS`` rather than by
the RMS keeps the normalised images near the unit peak that the networks' initial step sizes and thresholds are set
for; dividing by the RMS alone would make them about four times larger.
"""


def measurement_scale(y: torch.Tensor) -> torch.Tensor:
    """Return the scale ``s = sqrt(Σ |y|² / (H W)) / TYPICAL_RMS`` of masked k-space ``y`` ``(B, C, H, W)``.

    The result is real ``(B, 1, 1, 1)``. With the orthonormal FFT the root-mean-square is that of the zero-filled
    image (of the coil images' root sum of squares for ``C > 1``); :data:`TYPICAL_RMS` makes ``s ≈ 1`` for a slice
    in the generator's units, and ``s(c y) = c s(y)`` for ``c > 0``. All-zero data get the smallest positive normal
    number instead of 0, so the division is defined (and the output stays what the model makes of zeros).
    """
    energy = (y.real**2 + y.imag**2).sum(dim=(1, 2, 3), keepdim=True) / (y.shape[-2] * y.shape[-1])
    return (energy.sqrt() / TYPICAL_RMS).clamp_min(torch.finfo(energy.dtype).tiny)


def image_scale(image: torch.Tensor) -> torch.Tensor:
    """Return the root-mean-square of complex images ``(B, C, H, W)`` per sample over :data:`TYPICAL_RMS`.

    The result is real ``(B, 1, 1, 1)``: a reference image in the generator's units gets a scale near 1.
    """
    return measurement_scale(image)


def ratio_tensor(ratio: float | torch.Tensor, batch: int, device: torch.device | str) -> torch.Tensor:
    """Return the sampling ratio α as a float ``(B,)`` tensor on ``device`` (from a number, a 0-d or a (B,) tensor)."""
    if isinstance(ratio, torch.Tensor):
        check_tensor("ratio", ratio, ndim=(0, 1), complex_=False)
        if not ratio.is_floating_point():
            raise TypeError(f"ratio must be a floating-point tensor, got {ratio.dtype}")
        ratio = ratio.to(device=device, dtype=torch.float32).reshape(-1)
    elif isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
        ratio = torch.tensor([float(ratio)], device=device)
    else:
        raise TypeError(f"ratio must be a number or a (B,) tensor in (0, 1], got {type(ratio).__name__}")
    if not compiling() and not bool(((ratio > 0) & (ratio <= 1)).all()):
        raise ValueError(f"ratio must be in (0, 1], got {ratio.tolist()}")
    if ratio.shape[0] == 1:
        return ratio.expand(batch)
    if ratio.shape[0] != batch:
        raise ValueError(f"ratio must have {batch} entries (one per kspace sample) or one, got {ratio.shape[0]}")
    return ratio


def check_values(batch: dict) -> None:
    """Run the value checks of :meth:`ReconstructionModel.prepare` on a batch dict, outside any compiled region.

    Every floating-point or complex tensor must be finite and ``"ratio"``, if present, in (0, 1]. Under
    ``torch.compile`` the models skip these checks (they would break the graph); the trainer calls this instead.
    """
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex()):
            check_tensor(f"batch[{key!r}]", value)
    if batch.get("ratio") is not None:
        ratio_tensor(batch["ratio"], batch["ratio"].reshape(-1).shape[0], batch["ratio"].device)


def check_training_batch(batch: dict, *, needs: tuple[str, ...] = ()) -> torch.Tensor:
    """Check a training batch and return its ``"target"``: the checks every model's ``training_loss`` shares.

    ``batch`` must hold ``"kspace"``, ``"mask"``, ``"target"`` and every key of ``needs`` (e.g. ``("ratio",)``);
    ``"target"`` must be a finite complex ``(B, 1, H, W)`` image, the shape of the model's output for a ``(B, C, H,
    W)`` ``"kspace"``. The other inputs are checked by :meth:`ReconstructionModel.prepare` when the loss runs the
    model.
    """
    for key in ("kspace", "mask", "target", *needs):
        if key not in batch:
            raise KeyError(f"batch must contain {key!r}; got keys {sorted(batch)}")
    target = check_tensor("target", batch["target"], ndim=4, complex_=True)
    kspace = batch["kspace"]
    if isinstance(kspace, torch.Tensor) and kspace.ndim == 4:  # else prepare() names what is wrong with it
        expected = (kspace.shape[0], 1, *kspace.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(f"target must have shape {expected}, got {tuple(target.shape)}")
    return target


#: The optional keys of a batch that :func:`reconstruct` passes to a model.
OPTIONAL_INPUTS = ("ratio", "reference", "sens")


def reconstruct(model: nn.Module, batch: dict, **options: bool) -> torch.Tensor | tuple[torch.Tensor, list[dict]]:
    """Call ``model`` on a batch dict: ``kspace``, ``mask`` and every optional input the batch holds.

    ``options`` (e.g. ``return_stages=True``) are passed on.
    """
    for key in ("kspace", "mask"):
        if key not in batch:
            raise KeyError(f"batch must contain {key!r}; got keys {sorted(batch)}")
    extras = {key: batch[key] for key in OPTIONAL_INPUTS if batch.get(key) is not None}
    return model(batch["kspace"], batch["mask"], **extras, **options)
