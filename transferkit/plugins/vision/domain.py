"""The vision domain: image folders and CSV manifests in, pretrained CNN or ViT features out.

Imported only when the domain is used (through ``DomainSpec.factory``). torch and transformers are
imported inside the methods that need them, so that validating a preset or reading data stays cheap.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.data import Examples
from transferkit.core.domain import Domain
from transferkit.core.specs import ModelSource, Preset
from transferkit.datasets.images import image_folder_splits, list_images, read_images
from transferkit.errors import ArtifactError, DataError, UsageError
from transferkit.plugins.vision.preprocess import (
    AUGMENT_KEYS,
    PREPROCESS_KEYS,
    AugmentSettings,
    EvalTransform,
    Normalization,
    PreprocessSettings,
    TrainTransform,
)

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.backbone import Backbone

BACKBONE_DIR = "backbone"  # inside an artifact: config.json of a Hugging Face backbone


class ImageDataset:
    """A map-style dataset (what ``torch.utils.data.DataLoader`` takes): ``(float CHW tensor, target)``.

    It does not subclass ``torch.utils.data.Dataset`` so that this module imports no torch; the
    DataLoader only needs ``__len__`` and ``__getitem__``. ``target`` is -1 at prediction time.

    Example:
        >>> import numpy as np
        >>> ds = ImageDataset([np.zeros((8, 8), np.uint8)], None, lambda im: np.zeros((3, 4, 4), np.float32))
        >>> ds[0][0].shape, ds[0][1]
        (torch.Size([3, 4, 4]), -1)
    """

    per_item_work = True  # each item is decoded and resized: DataLoader workers pay off (core/devices.py)

    def __init__(self, items: list[Any], targets: list[int] | None, transform: Any):
        if targets is not None and len(targets) != len(items):
            raise DataError(f"{len(items)} images but {len(targets)} targets", field="targets")
        self.items = list(items)
        self.targets = None if targets is None else [int(t) for t in targets]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        import torch

        array = self.transform(self.items[index])
        return torch.from_numpy(array), (-1 if self.targets is None else self.targets[index])


class VisionDomain(Domain):
    """Images: class folders or CSV manifests; EfficientNet-Lite, Hugging Face image models or a small CNN.

    Example:
        >>> from transferkit.core.select import get_domain  # doctest: +SKIP
        >>> get_domain("vision").splits_in("data/hymenoptera")  # doctest: +SKIP
        ['train', 'val']
    """

    preprocess_keys = PREPROCESS_KEYS
    augment_keys = AUGMENT_KEYS

    # ---------------------------------------------------------------- data
    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        """Labelled images from ``path`` (see :func:`transferkit.datasets.images.read_images`)."""
        return read_images(path, split=split, options=options)

    def splits_in(self, path: str | Path) -> list[str]:
        return image_folder_splits(path) if Path(path).is_dir() else []

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """Image files, and folders expanded to the images they hold."""
        return list(list_images(raw))

    # ---------------------------------------------------------------- models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> "Backbone":
        from transferkit.plugins.vision import models

        pooling = preset.head.pooling
        if isinstance(source, Path):
            return self._load_folder(source, pooling)
        if source.kind == "package":
            return models.EfficientNetLiteBackbone.pretrained(
                source.options.get("arch", "efficientnet-lite0"), pooling=pooling
            )
        if source.kind == "hub":
            return models.load_hf_backbone(source.location, pooling=pooling, hub=True)
        if source.kind == "local":
            return self._load_folder(Path(source.location).expanduser(), pooling)
        if source.kind == "scratch":
            return models.SmallCNNBackbone(**source.options, pooling=pooling)
        raise UsageError(
            f"model '{source.id}' has kind '{source.kind}', which the vision domain cannot load",
            field="kind",
            fix="use a package, hub, local or scratch model; see `transferkit models --domain vision`",
        )

    def _load_folder(self, folder: Path, pooling: str) -> "Backbone":
        from transferkit.plugins.vision import models

        if not folder.is_dir():
            raise UsageError("model folder not found", file=folder, fix="check the path, or use a catalog id")
        if not (folder / "config.json").is_file():
            raise UsageError(
                "not a Hugging Face image-model folder (no config.json)",
                file=folder,
                field="model",
                fix="pass a folder saved with model.save_pretrained(...), a transferkit model folder, or a catalog "
                "id from `transferkit models --domain vision`",
            )
        return models.load_hf_backbone(str(folder), pooling=pooling, hub=False)

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> "Backbone":
        """The architecture described by ``config``, randomly initialised; never downloads."""
        from transferkit.plugins.vision import models

        kind = config.get("type")
        pooling = config.get("pooling", "auto")
        if kind == "efficientnet-lite":
            return models.EfficientNetLiteBackbone(config.get("arch", "efficientnet-lite0"),
                                                   remove_last=int(config.get("remove_last", 0)), pooling=pooling)
        if kind == "small-cnn":
            return models.SmallCNNBackbone(channels=config["channels"], in_channels=config.get("in_channels", 3),
                                           seed=config.get("seed", 0), remove_last=int(config.get("remove_last", 0)),
                                           pooling=pooling)
        if kind == "hf":
            from transformers import AutoConfig

            config_dir = Path(folder) / BACKBONE_DIR
            if (config_dir / "config.json").is_file():
                from transferkit.core.safe_load import inside

                inside(folder, f"{BACKBONE_DIR}/config.json", field="backbone")  # no link out of the model folder
                hf_config = AutoConfig.from_pretrained(str(config_dir), trust_remote_code=False)
            else:  # an artifact written without the file: the config is embedded in transferkit.json too
                data = dict(config["hf_config"])
                data.pop("model_type", None)
                hf_config = AutoConfig.for_model(config["model_type"], **data)
            return models.build_hf_backbone(
                hf_config,
                pooling=pooling,
                normalization=Normalization.from_dict(config["normalization"]) if "normalization" in config else None,
                remove_last=int(config.get("remove_last", 0)),
                drop_pooler=config.get("drop_pooler"),
            )
        raise ArtifactError(
            f"unknown vision backbone type {kind!r} in the saved model",
            file=folder,
            field="backbone.type",
            fix="load it with the transferkit version that wrote it, or upgrade transferkit",
        )

    def save_backbone_files(self, backbone: "Backbone", folder: Path) -> None:
        """Hugging Face backbones: ``backbone/config.json`` (what ``AutoModel.from_config`` rebuilds)."""
        model = getattr(backbone, "model", None)
        if model is not None and hasattr(model, "config") and hasattr(model.config, "to_json_file"):
            target = Path(folder) / BACKBONE_DIR
            target.mkdir(parents=True, exist_ok=True)
            model.config.to_json_file(str(target / "config.json"))
            norm = backbone.normalization
            if norm is not None:
                # Lets other tools that read Hugging Face folders normalise inputs the same way.
                mean = [m / 255.0 for m in norm.mean]
                std = [s / 255.0 for s in norm.std]
                (target / "preprocessor_config.json").write_text(
                    json.dumps({"image_mean": mean, "image_std": std, "do_normalize": True}, indent=2) + "\n",
                    encoding="utf-8",
                )

    # ---------------------------------------------------------------- preprocessing
    def _settings(self, backbone: "Backbone", preset: Preset) -> PreprocessSettings:
        return PreprocessSettings.parse(
            preset.preprocess,
            default_resolution=int(backbone.default_resolution),
            source=preset.source or preset.id,
        )

    def dataset(self, backbone: "Backbone", items: list[Any], targets: list[int] | None, preset: Preset, *,
                train: bool) -> ImageDataset:
        settings = self._settings(backbone, preset)
        norm = backbone.normalization or Normalization.imagenet()
        augment = AugmentSettings.parse(preset.augment, source=preset.source or preset.id)
        if train and augment.is_random:
            transform: Any = TrainTransform(settings, augment, norm)
        else:
            transform = EvalTransform(settings, norm)
        return ImageDataset(items, targets, transform)

    def has_random_augmentation(self, preset: Preset) -> bool:
        return AugmentSettings.parse(preset.augment, source=preset.source or preset.id).is_random

    def describe_preprocessing(self, backbone: "Backbone", preset: Preset) -> list[str]:
        """Resize and crop, normalisation and the training-time augmentation, for the plan."""
        pre = self._settings(backbone, preset)
        side = f"{pre.resolution} x {pre.resolution}"
        resize = {"crop": f"shorter side resized to {pre.resize} px, center crop {side}",
                  "pad": f"whole image letterboxed to {side} with the mean colour",
                  "stretch": f"whole image resized to {side} (aspect not kept)"}[pre.resize_mode]
        norm = backbone.normalization or Normalization.imagenet()
        mean, std = (f"{values[0]:g}" if len(set(values)) == 1 else "[" + " ".join(f"{v:.1f}" for v in values) + "]"
                     for values in (norm.mean, norm.std))
        lines = [f"{'grey (3 channels)' if pre.grayscale else 'RGB'} images: {resize}, {pre.interpolation}",
                 f"normalised per channel on 0..255: (x - {mean}) / {std}"]
        aug = AugmentSettings.parse(preset.augment, source=preset.source or preset.id)
        parts = [f"random resized crop of {aug.crop_scale[0]:g}-{aug.crop_scale[1]:g} of the area" if aug.crop_scale
                 else "", f"horizontal flip {aug.hflip:g}" if aug.hflip else "",
                 f"vertical flip {aug.vflip:g}" if aug.vflip else "", "90-degree rotations" if aug.rot90 else "",
                 f"rotation up to {aug.rotation:g} degrees" if aug.rotation else "",
                 f"brightness {aug.brightness:g}" if aug.brightness else "",
                 f"contrast {aug.contrast:g}" if aug.contrast else "",
                 f"saturation {aug.saturation:g}" if aug.saturation else ""]
        lines.append("augmentation (training only): " + (", ".join(p for p in parts if p) or "none"))
        return lines

    def validate_preset(self, preset: Preset) -> None:
        """Refuse unknown keys (base class), then bad values, naming the file and the key."""
        super().validate_preset(preset)
        source = preset.source or preset.id
        PreprocessSettings.parse(preset.preprocess, source=source)
        AugmentSettings.parse(preset.augment, source=source)
        if preset.head.pooling == "cls" and (preset.model or "").startswith("vision/efficientnet"):
            raise UsageError("pooling 'cls' needs a transformer backbone; EfficientNet gives feature maps",
                             file=source, field="head.pooling", fix="use 'auto', 'avg' or 'max'")
