"""Files: atomic writes, and the one reader of weights files.

* :func:`atomic_path` / :func:`atomic_write`: a reader never sees a half-written file, and a failed write leaves the
  old one in place;
* :func:`load_weights`: every file of tensors the package reads back (the trainer's checkpoints, the committed
  weights) is read here, with ``weights_only=True``, so that no such file can run code when it is loaded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    The file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask), not the
    ``0o600`` of :func:`tempfile.mkstemp`, so a shared data folder stays readable to the group. On any error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return Path(path)


def load_weights(path: str | os.PathLike, map_location: object = "cpu") -> object:
    """Read a file written by ``torch.save`` with ``weights_only=True`` (tensors and plain values only).

    Used for the trainer's checkpoints (:func:`mrilab.train.load_checkpoint`) and the committed weights
    (:mod:`mrilab.recipes.common`); ``map_location`` is that of :func:`torch.load` (the CPU by default). Raises
    ``FileNotFoundError`` naming ``path`` when it does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)
