"""transferkit: transfer learning by domain.

    import transferkit as tk
    src   = tk.select("vision", preset="vision/wildlife")
    model = tk.configure(src, labels=["ants", "bees"])
    run   = tk.train(model, "data/hymenoptera", out="models/ants-bees")
    tk.load("models/ants-bees").predict(["photo.jpg"])

The public API is imported lazily: ``import transferkit`` costs no deep-learning import.
"""
from __future__ import annotations

from typing import Any

from transferkit.core.hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "select": "transferkit.core.select",
    "Selection": "transferkit.core.select",
    "configure": "transferkit.core.configure",
    "train": "transferkit.core.train",
    "fit": "transferkit.core.train",
    "TrainResult": "transferkit.core.train",
    "evaluate": "transferkit.core.evaluate",
    "predict": "transferkit.core.evaluate",
    "load": "transferkit.core.artifact",
    "read_data": "transferkit.core.train",
    "get_registry": "transferkit.core.registry",
}

__all__ = ["hookimpl", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return getattr(module, name)
    raise AttributeError(f"module 'transferkit' has no attribute {name!r}")
