"""The ``[preprocess]`` and ``[augment]`` keys of medical presets, parsed and checked early.

Plain Python (no torch, no MONAI), so that ``MedicalDomain.validate_preset`` and the listing commands stay
cheap. Every value is checked when the preset is used, with an error naming the preset file and the key,
the way MONAI validates its inputs before a long run starts rather than in the middle of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from transferkit.core.augment_spec import Table, augment_model, check_table, option, refuse, table_keys

def _percent(value: list[float] | None) -> list[float] | None:
    if value is not None and not 0 <= value[0] < value[1] <= 100:
        raise ValueError("percentiles are between 0 and 100")
    return value


def _sizes(kind: type) -> Any:
    """One positive number (every axis) or a list of one to three; integers for sizes, numbers for spacing."""
    number = Annotated[kind, Field(gt=0)]
    # The length bounds sit on the list itself: on the union they would also be applied to None, so that
    # ``[]`` (turned into None by _as_list) would be refused instead of turning the option off.
    return Annotated[Annotated[list[number], Field(min_length=1, max_length=3)] | None, BeforeValidator(_as_list)]


def _as_list(value: Any) -> Any:
    if isinstance(value, list) and not value:
        return None  # [] turns it off (a child preset undoing its parent's choice)
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _pair() -> Any:
    return Annotated[list[float] | None, Field(min_length=2, max_length=2), AfterValidator(_increasing)]


def _increasing(value: list[float] | None) -> list[float] | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError("low must be below high")
    return value


def _axis_code(value: str | None) -> str | None:
    if value is not None and (len(value) != 3 or set(value.upper()) - set("RLAPSI")):
        raise ValueError("not an axis code of three of R/L, A/P, S/I")
    return value.upper() if value else value


class MedicalPreprocess(Table):
    """A medical preset's ``[preprocess]`` table."""

    spatial_dims: Literal[2, 3] | None = option(None, "2 (images) or 3 (volumes); default: what the backbone takes",
                                                 "2 for images, 3 for volumes")
    image_size: _sizes(int) = option(None, "side (or [h, w] / [d, h, w]) the network sees; default: the backbone's "
                                     "(224 for 2D ImageNet backbones, 96 for 3D MONAI networks)",
                                     "one or a list of positive integers, e.g. 224 or [96, 96, 96]")
    resize_mode: Literal["resize", "pad_crop"] = option(
        "resize", "'resize' (interpolate to image_size, default) or 'pad_crop' (keep the scale: pad or center-crop "
        "to image_size)", "'resize' or 'pad_crop'")
    interpolation: Literal["bilinear", "trilinear", "bicubic", "area", "nearest"] | None = option(
        None, "'bilinear' (default; 'trilinear' for 3D), 'bicubic', 'area' or 'nearest'",
        "'bilinear', 'trilinear', 'bicubic', 'area' or 'nearest'")
    spacing: _sizes(float) = option(None, "3D: resample to this voxel spacing in mm, e.g. [1.5, 1.5, 2.0], before "
                                    "resizing (needs files with an affine: NIfTI or DICOM series)",
                                    "one or a list of positive numbers, e.g. [1.5, 1.5, 2.0]")
    orientation: Annotated[str | None, AfterValidator(_axis_code)] = option(
        None, "3D: reorient volumes read from files to these axis codes, e.g. 'RAS'", "an axis code, e.g. 'RAS' or 'LPS'")
    intensity: Literal["auto", "range", "percentile", "zscore", "none"] = option(
        "auto", "'auto' (uint8 images: /255; others: percentile scaling), 'range' (intensity_range, e.g. a CT window "
        "in HU), 'percentile' (percentiles), 'zscore' (mean 0, std 1 over non-zero voxels), 'none'",
        "'auto', 'range', 'percentile', 'zscore' or 'none'")
    intensity_range: _pair() = option(None, "[low, high] mapped to 0..1 and clipped: a CT window in HU, e.g. "
                                      "[-1000, 400] for lung", "a [low, high] pair with low < high, e.g. [-1000, 400]")
    percentiles: Annotated[_pair(), AfterValidator(_percent)] = option(
        None, "[low, high] percentiles mapped to 0..1 (default [0.5, 99.5]): X-ray, MR, 16-bit images",
        "[low, high] with 0 <= low < high <= 100, e.g. [0.5, 99.5]")
    channels: Literal["auto", "grey", "rgb"] = option(
        "auto", "'auto' (default), 'grey' (average colour to one channel) or 'rgb' (replicate grey to three)",
        "'auto', 'grey' or 'rgb'")
    feature_scales: _sizes(int) = option(None, "input sizes whose backbone features are averaged, e.g. [224, 288] "
                                         "(multi-scale pooling; ImageNet EfficientNet-Lite only)",
                                         "a list of positive integers, e.g. [224, 288]; [] for none")
    feature_norm: Literal["none", "sqrt"] = option(
        "none", "'none' (default) or 'sqrt': signed square root of pooled features (power normalization; ImageNet "
        "EfficientNet-Lite only)", "'none' or 'sqrt'")
    cache: Literal["memory", "none"] = option(
        "memory", "'memory' (default: MONAI CacheDataset, decoded and resized once) or 'none' (decode every epoch)",
        "'memory' or 'none'")


