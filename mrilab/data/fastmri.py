"""Read fastMRI files and convert them into the book's layout (one file per split and contrast).

fastMRI volumes (Zbontar et al., arXiv:1811.08839) hold ``kspace`` ``(slices, H, W)`` (single-coil) or
``(slices, coils, H, W)`` (multi-coil) with readout along ``H`` and phase encoding along ``W``, an ``ismrmrd_header``
XML string whose ``reconSpace/matrixSize`` gives the reconstruction size (320 × 320), ``reconstruction_rss`` /
``reconstruction_esc`` and the attributes ``max`` and ``acquisition``.

Conversion per volume: coil images ``F^H y`` are centre-cropped to the recon size (this removes the readout
oversampling, as fastMRI's own reconstructions do); multi-coil data are optionally SVD-compressed to a fixed number
of virtual coils (:func:`mrilab.coils.coil_compress`), their sensitivities estimated from the fully sampled low
frequencies (:func:`mrilab.coils.estimate_sensitivities`: ``S_c = x_c^low / rss(x^low)``, the self-calibration of
SENSE, Pruessmann et al. 1999) and combined to the complex image ``x = S^H F^H y``; every volume is scaled so that its
largest magnitude is 1. The single-coil file stores ``fft2c(x)``; the multi-coil file stores the cropped coil k-space
and the per-slice ``sens_maps``. Both store ``slice_subjects`` (the name of each slice's volume file) and
``slice_positions`` (the slice's index in its volume): a slice is known by its volume and its place in it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

import numpy as np
import torch

from ..coils import coil_compress, estimate_sensitivities
from ..ops import fft2c, ifft2c
from .build import check_split, split_directory
from .hdf5 import ISMRMRD_NAMESPACE, open_slice_file, require_key, write_slice_file

#: fastMRI ``acquisition`` attribute → the book's contrast name.
ACQUISITION_CONTRASTS = {
    "AXT1": "T1w", "AXT1PRE": "T1w", "AXT1POST": "T1wPost", "AXT2": "T2w", "AXFLAIR": "FLAIR", "AXPD": "PDw",
    "CORPD_FBK": "PDw", "CORPDFS_FBK": "PDwFS",
}


def recon_size(header_xml: str | bytes) -> tuple[int, int]:
    """``(x, y)`` of ``encoding/reconSpace/matrixSize`` in an ISMRMRD header."""
    root = ElementTree.fromstring(header_xml)
    ns = {"ismrmrd": ISMRMRD_NAMESPACE}
    size = root.find("ismrmrd:encoding/ismrmrd:reconSpace/ismrmrd:matrixSize", ns)
    if size is None:
        raise KeyError("ismrmrd_header has no encoding/reconSpace/matrixSize")
    return int(size.find("ismrmrd:x", ns).text), int(size.find("ismrmrd:y", ns).text)


def read_fastmri_volume(path: str | os.PathLike) -> dict:
    """``kspace`` (complex64 ndarray), ``acquisition``, ``recon_size`` and ``max`` of one fastMRI file."""
    with open_slice_file(path, required=("kspace", "ismrmrd_header")) as f:
        kspace = np.asarray(f["kspace"][()], dtype=np.complex64)
        if kspace.ndim not in (3, 4):
            raise ValueError(f"{path}: kspace must be (slices, H, W) or (slices, coils, H, W), "
                             f"got shape {kspace.shape}")
        header = require_key(f, "ismrmrd_header")[()]
        return {"kspace": kspace, "acquisition": f.attrs.get("acquisition"), "recon_size": recon_size(header),
                "max": f.attrs.get("max")}


def convert_fastmri(files: Iterable[str | os.PathLike], out_dir: str | os.PathLike, split: str, *,
                    contrast: str | None = None, coils: int | None = None, calib: int = 24) -> list[Path]:
    """Convert fastMRI volumes of one contrast into the book's layout.

    Writes ``{out_dir}/singlecoil_{split}/{contrast}.h5`` and, for multi-coil input,
    ``{out_dir}/multicoil_{split}/{contrast}_mc{C}.h5``.

    ``contrast`` defaults to the volumes' ``acquisition`` attribute mapped by :data:`ACQUISITION_CONTRASTS`.
    Multi-coil volumes with different coil counts need ``coils`` (the number of virtual coils to compress to).
    Returns the written paths.
    """
    check_split(split)
    files = [Path(p) for p in files]
    if not files:
        raise ValueError("files must list at least one fastMRI .h5 file")
    single, multi, sens_maps, positions, names = [], [], [], [], []
    for path in files:
        volume = read_fastmri_volume(path)
        volume_contrast = contrast or _contrast_of(volume["acquisition"], path)
        if contrast is None:
            contrast = volume_contrast
        elif volume_contrast != contrast:
            raise ValueError(f"{path} holds {volume_contrast}, but the other files hold {contrast}; convert one "
                             "contrast at a time")
        image, coil_images, sens = _combine(volume["kspace"], volume["recon_size"], coils, calib, path)
        scale = 1.0 / max(float(image.abs().max()), 1e-12)
        single.append(fft2c(image * scale))
        if coil_images is not None:
            multi.append(fft2c(coil_images * scale))
            sens_maps.append(sens)
        positions.append(np.arange(image.shape[0], dtype=np.int32))
        names += [path.name] * image.shape[0]
    _check_same(single, "slice size", lambda k: tuple(k.shape[-2:]), files)
    acquisition = next((a for a, c in ACQUISITION_CONTRASTS.items() if c == contrast), contrast)
    extras = {"slice_positions": np.concatenate(positions), "slice_subjects": np.array(names, dtype="S")}
    attrs = {"contrast": contrast, "source": "fastMRI"}
    single_path = split_directory(out_dir, split) / f"{contrast}.h5"
    written = [write_slice_file(single_path, torch.cat(single).numpy(), acquisition=acquisition, attrs=attrs,
                                datasets=extras)]
    if multi:
        _check_same(multi, "coil count (give coils=... to compress)", lambda k: k.shape[1], files)
        n_coils = multi[0].shape[1]
        multi_path = split_directory(out_dir, split, multicoil=True) / f"{contrast}_mc{n_coils}.h5"
        written.append(write_slice_file(multi_path, torch.cat(multi).numpy(),
                                        acquisition=acquisition, attrs=attrs,
                                        datasets={**extras, "sens_maps": torch.cat(sens_maps).numpy()}))
    return written


def _contrast_of(acquisition: str | bytes | None, path: Path) -> str:
    if acquisition is None:
        raise KeyError(f"{path} has no 'acquisition' attribute; give contrast=... explicitly")
    acquisition = acquisition.decode() if isinstance(acquisition, bytes) else str(acquisition)
    return ACQUISITION_CONTRASTS.get(acquisition, acquisition)


def _combine(kspace: np.ndarray, size: tuple[int, int], coils: int | None, calib: int,
             path: Path) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Cropped complex image ``(S, H, W)`` and, for multi-coil data, cropped coil images and sensitivities."""
    images = _center_crop(ifft2c(torch.from_numpy(kspace)), size, path)
    if images.ndim == 3:
        return images, None, None
    if coils is not None:
        images = ifft2c(coil_compress(fft2c(images), coils, calib=min(calib, *images.shape[-2:])))
    sens = estimate_sensitivities(images, min(calib, *images.shape[-2:]))
    return (images * sens.conj()).sum(dim=1), images, sens


def _center_crop(images: torch.Tensor, size: tuple[int, int], path: Path) -> torch.Tensor:
    height, width = images.shape[-2:]
    crop_h, crop_w = min(size[0], height), min(size[1], width)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    if crop_h < 1 or crop_w < 1:
        raise ValueError(f"{path}: recon size {size} is empty")
    return images[..., top : top + crop_h, left : left + crop_w]


def _check_same(arrays: list[torch.Tensor], what: str, key: Callable[[torch.Tensor], Hashable],
                files: list[Path]) -> None:
    values = {key(a) for a in arrays}
    if len(values) > 1:
        raise ValueError(f"all files must have the same {what}; got {sorted(values)} in {[f.name for f in files]}")
