"""Image preprocessing with PIL and numpy: decoding, eval resize/crop, train-time augmentation, normalisation.

No torchvision here (it does not import on every install): every transform is a small picklable
object, so DataLoader workers can use it, and each one returns a float32 ``CHW`` array.

Pixel values stay on the 0..255 scale until :meth:`Normalization.apply`, because the backbones disagree
on their input scale: EfficientNet-Lite wants ``(x - 127) / 128`` on raw pixels, Hugging Face models
``(x / 255 - mean) / std`` with their image processor's mean and std.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from transferkit.errors import DataError, UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The keys a preset's [preprocess] and [augment] tables may use (VisionDomain declares these).
PREPROCESS_KEYS: dict[str, str] = {
    "resolution": "side in pixels of the square image the network sees (default: the backbone's, 224)",
    "crop_pct": "eval: resize the shorter side to resolution / crop_pct, then center-crop (default 0.875)",
    "resize": "eval: shorter side before the center crop, in pixels (overrides crop_pct)",
    "interpolation": "'bilinear' (default) or 'bicubic'",
    "resize_mode": "how a non-square image becomes square: 'crop' (default: shorter side, then center crop), "
    "'pad' (whole image, letterboxed with the mean colour) or 'stretch' (whole image, aspect not kept)",
    "grayscale": "convert every image to grey (replicated to 3 channels): for X-ray or grey line-scan cameras",
}
AUGMENT_KEYS: dict[str, str] = {
    "random_resized_crop": "[min_scale, max_scale] of the image area a random crop keeps, e.g. [0.08, 1.0]; "
    "false: resize and center-crop as at eval",
    "ratio": "[min, max] aspect ratio of the random crop (default [0.75, 1.333])",
    "hflip": "probability of a horizontal flip (true = 0.5)",
    "vflip": "probability of a vertical flip (true = 0.5); off by default, for top-down imagery",
    "rot90": "rotate by a random multiple of 90 degrees (true/false): parts and tiles with no canonical orientation",
    "rotation": "maximum angle of a random rotation, in degrees",
    "brightness": "colour jitter: brightness factor drawn from [1 - v, 1 + v]",
    "contrast": "colour jitter: contrast factor drawn from [1 - v, 1 + v]",
    "saturation": "colour jitter: saturation factor drawn from [1 - v, 1 + v]",
}

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@dataclass(frozen=True)
class Normalization:
    """Per-channel ``(pixel - mean) / std`` with ``mean`` and ``std`` on the 0..255 scale.

    Example:
        >>> Normalization.efficientnet().apply(np.full((3, 1, 1), 127.0, np.float32)).ravel().tolist()
        [0.0, 0.0, 0.0]
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def efficientnet(cls) -> "Normalization":
        """EfficientNet-Lite's TFLite convention: ``(x - 127) / 128`` on raw pixels."""
        return cls((127.0, 127.0, 127.0), (128.0, 128.0, 128.0))

    @classmethod
    def from_unit(cls, mean: Any, std: Any) -> "Normalization":
        """From mean/std on the 0..1 scale (torchvision and Hugging Face image processors use it)."""
        mean, std = [float(m) for m in mean], [float(s) for s in std]
        if len(mean) == 1:
            mean, std = mean * 3, std * 3
        return cls(tuple(255.0 * m for m in mean), tuple(255.0 * s for s in std))  # type: ignore[arg-type]

    @classmethod
    def imagenet(cls) -> "Normalization":
        return cls.from_unit(IMAGENET_MEAN, IMAGENET_STD)

    @classmethod
    def from_processor_config(cls, folder: Path) -> "Normalization":
        """The mean/std of a Hugging Face folder's ``preprocessor_config.json``; ImageNet's when absent."""
        path = Path(folder) / "preprocessor_config.json"
        if not path.is_file():
            return cls.imagenet()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls.imagenet()
        if not data.get("do_normalize", True):
            return cls((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))
        if "image_mean" in data and "image_std" in data:
            return cls.from_unit(data["image_mean"], data["image_std"])
        return cls.imagenet()

    def as_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Normalization":
        return cls(tuple(data["mean"]), tuple(data["std"]))  # type: ignore[arg-type]

    def apply(self, chw: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.mean, np.float32).reshape(3, 1, 1)
        std = np.asarray(self.std, np.float32).reshape(3, 1, 1)
        return ((chw - mean) / std).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- decoding
