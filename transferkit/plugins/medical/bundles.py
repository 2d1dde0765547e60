"""MONAI bundles from a local folder: the network definition from the bundle config, weights from ``models/``.

A bundle folder (MONAI's model-zoo layout) looks like::

    my_bundle/
      configs/metadata.json        name, version, network_data_format (input channels and shape)
      configs/inference.json       "network_def": {"_target_": "DenseNet121", "spatial_dims": 3, ...}
      models/model.pt              the state dict (or model.safetensors, or the TorchScript model.ts)

Bundle configs are a small language: ``"$..."`` strings are Python expressions and ``_target_`` may name
any importable callable. Running them would run code from a downloaded folder, so the network definition
is read here with a restricted resolver: ``_target_`` must be a network of ``monai.networks.nets``,
``@id`` references are followed, and any expression is refused with a message. Weights are loaded with
``torch.load(weights_only=True)`` (or safetensors), never unpickled. A TorchScript ``model.ts`` is a program,
so it is refused unless the user opts in (``TRANSFERKIT_TRUST_TORCHSCRIPT=1`` or ``trust_torchscript=True``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transferkit.errors import UsageError
from transferkit.plugins.medical.models import GenericBackbone, read_state_dict, strip_prefixes

CONFIG_NAMES = ("inference", "train", "evaluate")
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
WEIGHT_NAMES = ("model.safetensors", "model.pt", "model.pth", "model.ts")
TRUST_ENV = "TRANSFERKIT_TRUST_TORCHSCRIPT"  # the explicit opt-in for TorchScript (model.ts) bundles


def is_bundle(folder: str | Path) -> bool:
    """A folder with ``configs/`` holding a metadata or inference config and a ``models/`` folder."""
    folder = Path(folder)
    return (folder / "configs").is_dir() and (folder / "models").is_dir()


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            import yaml  # MONAI's own reader uses PyYAML for .yaml bundles

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception as err:  # noqa: BLE001
        raise UsageError(f"cannot read bundle config: {err}", file=path, fix="check the file's syntax") from None
    if not isinstance(data, dict):
        raise UsageError("bundle config is not a mapping", file=path)
    return data


def _find_network_def(folder: Path) -> tuple[dict[str, Any], Path]:
    candidates = [folder / "configs" / f"{name}{suffix}" for name in CONFIG_NAMES for suffix in CONFIG_SUFFIXES]
    candidates.append(folder / "configs" / "metadata.json")
    candidates.append(folder / "metadata.json")
    for path in candidates:
        if path.is_file():
            config = _read_config_file(path)
            if "network_def" in config:
                return config, path
    raise UsageError(
        "no 'network_def' in the bundle's configs",
        file=folder / "configs",
        fix="a MONAI bundle defines its network as 'network_def' in configs/inference.json",
    )


def _network_class(target: Any, where: str) -> type[nn.Module]:
    from monai.networks import nets

    if not isinstance(target, str):
        raise UsageError(f"_target_ must be a name, got {target!r}", file=where, field="network_def._target_")
    name = target.removeprefix("monai.networks.nets.")
    cls = getattr(nets, name, None)
    if "." in name or not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise UsageError(
            f"network '{target}' is not a network of monai.networks.nets",
            file=where,
            field="network_def._target_",
            fix="only MONAI's own networks are built from bundle configs (no code from the bundle is run)",
        )
    return cls


def resolve_references(value: Any, config: dict[str, Any], where: str, depth: int = 0) -> Any:
    """Follow ``@id`` references (``#`` separates nested keys) and refuse ``$`` expressions and ``%`` macros.

    Example:
        >>> resolve_references({"spatial_dims": "@dims"}, {"dims": 3}, "x.json")
        {'spatial_dims': 3}
    """
    if depth > 20:
        raise UsageError("bundle config references form a cycle", file=where)
    if isinstance(value, str):
        if value.startswith("$") or value.startswith("%"):
            raise UsageError(
                f"the network definition uses an expression ({value[:60]!r}); expressions are Python code and are "
                "not run",
                file=where,
                field="network_def",
                fix="write the network's arguments as plain values in network_def",
            )
        if value.startswith("@"):
            node: Any = config
            for part in value[1:].split("#"):
                if isinstance(node, list) and part.isdigit():
                    node = node[int(part)]
                elif isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    raise UsageError(f"reference {value!r} not found in the bundle config", file=where)
            return resolve_references(node, config, where, depth + 1)
        return value
    if isinstance(value, list):
        return [resolve_references(v, config, where, depth) for v in value]
    if isinstance(value, dict):
        return {k: resolve_references(v, config, where, depth) for k, v in value.items()}
    return value


def build_network(network_def: dict[str, Any], where: str = "bundle") -> nn.Module:
    """Instantiate a resolved ``network_def`` (a ``monai.networks.nets`` class and plain arguments)."""
    if not isinstance(network_def, dict) or "_target_" not in network_def:
        raise UsageError("network_def must be a mapping with '_target_'", file=where, field="network_def")
    cls = _network_class(network_def["_target_"], where)
    kwargs = {k: v for k, v in network_def.items() if not k.startswith("_")}
    if network_def.get("_disabled_") or network_def.get("_mode_", "default") != "default":
        raise UsageError("network_def with _disabled_ or a _mode_ is not supported", file=where, field="network_def")
    kwargs.pop("pretrained", None)  # weights come from the bundle's models/ folder; never download
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise UsageError(f"cannot build {cls.__name__}: {err}", file=where, field="network_def") from None


def _input_spec(folder: Path, network_def: dict[str, Any]) -> tuple[int, int, list[int] | None]:
    """Spatial dims, input channels and input size, from metadata.json, else from the network's arguments."""
    channels = network_def.get("in_channels", network_def.get("n_input_channels"))
    dims = network_def.get("spatial_dims")
    size = None
    for meta_path in (folder / "configs" / "metadata.json", folder / "metadata.json"):
        if meta_path.is_file():
            image = (_read_config_file(meta_path).get("network_data_format", {}).get("inputs", {}).get("image", {}))
            channels = image.get("num_channels", channels)
            shape = image.get("spatial_shape")
            if isinstance(shape, list) and shape and all(isinstance(s, int) for s in shape):
                size, dims = list(shape), dims or len(shape)
            break
    return int(dims or 2), int(channels or 1), size


def trust_torchscript_default() -> bool:
    """Whether ``TRANSFERKIT_TRUST_TORCHSCRIPT`` allows TorchScript bundles (``1``, ``true`` or ``yes``)."""
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def _load_weights(folder: Path, trust_torchscript: bool) -> tuple[dict[str, torch.Tensor], Path]:
    for name in WEIGHT_NAMES:
        path = folder / "models" / name
        if not path.is_file():
            continue
        if name == "model.ts":
            # TorchScript is a program: torch.jit.load runs what the file says (PyTorch's security policy
            # treats it like untrusted code). Only an explicit decision of the user allows it.
            if not trust_torchscript:
                raise UsageError(
                    "the bundle's only weights are TorchScript, which is code and is not loaded by default",
                    file=path,
                    fix=f"use a bundle with models/model.pt or model.safetensors, or, if you trust its source, set "
                    f"{TRUST_ENV}=1 (Python: BundleBackbone.from_folder(folder, trust_torchscript=True))",
                )
            module = torch.jit.load(str(path), map_location="cpu")
            return dict(module.state_dict()), path
        return read_state_dict(path), path
    raise UsageError("no weights in the bundle", file=folder / "models",
                     fix=f"expected one of: {', '.join(WEIGHT_NAMES)}")


class BundleBackbone(GenericBackbone):
    """A MONAI bundle's network, its classifier removed, with the bundle's weights.

    Example:
        >>> bb = BundleBackbone.from_folder("models/spleen_ct_classification")  # doctest: +SKIP
    """

    def __init__(self, network_def: dict[str, Any], spatial_dims: int, in_channels: int,
                 image_size: list[int] | None = None, bundle: dict[str, Any] | None = None):
        super().__init__(build_network(network_def), spatial_dims, in_channels, image_size)
        self.network_def = network_def
        self.bundle = dict(bundle or {})

    @classmethod
    def from_folder(cls, folder: str | Path, *, trust_torchscript: bool | None = None) -> "BundleBackbone":
        """Build the bundle's network and load its weights.

        ``trust_torchscript``: allow a bundle whose only weights are ``models/model.ts`` (TorchScript runs
        code). ``None`` reads ``TRANSFERKIT_TRUST_TORCHSCRIPT``; the default refuses it.
        """
        folder = Path(folder)
        if not is_bundle(folder):
            raise UsageError("not a MONAI bundle folder", file=folder,
                             fix="a bundle has configs/ (inference.json, metadata.json) and models/ (model.pt)")
        config, where = _find_network_def(folder)
        network_def = resolve_references(config["network_def"], config, str(where))
        dims, channels, size = _input_spec(folder, network_def)
        meta: dict[str, Any] = {"folder": str(folder)}
        meta_path = folder / "configs" / "metadata.json"
        if meta_path.is_file():
            metadata = _read_config_file(meta_path)
            meta.update({k: metadata[k] for k in ("name", "version") if k in metadata})
        trust = trust_torchscript_default() if trust_torchscript is None else trust_torchscript
        state, weights = _load_weights(folder, trust)
        state = strip_prefixes(state, ("module.", "model.", "network."))
        backbone = cls(network_def, dims, channels, size, meta)
        own = backbone.net.state_dict()
        # The bundle's classifier is what transfer removes: keys that no longer exist are expected to be dropped.
        kept = {k: v for k, v in state.items() if k in own}
        missing = [k for k in own if k not in kept]
        mismatched = [k for k, v in kept.items() if tuple(v.shape) != tuple(own[k].shape)]
        if missing or mismatched:
            raise UsageError(
                f"bundle weights do not fit its network_def: missing {missing[:4]}, shape mismatch {mismatched[:4]}",
                file=weights,
                fix="check that models/ holds the weights of the network the config defines",
            )
        backbone.net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in kept.items()})
        backbone.bundle["weights"] = weights.name
        backbone.bundle["dropped"] = sorted({k.rsplit(".", 1)[0] for k in state if k not in own})
        return backbone

    def config(self) -> dict[str, Any]:
        return {"type": "monai-bundle", "network_def": self.network_def, "spatial_dims": self.spatial_dims,
                "in_channels": self.in_channels, "image_size": self.default_image_size, "bundle": self.bundle}
