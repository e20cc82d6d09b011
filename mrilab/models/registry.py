"""Name -> model class, so that a checkpoint (model name + config + weights) rebuilds its model with one call."""

from __future__ import annotations

from torch import nn

MODELS: dict[str, type[nn.Module]] = {}


def register(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` buildable by name. The class must accept its config dict as keyword args."""
    MODELS[cls.__name__] = cls
    return cls


def build_model(name: str, config: dict | None = None) -> nn.Module:
    """Instantiate the registered model ``name`` with keyword arguments ``config``."""
    if name not in MODELS:
        raise KeyError(f"unknown model name {name!r}; registered models: {sorted(MODELS)}")
    return MODELS[name](**(config or {}))