# The augmentations medical implements, from the shared vocabulary (one meaning per name in every domain).
MedicalAugment = augment_model("MedicalAugment", [
    "flip_axes", "flip_prob", "rotate90", "rotate_degrees", "zoom", "intensity_shift", "intensity_scale", "contrast",
    "gamma", "colour_jitter", "noise_std", "prob"])

PREPROCESS_KEYS: dict[str, str] = table_keys(MedicalPreprocess)
AUGMENT_KEYS: dict[str, str] = table_keys(MedicalAugment)


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
        """Check ``table`` (:class:`MedicalPreprocess`) and fill in the defaults."""
        pre = check_table(MedicalPreprocess, table, section="preprocess", source=source)
        if pre.intensity == "range" and pre.intensity_range is None:
            raise refuse(source, "preprocess.intensity_range", "intensity = 'range' needs intensity_range",
                         "e.g. intensity_range = [-1000, 400] (a lung window in HU)")
        return cls(
            spatial_dims=pre.spatial_dims,
            image_size=list(pre.image_size) if pre.image_size else None,
            resize_mode=pre.resize_mode,
            interpolation=pre.interpolation,
            spacing=list(pre.spacing) if pre.spacing else None,
            orientation=pre.orientation,
            intensity=pre.intensity,
            intensity_range=tuple(pre.intensity_range) if pre.intensity_range else None,  # type: ignore[arg-type]
            percentiles=tuple(pre.percentiles) if pre.percentiles else (0.5, 99.5),  # type: ignore[arg-type]
            channels=pre.channels,
            cache=pre.cache,
            # [] turns multi-scale pooling off (a child preset undoing its parent's choice).
            feature_scales=list(pre.feature_scales) if pre.feature_scales else None,
            feature_norm=pre.feature_norm,
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
    gamma: float = 0.0
    colour_jitter: float = 0.0
    noise_std: float = 0.0
    prob: float = 0.5

    @classmethod
    def parse(cls, table: dict[str, Any], *, source: str = "preset") -> "AugmentSettings":
        """Check ``table`` (:data:`MedicalAugment`, the shared vocabulary) and resolve it."""
        aug = check_table(MedicalAugment, table, section="augment", source=source)
        values = aug.model_dump()
        values["flip_axes"] = tuple(values["flip_axes"])
        return cls(**values)

    def is_random(self) -> bool:
        """Whether any random transform is on (then the feature cache cannot serve)."""
        return bool(
            (self.flip_axes and self.flip_prob > 0)
            or self.rotate90
            or any(v > 0 for v in (self.rotate_degrees, self.zoom, self.intensity_shift, self.intensity_scale,
                                   self.contrast, self.gamma, self.colour_jitter, self.noise_std))
        )
