"""The book's data: the embedded MNI152-based brain dataset, a procedural phantom, fastMRI/IXI converters, datasets.

* :func:`build_dataset` / :data:`DATASET_PROFILES` (the dataset's size in each profile): synthesise T1w/T2w/PDw
  (single- and multi-coil) slices into HDF5 files in fastMRI's layout, cached under :func:`default_root` (see
  :mod:`mrilab.data.brain` for the physics);
* :class:`SliceDataset`, :class:`NoisyKSpace`, :func:`collate`, :func:`as_batch`: undersampled samples for training
  and evaluation, with fastMRI-style transforms (:class:`CoilCompress`, :class:`EstimateSensitivities`,
  :class:`Normalise`, :class:`Compose`; :mod:`mrilab.data.transforms`);
* :mod:`mrilab.data.real`: real MR images shipped inside wheels, the ``real`` test split of every build;
* :func:`ellipse_phantom`: a complex test image in milliseconds;
* :func:`convert_fastmri` / :func:`convert_ixi`: real data into the same layout.
"""

from .batching import as_batch, collate, to_device
from .brain import CONTRASTS, TISSUES, spin_echo_signal, synthesize_slice
from .build import (
                    DATASET_PROFILES,
                    OOD_ORIENTATIONS,
                    REAL_SPLIT,
                    SPLITS,
                    Profile,
                    build_dataset,
                    default_root,
                    ood_positions,
                    split_directory,
                    split_positions,
)
from .datasets import MASK_KINDS, MixedSlices, NoisyKSpace, SliceDataset, training_slices
from .fastmri import convert_fastmri, read_fastmri_volume
from .ixi import convert_ixi, find_ixi_subjects
from .phantom import ellipse_phantom
from .transforms import CoilCompress, Compose, EstimateSensitivities, Normalise

__all__ = [
    "CONTRASTS",
    "CoilCompress",
    "DATASET_PROFILES",
    "Compose",
    "EstimateSensitivities",
    "MASK_KINDS",
    "MixedSlices",
    "OOD_ORIENTATIONS",
    "NoisyKSpace",
    "Normalise",
    "REAL_SPLIT",
    "SPLITS",
    "TISSUES",
    "Profile",
    "SliceDataset",
    "training_slices",
    "as_batch",
    "build_dataset",
    "collate",
    "convert_fastmri",
    "convert_ixi",
    "default_root",
    "ellipse_phantom",
    "find_ixi_subjects",
    "ood_positions",
    "read_fastmri_volume",
    "spin_echo_signal",
    "split_directory",
    "split_positions",
    "synthesize_slice",
    "to_device",
]
