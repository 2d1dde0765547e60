"""The ``[preprocess]`` and ``[augment]`` keys of medical presets, parsed and checked early.

Plain Python (no torch, no MONAI), so that ``MedicalDomain.validate_preset`` and the listing commands stay
cheap. Every value is checked when the preset is used, with an error naming the preset file and the key,
the way MONAI validates its inputs before a long run starts rather than in the middle of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transferkit.errors import UsageError

PREPROCESS_KEYS: dict[str, str] = {
    "spatial_dims": "2 (images) or 3 (volumes); default: what the backbone takes",
    "image_size": "side (or [h, w] / [d, h, w]) the network sees; default: the backbone's (224 for 2D "
    "ImageNet backbones, 96 for 3D MONAI networks)",
    "resize_mode": "'resize' (interpolate to image_size, default) or 'pad_crop' (keep the scale: pad or "
    "center-crop to image_size)",
    "interpolation": "'bilinear' (default; 'trilinear' for 3D), 'bicubic', 'area' or 'nearest'",
    "spacing": "3D: resample to this voxel spacing in mm, e.g. [1.5, 1.5, 2.0], before resizing (needs files "
    "with an affine: NIfTI or DICOM series)",
    "orientation": "3D: reorient volumes read from files to these axis codes, e.g. 'RAS'",
    "intensity": "'auto' (uint8 images: /255; others: percentile scaling), 'range' (intensity_range, e.g. a "
    "CT window in HU), 'percentile' (percentiles), 'zscore' (mean 0, std 1 over non-zero voxels), 'none'",
    "intensity_range": "[low, high] mapped to 0..1 and clipped: a CT window in HU, e.g. [-1000, 400] for lung",
    "percentiles": "[low, high] percentiles mapped to 0..1 (default [0.5, 99.5]): X-ray, MR, 16-bit images",
    "channels": "'auto' (default), 'grey' (average colour to one channel) or 'rgb' (replicate grey to three)",
    "feature_scales": "input sizes whose backbone features are averaged, e.g. [224, 288] (multi-scale "
    "pooling; ImageNet EfficientNet-Lite only)",
    "feature_norm": "'none' (default) or 'sqrt': signed square root of pooled features (power normalization; "
    "ImageNet EfficientNet-Lite only)",
    "cache": "'memory' (default: MONAI CacheDataset, decoded and resized once) or 'none' (decode every epoch)",
}

AUGMENT_KEYS: dict[str, str] = {
    "flip_axes": "spatial axes that may be flipped, each with probability flip_prob: [0] up-down, [1] "
    "left-right (2D); [] or absent for none. Leave out the left-right axis where anatomy has a side",
    "flip_prob": "probability of each flip (default 0.5)",
    "rotate90": "rotate by a random multiple of 90 degrees in the image plane (tiles with no orientation)",
    "rotate_degrees": "maximum angle of a small random rotation, in degrees (in-plane; all planes for 3D)",
    "zoom": "random zoom of up to this fraction in or out, e.g. 0.1 for 0.9..1.1",
    "intensity_shift": "random intensity offset of up to this fraction of the 0..1 range",
    "intensity_scale": "random intensity gain of up to this fraction, e.g. 0.1 for 0.9..1.1",
    "contrast": "random gamma in [1 - v, 1 + v] (contrast change of ultrasound, X-ray exposure)",
    "colour_jitter": "per-channel gain of up to this fraction (stain and camera colour variation); 2D colour",
    "noise_std": "standard deviation of added Gaussian noise, on the 0..1 scale",
    "prob": "probability of each random intensity / geometric transform other than flips (default 0.5)",
}

_INTENSITY = ("auto", "range", "percentile", "zscore", "none")
_RESIZE = ("resize", "pad_crop")
_INTERP = ("bilinear", "trilinear", "bicubic", "area", "nearest")
_CHANNELS = ("auto", "grey", "rgb")
_CACHE = ("memory", "none")


def _err(source: str, key: str, message: str, fix: str) -> UsageError:
    return UsageError(message, file=source, field=key, fix=fix)


def _choice(table: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, source: str) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise _err(source, key, f"{value!r} is not allowed", f"use one of: {', '.join(allowed)}")
    return str(value)


def _number(table: dict[str, Any], key: str, default: float, source: str, lo: float, hi: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool):
        value = default if not value else {"flip_prob": 0.5, "prob": 0.5}.get(key, value)
    if not isinstance(value, (int, float)) or not lo <= float(value) <= hi:
        raise _err(source, key, f"{value!r} is not a number in [{lo:g}, {hi:g}]", f"use a number in [{lo:g}, {hi:g}]")
    return float(value)


def _pair(table: dict[str, Any], key: str, source: str) -> tuple[float, float] | None:
    value = table.get(key)
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not value[0] < value[1]):
        raise _err(source, key, f"{value!r} is not a [low, high] pair with low < high", "e.g. [-1000, 400]")
    return float(value[0]), float(value[1])


def _sizes(value: Any, key: str, source: str, positive_float: bool = False) -> list[float] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    ok = isinstance(values, (list, tuple)) and 1 <= len(values) <= 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values
    )
    if not ok or (not positive_float and not all(float(v).is_integer() for v in values)):
        kind = "positive numbers" if positive_float else "positive integers"
        raise _err(source, key, f"{value!r} must be one or a list of {kind}", "e.g. 224 or [96, 96, 96]")
    return [float(v) if positive_float else int(v) for v in values]


@dataclass(frozen=True)
class PreprocessSettings:
    """The deterministic preprocessing of a preset, with defaults filled in.

    Example:
        >>> PreprocessSettings.parse({"intensity": "range", "intensity_range": [-1000, 400]}).intensity_range
        (-1000.0, 400.0)
    """

    spatial_dims: int | None = None
    image_size: list[int] | None = None
    resize_mode: str = "resize"
    interpolation: str | None = None
    spacing: list[float] | None = None
    orientation: str | None = None
    intensity: str = "auto"
    intensity_range: tuple[float, float] | None = None
    percentiles: tuple[float, float] = (0.5, 99.5)
    channels: str = "auto"
    cache: str = "memory"
    feature_scales: list[int] | None = None
    feature_norm: str = "none"

    @classmethod
    def parse(cls, table: dict[str, Any], *, source: str = "preset") -> "PreprocessSettings":
        unknown = sorted(set(table) - set(PREPROCESS_KEYS))
        if unknown:
            raise _err(source, f"preprocess.{unknown[0]}", "unknown key", f"allowed: {', '.join(sorted(PREPROCESS_KEYS))}")
        dims = table.get("spatial_dims")
        if dims not in (None, 2, 3):
            raise _err(source, "preprocess.spatial_dims", f"{dims!r} is not 2 or 3", "use 2 for images, 3 for volumes")
        intensity = _choice(table, "intensity", _INTENSITY, "auto", source)
        window = _pair(table, "intensity_range", source)
        if intensity == "range" and window is None:
            raise _err(source, "preprocess.intensity_range", "intensity = 'range' needs intensity_range",
                       "e.g. intensity_range = [-1000, 400] (a lung window in HU)")
        percentiles = _pair(table, "percentiles", source) or (0.5, 99.5)
        if not 0 <= percentiles[0] < percentiles[1] <= 100:
            raise _err(source, "preprocess.percentiles", f"{percentiles} are not percentiles", "e.g. [0.5, 99.5]")
        orientation = table.get("orientation")
        if orientation is not None and (not isinstance(orientation, str) or len(orientation) != 3
                                        or set(orientation.upper()) - set("RLAPSI")):
            raise _err(source, "preprocess.orientation", f"{orientation!r} is not an axis code", "e.g. 'RAS' or 'LPS'")
        image_size = _sizes(table.get("image_size"), "preprocess.image_size", source)
        spacing = _sizes(table.get("spacing"), "preprocess.spacing", source, positive_float=True)
        # [] turns multi-scale pooling off (a child preset undoing its parent's choice).
        scales = _sizes(table.get("feature_scales") or None, "preprocess.feature_scales", source)
        return cls(
            spatial_dims=dims,
            image_size=[int(v) for v in image_size] if image_size else None,
            resize_mode=_choice(table, "resize_mode", _RESIZE, "resize", source),
            interpolation=table.get("interpolation") and _choice(table, "interpolation", _INTERP, "bilinear", source),
            spacing=spacing,
            orientation=orientation.upper() if orientation else None,
            intensity=intensity,
            intensity_range=window,
            percentiles=percentiles,
            channels=_choice(table, "channels", _CHANNELS, "auto", source),
            cache=_choice(table, "cache", _CACHE, "memory", source),
            feature_scales=[int(v) for v in scales] if scales else None,
            feature_norm=_choice(table, "feature_norm", ("none", "sqrt"), "none", source),
        )


@dataclass(frozen=True)
class AugmentSettings:
    """Train-time augmentation of a preset. All off unless the preset turns them on.

    Example:
        >>> AugmentSettings.parse({"flip_axes": [0, 1], "rotate90": True}).is_random()
        True
        >>> AugmentSettings.parse({}).is_random()
        False
    """

    flip_axes: tuple[int, ...] = ()
    flip_prob: float = 0.5
    rotate90: bool = False
    rotate_degrees: float = 0.0
    zoom: float = 0.0
    intensity_shift: float = 0.0
    intensity_scale: float = 0.0
    contrast: float = 0.0
    colour_jitter: float = 0.0
    noise_std: float = 0.0
    prob: float = 0.5

    @classmethod
    def parse(cls, table: dict[str, Any], *, source: str = "preset") -> "AugmentSettings":
        unknown = sorted(set(table) - set(AUGMENT_KEYS))
        if unknown:
            raise _err(source, f"augment.{unknown[0]}", "unknown key", f"allowed: {', '.join(sorted(AUGMENT_KEYS))}")
        axes = table.get("flip_axes", [])
        if axes is False or axes is None:
            axes = []
        if not isinstance(axes, (list, tuple)) or not all(isinstance(a, int) and not isinstance(a, bool)
                                                          and 0 <= a <= 2 for a in axes):
            raise _err(source, "augment.flip_axes", f"{axes!r} is not a list of spatial axes",
                       "e.g. [0] (up-down), [0, 1] (both axes of a 2D tile), [] for none")
        rotate90 = table.get("rotate90", False)
        if not isinstance(rotate90, bool):
            raise _err(source, "augment.rotate90", f"{rotate90!r} is not true/false", "use true or false")
        return cls(
            flip_axes=tuple(sorted(set(axes))),
            flip_prob=_number(table, "flip_prob", 0.5, source, 0, 1),
            rotate90=rotate90,
            rotate_degrees=_number(table, "rotate_degrees", 0.0, source, 0, 180),
            zoom=_number(table, "zoom", 0.0, source, 0, 0.9),
            intensity_shift=_number(table, "intensity_shift", 0.0, source, 0, 1),
            intensity_scale=_number(table, "intensity_scale", 0.0, source, 0, 1),
            contrast=_number(table, "contrast", 0.0, source, 0, 0.9),
            colour_jitter=_number(table, "colour_jitter", 0.0, source, 0, 1),
            noise_std=_number(table, "noise_std", 0.0, source, 0, 1),
            prob=_number(table, "prob", 0.5, source, 0, 1),
        )

    def is_random(self) -> bool:
        """Whether any random transform is on (then the feature cache cannot serve)."""
        return bool(
            (self.flip_axes and self.flip_prob > 0)
            or self.rotate90
            or any(v > 0 for v in (self.rotate_degrees, self.zoom, self.intensity_shift, self.intensity_scale,
                                   self.contrast, self.colour_jitter, self.noise_std))
        )