def to_rgb(image: Image.Image, *, grayscale: bool = False) -> Image.Image:
    """Any PIL mode to 8-bit RGB: grey is replicated, transparency is composited on white, 16-bit is scaled.

    Example:
        >>> to_rgb(Image.new("L", (4, 4), 200)).getpixel((0, 0))
        (200, 200, 200)
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        # Pillow clips 16-bit to 8-bit on convert("L"); scale instead so that 16-bit scans keep contrast.
        array = np.asarray(image, dtype=np.float32) / 256.0
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
    elif image.mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float32)
        lo, hi = float(array.min()), float(array.max())
        array = (array - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(array)
        image = Image.fromarray(array.astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if grayscale:
        return image.convert("L").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def load_image(item: Any, *, draft_size: int | None = None, grayscale: bool = False) -> Image.Image:
    """Open ``item`` (a path, a PIL image, or an ``HxW``/``HxWxC`` uint8 array) as an RGB PIL image.

    EXIF orientation is applied (phone and camera-trap photos are often stored sideways).
    ``draft_size`` lets the JPEG decoder reduce large photos by 2/4/8 while keeping at least that many
    pixels on each side: decoding a 12-megapixel photo at 1/8 scale is several times faster.

    Example:
        >>> load_image(np.zeros((8, 6), np.uint8)).size
        (6, 8)
    """
    if isinstance(item, Image.Image):
        return to_rgb(ImageOps.exif_transpose(item) or item, grayscale=grayscale)
    if isinstance(item, np.ndarray):
        array = item
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.moveaxis(array, 0, -1)  # CHW -> HWC
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.dtype != np.uint8:
            array = np.asarray(array, np.float32)
            if array.max() <= 1.0:  # 0..1 floats
                array = array * 255.0
            array = np.clip(array, 0, 255).astype(np.uint8)
        return to_rgb(Image.fromarray(array), grayscale=grayscale)
    from transferkit.datasets.images import open_image

    path = Path(item)
    try:
        # open_image checks the declared size against the pixel cap before anything is decoded.
        with open_image(path) as image:
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            image = ImageOps.exif_transpose(image) or image
            return to_rgb(image, grayscale=grayscale)
    except FileNotFoundError:
        raise DataError("image file not found", file=path, fix="check the path; was the file moved?") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(
            f"cannot decode the image: {err}", file=path, fix="remove or replace the file, then read the data again"
        ) from None


# --------------------------------------------------------------------------- settings
def _range(value: Any, key: str, source: str, *, lo: float, hi: float) -> tuple[float, float] | None:
    if value in (None, False):
        return None
    if value is True:
        return None
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        raise UsageError(f"expected [min, max], got {value!r}", file=source, field=key, fix="e.g. [0.08, 1.0]")
    a, b = float(value[0]), float(value[1])
    if not (lo <= a <= b <= hi):
        raise UsageError(
            f"range [{a}, {b}] is out of bounds", file=source, field=key, fix=f"use {lo} <= min <= max <= {hi}"
        )
    return a, b


def _prob(value: Any, key: str, source: str) -> float:
    if value is True:
        return 0.5
    if value in (None, False):
        return 0.0
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise UsageError(f"expected a probability or true/false, got {value!r}", file=source, field=key,
                         fix="use a number between 0 and 1, or true (0.5)")
    return float(value)


def _nonneg(value: Any, key: str, source: str, hi: float) -> float:
    if value in (None, False):
        return 0.0
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= hi:
        raise UsageError(f"expected a number in [0, {hi}], got {value!r}", file=source, field=key,
                         fix=f"use a number between 0 and {hi}; 0 disables it")
    return float(value)


@dataclass(frozen=True)
class PreprocessSettings:
    """The resolved ``[preprocess]`` table.

    Example:
        >>> PreprocessSettings.parse({"resolution": 224}).resize
        256
    """

    resolution: int = 224
    resize: int = 256
    interpolation: str = "bilinear"
    grayscale: bool = False
    resize_mode: str = "crop"

    @classmethod
    def parse(cls, table: dict[str, Any], *, default_resolution: int = 224,
              source: str = "preset") -> "PreprocessSettings":
        resolution = table.get("resolution", default_resolution)
        if not isinstance(resolution, int) or isinstance(resolution, bool) or not 16 <= resolution <= 4096:
            raise UsageError(f"expected an integer number of pixels, got {resolution!r}", file=source,
                             field="preprocess.resolution", fix="e.g. 224")
        crop_pct = table.get("crop_pct", 0.875)
        if not isinstance(crop_pct, (int, float)) or not 0.2 <= crop_pct <= 1.0:
            raise UsageError(f"expected a fraction in [0.2, 1], got {crop_pct!r}", file=source,
                             field="preprocess.crop_pct", fix="e.g. 0.875 (1.0: no border cropped)")
        resize = table.get("resize", int(math.floor(resolution / crop_pct)))
        if not isinstance(resize, int) or resize < resolution:
            raise UsageError(f"expected an integer >= resolution ({resolution}), got {resize!r}", file=source,
                             field="preprocess.resize", fix=f"e.g. {int(resolution / 0.875)}")
        interpolation = table.get("interpolation", "bilinear")
        if interpolation not in _RESAMPLE:
            raise UsageError(f"unknown interpolation {interpolation!r}", file=source,
                             field="preprocess.interpolation", fix="use 'bilinear' or 'bicubic'")
        resize_mode = table.get("resize_mode", "crop")
        if resize_mode not in ("crop", "pad", "stretch"):
            raise UsageError(f"unknown resize_mode {resize_mode!r}", file=source, field="preprocess.resize_mode",
                             fix="use 'crop', 'pad' or 'stretch'")
        return cls(int(resolution), int(resize), interpolation, bool(table.get("grayscale", False)), resize_mode)


@dataclass(frozen=True)
class AugmentSettings:
    """The resolved ``[augment]`` table; every field at its default means no random transform.

    Example:
        >>> AugmentSettings.parse({"hflip": True}).hflip
        0.5
        >>> AugmentSettings.parse({}).is_random
        False
    """

    crop_scale: tuple[float, float] | None = None
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.0
    vflip: float = 0.0
    rot90: bool = False
    rotation: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    @classmethod
    def parse(cls, table: dict[str, Any], *, source: str = "preset") -> "AugmentSettings":
        crop = table.get("random_resized_crop")
        if crop is True:
            crop = [0.08, 1.0]
        return cls(
            crop_scale=_range(crop, "augment.random_resized_crop", source, lo=0.01, hi=1.0),
            ratio=_range(table.get("ratio"), "augment.ratio", source, lo=0.1, hi=10.0) or (3 / 4, 4 / 3),
            hflip=_prob(table.get("hflip"), "augment.hflip", source),
            vflip=_prob(table.get("vflip"), "augment.vflip", source),
            rot90=bool(table.get("rot90", False)),
            rotation=_nonneg(table.get("rotation"), "augment.rotation", source, 180),
            brightness=_nonneg(table.get("brightness"), "augment.brightness", source, 1),
            contrast=_nonneg(table.get("contrast"), "augment.contrast", source, 1),
            saturation=_nonneg(table.get("saturation"), "augment.saturation", source, 1),
        )

    @property
    def is_random(self) -> bool:
        """Whether these settings draw random numbers (if not, train features can be cached)."""
        return bool(self.crop_scale or self.hflip or self.vflip or self.rot90 or self.rotation
                    or self.brightness or self.contrast or self.saturation)


# --------------------------------------------------------------------------- transforms
def resize_shorter(image: Image.Image, size: int, resample: int) -> Image.Image:
    """Resize so that the shorter side is ``size``, keeping the aspect ratio."""
    w, h = image.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return image if new == (w, h) else image.resize(new, resample)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def fit_square(image: Image.Image, settings: PreprocessSettings, fill: tuple[int, ...]) -> Image.Image:
    """Make the deterministic ``resolution`` x ``resolution`` view of ``image`` that ``resize_mode`` asks for.

    Example:
        >>> s = PreprocessSettings.parse({"resolution": 16, "resize_mode": "pad"})
        >>> fit_square(Image.new("RGB", (32, 16)), s, (0, 0, 0)).size
        (16, 16)
    """
    resample = _RESAMPLE[settings.interpolation]
    side = settings.resolution
    if settings.resize_mode == "stretch":
        return image.resize((side, side), resample)
    if settings.resize_mode == "pad":
        w, h = image.size
        scale = side / max(w, h)
        inner = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
        canvas = Image.new("RGB", (side, side), fill)
        canvas.paste(inner, ((side - inner.width) // 2, (side - inner.height) // 2))
        return canvas
    return center_crop(resize_shorter(image, settings.resize, resample), side)


def _mean_colour(norm: "Normalization") -> tuple[int, ...]:
    # Padding and rotation corners get the mean colour: after normalisation they are ~0, not a black frame.
    return tuple(int(round(m)) for m in norm.mean)


def to_chw(image: Image.Image) -> np.ndarray:
    """RGB PIL image -> float32 ``CHW`` array on the 0..255 scale."""
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1).copy()


@dataclass
class EvalTransform:
    """Deterministic: square view per ``resize_mode`` (default: resize the shorter side, center-crop), then
    normalise. Used for validation, prediction and the feature cache.

    Example:
        >>> t = EvalTransform(PreprocessSettings.parse({"resolution": 32}), Normalization.imagenet())
        >>> t(Image.new("RGB", (50, 40))).shape
        (3, 32, 32)
    """

    settings: PreprocessSettings
    norm: Normalization

    def __call__(self, item: Any) -> np.ndarray:
        s = self.settings
        image = load_image(item, draft_size=s.resize, grayscale=s.grayscale)
        return self.norm.apply(to_chw(fit_square(image, s, _mean_colour(self.norm))))


@dataclass
class TrainTransform:
    """Random augmentation for training, then normalisation.

    ``rng`` defaults to the ``random`` module, which torch seeds in each DataLoader worker and Lightning's
    ``seed_everything`` seeds in the main process; tests pass their own ``random.Random``.
    """

    settings: PreprocessSettings
    augment: AugmentSettings
    norm: Normalization
    rng: Any = field(default=None, repr=False)

    def _random_crop_box(self, w: int, h: int) -> tuple[int, int, int, int]:
        # torchvision's RandomResizedCrop: 10 tries at a random area and aspect ratio, else the center.
        rng = self.rng or random
        scale, ratio = self.augment.crop_scale, self.augment.ratio
        assert scale is not None
        area = w * h
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            cw, ch = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
                return left, top, left + cw, top + ch
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return left, top, left + side, top + side

    def __call__(self, item: Any) -> np.ndarray:
        rng = self.rng or random
        s, a = self.settings, self.augment
        resample = _RESAMPLE[s.interpolation]
        # Keep at least twice the output size when the JPEG decoder is allowed to shrink a large photo,
        # so that random crops still have real detail to zoom into.
        image = load_image(item, draft_size=2 * s.resize, grayscale=s.grayscale)
        if a.crop_scale:
            box = self._random_crop_box(*image.size)
            image = image.resize((s.resolution, s.resolution), resample, box=box)
        else:
            image = fit_square(image, s, _mean_colour(self.norm))
        if a.hflip and rng.random() < a.hflip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if a.vflip and rng.random() < a.vflip:
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        if a.rot90:
            turns = rng.randint(0, 3)
            if turns:
                image = image.transpose([None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                         Image.Transpose.ROTATE_270][turns])
        if a.rotation:
            image = image.rotate(rng.uniform(-a.rotation, a.rotation), resample=Image.Resampling.BILINEAR,
                                 fillcolor=_mean_colour(self.norm))
        for amount, enhancer in ((a.brightness, ImageEnhance.Brightness), (a.contrast, ImageEnhance.Contrast),
                                 (a.saturation, ImageEnhance.Color)):
            if amount:
                image = enhancer(image).enhance(rng.uniform(max(0.0, 1 - amount), 1 + amount))
        return self.norm.apply(to_chw(image))
