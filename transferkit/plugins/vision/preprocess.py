"""Image preprocessing with PIL and numpy: decoding, eval resize/crop, train-time augmentation, normalisation.

No torchvision here (it does not import on every install): every transform is a small picklable
object, so DataLoader workers can use it, and each one returns a float32 ``CHW`` array.

Pixel values stay on the 0..255 scale until :meth:`Normalization.apply`, because the backbones disagree
on their input scale: EfficientNet-Lite wants ``(x - 127) / 128`` on raw pixels, Hugging Face models
``(x / 255 - mean) / std`` with their image processor's mean and std.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from transferkit.core.augment_spec import Table, augment_model, check_table, option, refuse, table_keys
from transferkit.core.normalization import Normalization
from transferkit.errors import DataError



class VisionPreprocess(Table):
    """A vision preset's ``[preprocess]`` table."""

    resolution: int | None = option(None, "side in pixels of the square image the network sees (default: the "
                                     "backbone's, 224)", "an integer number of pixels in [16, 4096], e.g. 224",
                                     ge=16, le=4096)
    crop_pct: float = option(0.875, "eval: resize the shorter side to resolution / crop_pct, then center-crop "
                             "(default 0.875)", "a fraction in [0.2, 1] (1.0: no border cropped)", ge=0.2, le=1.0)
    resize: int | None = option(None, "eval: shorter side before the center crop, in pixels (overrides crop_pct)",
                                "an integer >= resolution", ge=1)
    interpolation: Literal["bilinear", "bicubic"] = option("bilinear", "'bilinear' (default) or 'bicubic'",
                                                           "'bilinear' or 'bicubic'")
    resize_mode: Literal["crop", "pad", "stretch"] = option(
        "crop", "how a non-square image becomes square: 'crop' (default: shorter side, then center crop), 'pad' "
        "(whole image, letterboxed with the mean colour) or 'stretch' (whole image, aspect not kept)",
        "'crop', 'pad' or 'stretch'")
    grayscale: bool = option(False, "convert every image to grey (replicated to 3 channels): for X-ray or grey "
                             "line-scan cameras", "true or false")


# The augmentations vision implements, from the shared vocabulary (one meaning per name in every domain).
VisionAugment = augment_model("VisionAugment", ["random_resized_crop", "ratio", "hflip", "vflip", "rot90", "rotation",
                                                "brightness", "contrast", "saturation"])

# The keys a preset's [preprocess] and [augment] tables may use (VisionDomain declares these).
PREPROCESS_KEYS: dict[str, str] = table_keys(VisionPreprocess)
AUGMENT_KEYS: dict[str, str] = table_keys(VisionAugment)

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


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
        """Check ``table`` (:class:`VisionPreprocess`) and fill in the defaults."""
        pre = check_table(VisionPreprocess, table, section="preprocess", source=source)
        resolution = pre.resolution or default_resolution
        resize = pre.resize if pre.resize is not None else int(math.floor(resolution / pre.crop_pct))
        if resize < resolution:
            raise refuse(source, "preprocess.resize", f"expected an integer >= resolution ({resolution}), got {resize!r}",
                         f"e.g. {int(resolution / 0.875)}")
        return cls(int(resolution), int(resize), pre.interpolation, pre.grayscale, pre.resize_mode)


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
        """Check ``table`` (:data:`VisionAugment`, the shared vocabulary) and resolve it."""
        aug = check_table(VisionAugment, table, section="augment", source=source)
        return cls(
            crop_scale=tuple(aug.random_resized_crop) if aug.random_resized_crop else None,  # type: ignore[arg-type]
            ratio=tuple(aug.ratio) if aug.ratio else (3 / 4, 4 / 3),  # type: ignore[arg-type]
            hflip=aug.hflip, vflip=aug.vflip, rot90=aug.rot90, rotation=aug.rotation,
            brightness=aug.brightness, contrast=aug.contrast, saturation=aug.saturation,
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
