"""HDF5 files in fastMRI's layout, written atomically, and checked reading.

A file holds one split of one contrast (Zbontar et al., "fastMRI: An Open Dataset and Benchmarks for Accelerated
MRI", arXiv:1811.08839, and the ``fastmri`` package's ``SliceDataset``):

* ``kspace``: complex64 ``(slices, H, W)`` single-coil or ``(slices, coils, H, W)`` multi-coil, with the
  phase-encoding direction along ``W`` (the columns Cartesian masks sample);
* ``reconstruction_rss``: float32 ``(slices, H, W)``, the root-sum-of-squares of the coil images (the magnitude for
  single-coil files, which also get ``reconstruction_esc`` as a hard link to the same data);
* ``ismrmrd_header``: the ISMRMRD XML header with the encoded and recon matrix sizes and the phase-encoding limits;
* attributes ``max`` (of ``reconstruction_rss``), ``norm``, ``acquisition`` (e.g. ``"AXT1"``), ``patient_id``;
* mrilab extras: ``reconstruction_clean`` (complex64 ``(slices, H, W)``, the noise-free image — coil-combined for
  multi-coil files — that synthetic data can offer and evaluation scores against), ``slice_subjects`` (the subject
  or volume each slice comes from), ``slice_positions`` (its plane within that subject), ``slice_variants``,
  ``slice_orientations`` and, for multi-coil files, ``sens_maps`` (complex64, one set ``(slices, coils, H, W)`` per
  slice, or ``(coils, H, W)`` shared by every slice).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py
import numpy as np

from ..io import atomic_path

ISMRMRD_NAMESPACE = "http://www.ismrm.org/ISMRMRD"


def ismrmrd_header(height: int, width: int) -> str:
    """Minimal ISMRMRD XML header for fully sampled ``height × width`` k-space (phase encoding along ``W``).

    fastMRI reads ``encodedSpace``/``reconSpace`` ``matrixSize`` and ``encodingLimits/kspace_encoding_step_1``
    ``center``/``maximum``; its padding ``W // 2 − center`` is then 0 and the whole width is acquired.
    """
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<ismrmrdHeader xmlns="{ISMRMRD_NAMESPACE}">\n'
        "  <encoding>\n"
        f"    <encodedSpace><matrixSize><x>{height}</x><y>{width}</y><z>1</z></matrixSize>"
        f"<fieldOfView_mm><x>240</x><y>240</y><z>1</z></fieldOfView_mm></encodedSpace>\n"
        f"    <reconSpace><matrixSize><x>{height}</x><y>{width}</y><z>1</z></matrixSize>"
        f"<fieldOfView_mm><x>240</x><y>240</y><z>1</z></fieldOfView_mm></reconSpace>\n"
        "    <encodingLimits>\n"
        f"      <kspace_encoding_step_1><minimum>0</minimum><maximum>{width - 1}</maximum>"
        f"<center>{width // 2}</center></kspace_encoding_step_1>\n"
        "      <kspace_encoding_step_2><minimum>0</minimum><maximum>0</maximum><center>0</center>"
        "</kspace_encoding_step_2>\n"
        "    </encodingLimits>\n"
        "    <trajectory>cartesian</trajectory>\n"
        "  </encoding>\n"
        "</ismrmrdHeader>\n"
    )


@contextlib.contextmanager
def atomic_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file next to ``path`` for writing; on success it replaces ``path`` in one rename.

    See :func:`mrilab.io.atomic_path`: on any error ``path`` is left as it was; the file honours the umask.
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        yield f


def create_slice_file(f: h5py.File, n_slices: int, shape: tuple[int, int], *, coils: int | None,
                      acquisition: str, attrs: dict | None = None, clean: bool = True) -> None:
    """Create the fastMRI-layout datasets of an open file, to be filled slice by slice with :func:`write_slice`.

    ``clean=True`` adds ``reconstruction_clean`` for the noise-free images (synthetic data only).
    """
    height, width = shape
    kspace_shape = (n_slices, height, width) if coils is None else (n_slices, coils, height, width)
    f.create_dataset("kspace", shape=kspace_shape, dtype=np.complex64, chunks=(1, *kspace_shape[1:]))
    f.create_dataset("reconstruction_rss", shape=(n_slices, height, width), dtype=np.float32,
                     chunks=(1, height, width))
    if coils is None:
        f["reconstruction_esc"] = f["reconstruction_rss"]
    if clean:
        f.create_dataset("reconstruction_clean", shape=(n_slices, height, width), dtype=np.complex64,
                         chunks=(1, height, width))
    f.create_dataset("ismrmrd_header", data=ismrmrd_header(height, width))
    f.attrs["acquisition"] = acquisition
    f.attrs["patient_id"] = "mrilab-mni152"
    for key, value in (attrs or {}).items():
        f.attrs[key] = value


def write_slice(f: h5py.File, index: int, kspace: np.ndarray, rss_image: np.ndarray,
                clean: np.ndarray | None = None) -> None:
    """Store one slice's k-space, its root-sum-of-squares image and (synthetic data) its noise-free image."""
    f["kspace"][index] = kspace
    f["reconstruction_rss"][index] = rss_image
    if clean is not None:
        f["reconstruction_clean"][index] = clean


def finish_slice_file(f: h5py.File) -> None:
    """Set the volume attributes fastMRI expects: ``max`` and ``norm`` of ``reconstruction_rss``."""
    rss_volume = f["reconstruction_rss"][()]
    f.attrs["max"] = float(rss_volume.max()) if rss_volume.size else 0.0
    f.attrs["norm"] = float(np.linalg.norm(rss_volume))


def require_key(f: h5py.File, key: str) -> h5py.Dataset:
    """``f[key]``, or a KeyError that names the key and the file."""
    if key not in f:
        raise KeyError(f"HDF5 file {f.filename} has no dataset {key!r} (it has {sorted(f.keys())})")
    return f[key]


def open_slice_file(path: str | os.PathLike, *, required: Iterable[str] = ("kspace",)) -> h5py.File:
    """Open ``path`` read-only and check it holds the ``required`` datasets."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HDF5 file {path} does not exist")
    f = h5py.File(path, "r")
    try:
        for key in required:
            require_key(f, key)
    except KeyError:
        f.close()
        raise
    return f


def write_slice_file(path: str | os.PathLike, kspace: np.ndarray, *, acquisition: str, attrs: dict | None = None,
                     datasets: dict[str, np.ndarray] | None = None) -> Path:
    """Write a whole file at once: ``kspace`` ``(slices[, coils], H, W)``, its RSS reconstruction, header, extras."""
    import torch

    from ..coils import rss
    from ..ops import ifft2c

    if kspace.ndim not in (3, 4):
        raise ValueError(f"kspace must be (slices, H, W) or (slices, coils, H, W), got shape {kspace.shape}")
    coils = None if kspace.ndim == 3 else kspace.shape[1]
    with atomic_h5(path) as f:
        create_slice_file(f, kspace.shape[0], kspace.shape[-2:], coils=coils, acquisition=acquisition, attrs=attrs,
                          clean=False)
        for index, slice_kspace in enumerate(kspace):
            images = ifft2c(torch.from_numpy(np.ascontiguousarray(slice_kspace, dtype=np.complex64)))
            rss_image = images.abs() if coils is None else rss(images, dim=0)
            write_slice(f, index, slice_kspace, rss_image.numpy())
        for key, value in (datasets or {}).items():
            f.create_dataset(key, data=value)
        finish_slice_file(f)
    return Path(path)
