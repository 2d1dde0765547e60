"""MONAI dictionary transforms for medical images: load, check, orient, resample, scale, resize, augment.

The chain a preset builds (key ``"image"``)::

    LoadMedicald            numpy item or file (NIfTI, DICOM file or series, PNG/JPEG, .npy; MONAI's readers)
                            -> channel-first (EnsureChannelFirst),
                            checked: readable, not empty, no NaN/inf (errors name the file)
    Orientationd, Spacingd  3D files only, when the preset asks (e.g. RAS, 1.5 mm)
    intensity               uint8 /255, a CT window (ScaleIntensityRanged), percentiles, or z-score -> ~0..1
    AdaptChannelsd          grey <-> colour as the backbone needs
    [CacheBoundary]         only for sets whose resized images would not fit the cache budget
    Resized / ResizeWithPadOrCropd
    EnsureTyped             plain tensors from here on (the metadata served orientation and resampling)
    -- cached by CacheDataset up to here: decoding and resampling happen once, not every epoch --
    random augmentation     train only: flips on the axes the preset allows, 90-degree and small rotations,
                            zoom, intensity and colour jitter, noise
    Normalized              to the backbone's input scale ((x - 127) / 128 on 0..255 for EfficientNet-Lite)
    EnsureTyped             plain float32 tensor

MONAI wraps every exception a transform raises in ``RuntimeError("applying transform ...")``; the
dataset here unwraps them so that users see the :class:`~transferkit.errors.DataError` with the path.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    EnsureTyped,
    MapTransform,
    NormalizeIntensityd,
    Orientationd,
    RandAdjustContrastd,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandRotated,
    RandScaleIntensityd,
    RandScaleIntensityFixedMeand,
    RandShiftIntensityd,
    RandZoomd,
    Randomizable,
    Resized,
    ResizeWithPadOrCropd,
    ScaleIntensityRanged,
    ScaleIntensityRangePercentilesd,
    Spacingd,
)
from torch.utils.data import Dataset

from transferkit.datasets.medical import check_array, item_kind, require_item
from transferkit.errors import DataError, TransferkitError
from transferkit.plugins.medical.settings import AugmentSettings, PreprocessSettings

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.backbone import Backbone

KEY = "image"


# =========================================================================== loading
def _pil_to_supported_mode(image: Any) -> Any:
    """Palette, CMYK and alpha images to RGB, 1-bit to grey: MONAI's PILReader keeps the raw mode."""
    if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBA", "LA"):
        return image.convert("RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


def _reader_for(kind: str) -> Any:
    from monai.data import NibabelReader, NumpyReader, PILReader, PydicomReader

    if kind == "nifti":
        return NibabelReader()
    if kind == "image":
        # reverse_indexing=False keeps numpy's (row, column) order, the order MedMNIST arrays have, so that
        # a model trained on an npz sees PNGs the same way up (and 'flip axis 1' is left-right for both).
        return PILReader(converter=_pil_to_supported_mode, reverse_indexing=False)
    if kind == "dicom":
        # One 2D file (an X-ray): rows, columns as stored, like a PNG.
        return PydicomReader(swap_ij=False)
    if kind == "dicom-series":
        # A folder of slices is one volume, in the same axis order as NibabelReader (MONAI's convention).
        return PydicomReader()
    if kind == "npy":
        return NumpyReader()
    raise ValueError(kind)


def _channel_first(array: np.ndarray, spatial_dims: int, source: str) -> np.ndarray:
    """Add or move the channel axis of a raw numpy item (MedMNIST arrays have none, or a trailing RGB one)."""
    if array.ndim == spatial_dims:
        return array[None]
    if array.ndim == spatial_dims + 1:
        if array.shape[-1] in (1, 3, 4) and array.shape[0] not in (1, 3):
            return np.moveaxis(array, -1, 0)
        if array.shape[0] in (1, 3, 4):
            return array
    raise DataError(
        f"an array of shape {array.shape} is not a {spatial_dims}D image",
        file=source,
        fix="2D: (H, W), (H, W, 3) or (C, H, W); 3D: (D, H, W) or (C, D, H, W). A 3D volume needs a 3D model "
        "(preset medical/ct-3d), a 2D image a 2D one",
    )


class LoadMedicald(MapTransform):
    """Read ``data["image"]`` (a numpy array or a path) into a float32 channel-first ``MetaTensor``.

    Paths are read with the MONAI image reader their kind needs (``NibabelReader``, ``PydicomReader`` for a
    file or a series folder, ``PILReader``, ``NumpyReader``), as ``LoadImage`` would, then made channel-first
    with ``EnsureChannelFirst``; failures, empty or blank images and NaN/inf values raise
    :class:`DataError` naming the file (``data["source"]``).
    The original dtype is kept in ``data["image_dtype"]`` for ``intensity = "auto"``.

    Example:
        >>> LoadMedicald(spatial_dims=2)({"image": np.ones((4, 5), np.uint8) * np.arange(5), "source": "x"})["image"].shape
        torch.Size([1, 4, 5])
    """

    def __init__(self, spatial_dims: int, keys: KeysCollection = KEY):
        super().__init__(keys)
        self.spatial_dims = spatial_dims

    def _read_path(self, path: Path) -> MetaTensor:
        from monai.transforms import EnsureChannelFirst

        kind = item_kind(path)
        if kind is None:
            if not path.exists():
                raise DataError("file not found", file=path, fix="check the path (CSV paths are relative to the CSV)")
            raise DataError("not a NIfTI, DICOM, PNG/JPEG or .npy file, nor a DICOM series folder", file=path)
        # The reader is called directly rather than through LoadImage, which on failure retries every
        # registered reader and reports all of their tracebacks: here the one that matters is kept.
        # The header first: a cut or wrong header, no pixel data, or a declared size over the voxel cap is
        # refused before the reader allocates anything (one hostile file must not exhaust memory).
        require_item(path, kind)
        reader = _reader_for(kind)
        try:
            array, meta = reader.get_data(reader.read(str(path)))
            image = EnsureChannelFirst()(MetaTensor(torch.tensor(np.asarray(array)), meta=meta))
        except TransferkitError:
            raise
        except Exception as err:  # noqa: BLE001 - nibabel, pydicom and PIL raise many kinds of errors
            first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
            raise DataError(
                f"cannot read this {kind.replace('-', ' ')}: {type(err).__name__}: {first}",
                file=path,
                fix="check that the file is complete (not truncated) and in the format its name says",
            ) from None
        if kind == "image" and image.shape[0] == 4:
            image = image[:3]
        if kind == "dicom" and image.ndim == 4 and image.shape[-1] == 1:
            image = image[..., 0]
        return image

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            item = d[key]
            source = str(d.get("source", "item"))
            if isinstance(item, (str, Path)):
                image = self._read_path(Path(item))
                source = str(item)
                raw = image.array if isinstance(image, MetaTensor) else np.asarray(image)
            else:
                raw = _channel_first(np.asarray(item), self.spatial_dims, source)
                image = MetaTensor(torch.as_tensor(np.ascontiguousarray(raw)))
            check_array(raw, file=source)
            spatial = image.ndim - 1
            if spatial == 3 and self.spatial_dims == 2 and image.shape[-1] == 1:
                image = image[..., 0]  # a 2D image stored as a one-slice volume (NIfTI of an X-ray)
            elif spatial != self.spatial_dims:
                want = "a 3D model (preset medical/ct-3d)" if spatial == 3 else "a 2D model (e.g. medical/general)"
                raise DataError(
                    f"a {spatial}D image of shape {tuple(image.shape[1:])} cannot go into a "
                    f"{self.spatial_dims}D network",
                    file=source,
                    fix=f"use {want}, or keep one kind of data per model",
                )
            d[f"{key}_dtype"] = str(raw.dtype)
            d[key] = image.float() if isinstance(image, torch.Tensor) else torch.as_tensor(image, dtype=torch.float32)
            d["source"] = source
        return d


# =========================================================================== intensity and channels
class ScaleIntensityAutod(MapTransform):
    """8-bit images: divide by 255 (keep their absolute scale); anything else: percentile scaling to 0..1.

    Per-image min-max would stretch a dark ultrasound frame and a bright one to the same contrast; a
    fixed /255 keeps what the scanner recorded. 16-bit X-rays, DICOM and MR have no fixed range, so
    robust percentiles ([0.5, 99.5] by default) map each to 0..1.
    """

    def __init__(self, percentiles: tuple[float, float], keys: KeysCollection = KEY):
        super().__init__(keys)
        self.percentile = ScaleIntensityRangePercentilesd(keys, lower=percentiles[0], upper=percentiles[1],
                                                          b_min=0.0, b_max=1.0, clip=True, channel_wise=True)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if d.get(f"{key}_dtype") in ("uint8", "bool"):
                d[key] = d[key] / (1.0 if d[f"{key}_dtype"] == "bool" else 255.0)
            else:
                d = self.percentile(d)
        return d


class AdaptChannelsd(MapTransform):
    """Match the channel count to the backbone: average colour to grey, or replicate grey to RGB.

    A backbone with ``expands_grey`` (the ImageNet CNNs here) replicates one channel itself in
    ``forward``, which keeps the cache three times smaller.
    """

    def __init__(self, in_channels: int, expands_grey: bool, mode: str = "auto", keys: KeysCollection = KEY):
        super().__init__(keys)
        self.in_channels, self.expands_grey, self.mode = in_channels, expands_grey, mode

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            x = d[key]
            if self.mode == "grey" and x.shape[0] > 1:
                x = x.mean(0, keepdim=True)
            channels = x.shape[0]
            if channels == self.in_channels or (channels == 1 and self.expands_grey and self.in_channels == 3):
                pass
            elif channels == 1:
                x = x.repeat(self.in_channels, *([1] * (x.ndim - 1)))
            elif self.in_channels == 1:
                x = x.mean(0, keepdim=True)
            else:
                raise DataError(
                    f"image has {channels} channels; the network takes {self.in_channels}",
                    file=d.get("source"),
                    fix="use one kind of image per model, or preprocess.channels = 'grey'",
                )
            if self.mode == "rgb" and x.shape[0] == 1 and self.in_channels == 3:
                x = x.repeat(3, *([1] * (x.ndim - 1)))
            d[key] = x
        return d


class Normalized(MapTransform):
    """Map 0..1 intensities to the backbone's input scale: ``(x * scale - mean) / std`` (per channel).

    EfficientNet-Lite was trained on ``(pixel - 127) / 128`` of 0..255 pixels: scale 255, mean 127, std 128.
    """

    def __init__(self, scale: float, mean: list[float], std: list[float], keys: KeysCollection = KEY):
        super().__init__(keys)
        self.scale, self.mean, self.std = scale, mean, std

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            x = d[key]
            shape = (-1,) + (1,) * (x.ndim - 1)
            channels = x.shape[0]
            mean = torch.tensor(self.mean[:channels] if len(self.mean) >= channels else self.mean[:1] * channels)
            std = torch.tensor(self.std[:channels] if len(self.std) >= channels else self.std[:1] * channels)
            d[key] = (x * self.scale - mean.view(shape).to(x.dtype)) / std.view(shape).to(x.dtype)
        return d


# =========================================================================== the chain
def _interp(settings: PreprocessSettings, dims: int) -> str:
    mode = settings.interpolation or ("trilinear" if dims == 3 else "bilinear")
    if dims == 3 and mode in ("bilinear", "bicubic"):
        mode = "trilinear"
    if dims == 2 and mode == "trilinear":
        mode = "bilinear"
    return mode


def input_spec(backbone: "Backbone") -> dict[str, Any]:
    """What a backbone expects (its contract attributes, :class:`~transferkit.core.backbone.Backbone`):
    spatial dims, channels, default size and its input normalization."""
    return {
        "spatial_dims": int(backbone.spatial_dims),
        "in_channels": int(backbone.in_channels),
        "expands_grey": bool(backbone.expands_grey),
        "image_size": backbone.default_image_size,
        "scale": float(backbone.input_scale),
        "mean": list(backbone.input_mean),
        "std": list(backbone.input_std),
    }


class CacheBoundary:
    """Identity. Not a MONAI ``Transform``, so ``CacheDataset`` stops caching here (it caches up to the
    first random transform or non-``Transform`` callable): what follows runs every time an item is drawn."""

    def __call__(self, data: Any) -> Any:
        return data


def deterministic_transforms(backbone: Any, pre: PreprocessSettings, source: str = "preset", *,
                             cache_resized: bool = True) -> list[Any]:
    """Loading, orientation, spacing, intensity, channels and resizing: what the cache keeps.

    ``cache_resized=False`` puts a :class:`CacheBoundary` before the resize: the cache then keeps images
    at their decoded size (a 28-pixel MedMNIST image is 64 times smaller than at 224 px).
    """
    spec = input_spec(backbone)
    dims = spec["spatial_dims"]
    if pre.spatial_dims is not None and pre.spatial_dims != dims:
        raise DataError(
            f"the preset is for {pre.spatial_dims}D images but the backbone is a {dims}D network",
            file=source, field="preprocess.spatial_dims",
            fix="choose a model of the same dimension (--model), or another preset",
        )
    chain: list[Any] = [LoadMedicald(spatial_dims=dims)]
    if dims == 3 and pre.orientation:
        # labels given explicitly: MONAI's default is changing, and RAS must keep meaning RAS.
        chain.append(Orientationd(KEY, axcodes=pre.orientation, labels=(("L", "R"), ("P", "A"), ("I", "S"))))
    if dims == 3 and pre.spacing:
        spacing = pre.spacing * 3 if len(pre.spacing) == 1 else pre.spacing
        chain.append(Spacingd(KEY, pixdim=spacing, mode="bilinear"))
    if pre.intensity == "auto":
        chain.append(ScaleIntensityAutod(pre.percentiles))
    elif pre.intensity == "range":
        low, high = pre.intensity_range  # type: ignore[misc]
        chain.append(ScaleIntensityRanged(KEY, a_min=low, a_max=high, b_min=0.0, b_max=1.0, clip=True))
    elif pre.intensity == "percentile":
        chain.append(ScaleIntensityRangePercentilesd(KEY, lower=pre.percentiles[0], upper=pre.percentiles[1],
                                                     b_min=0.0, b_max=1.0, clip=True, channel_wise=True))
    elif pre.intensity == "zscore":
        chain.append(NormalizeIntensityd(KEY, nonzero=True, channel_wise=True))
    chain.append(AdaptChannelsd(spec["in_channels"], spec["expands_grey"], pre.channels))
    size = pre.image_size or spec["image_size"]
    if not cache_resized:
        chain.append(CacheBoundary())
    if size:
        size = list(size) * dims if len(size) == 1 else list(size)
        if len(size) != dims:
            raise DataError(f"image_size {size} has {len(size)} sides for a {dims}D network", file=source,
                            field="preprocess.image_size", fix=f"give one number or {dims}")
        if pre.resize_mode == "pad_crop":
            chain.append(ResizeWithPadOrCropd(KEY, spatial_size=size))
        else:
            mode = _interp(pre, dims)
            # Anti-aliasing only matters when shrinking; it is a no-op blur-free path when enlarging.
            chain.append(Resized(KEY, spatial_size=size, mode=mode, anti_aliasing=mode in ("bilinear", "trilinear", "bicubic")))
    return chain


def random_transforms(aug: AugmentSettings, dims: int) -> list[Any]:
    """Train-time augmentation, on the 0..1 scale, in the axes the preset allows."""
    chain: list[Any] = []
    for axis in aug.flip_axes:
        if axis < dims and aug.flip_prob > 0:
            chain.append(RandFlipd(KEY, prob=aug.flip_prob, spatial_axis=axis))
    if aug.rotate90:
        chain.append(RandRotate90d(KEY, prob=0.75, max_k=3, spatial_axes=(0, 1)))
    if aug.rotate_degrees:
        angle = math.radians(aug.rotate_degrees)
        ranges = {"range_x": angle} if dims == 2 else {"range_x": angle, "range_y": angle, "range_z": angle}
        chain.append(RandRotated(KEY, prob=aug.prob, keep_size=True, padding_mode="border", **ranges))
    if aug.zoom:
        chain.append(RandZoomd(KEY, prob=aug.prob, min_zoom=1 - aug.zoom, max_zoom=1 + aug.zoom, keep_size=True,
                               padding_mode="edge"))
    if aug.intensity_scale:
        chain.append(RandScaleIntensityd(KEY, factors=aug.intensity_scale, prob=aug.prob))
    if aug.colour_jitter:
        chain.append(RandScaleIntensityd(KEY, factors=aug.colour_jitter, prob=aug.prob, channel_wise=True))
    if aug.intensity_shift:
        chain.append(RandShiftIntensityd(KEY, offsets=aug.intensity_shift, prob=aug.prob))
    if aug.contrast:  # the shared meaning: scaled about the image mean by a factor in [1 - v, 1 + v]
        chain.append(RandScaleIntensityFixedMeand(KEY, factors=aug.contrast, prob=aug.prob))
    if aug.gamma:
        chain.append(RandAdjustContrastd(KEY, prob=aug.prob, gamma=(1 - aug.gamma, 1 + aug.gamma)))
    if aug.noise_std:
        chain.append(RandGaussianNoised(KEY, prob=aug.prob, std=aug.noise_std))
    return chain


def cached_bytes(backbone: Any, preprocess: dict[str, Any], n_items: int) -> int:
    """Upper bound of the memory a cache of ``n_items`` resized images takes (float32, 3 channels for 2D)."""
    spec = input_spec(backbone)
    pre = PreprocessSettings.parse(preprocess)
    size = list(pre.image_size or spec["image_size"] or [256])
    size = size * spec["spatial_dims"] if len(size) == 1 else size
    channels = 3 if spec["spatial_dims"] == 2 else spec["in_channels"]
    return int(n_items * channels * 4 * float(np.prod(size)))


def build_transforms(backbone: Any, preprocess: dict[str, Any], augment: dict[str, Any] | None, *,
                     source: str = "preset", cache_resized: bool = True) -> Compose:
    """The whole chain for ``backbone``; ``augment=None`` (evaluation) leaves out every random transform.

    Example:
        >>> chain = build_transforms(backbone, {"image_size": 64}, None)  # doctest: +SKIP
        >>> chain({"image": np.zeros((28, 28), np.uint8), "source": "x"})["image"].shape  # doctest: +SKIP
        torch.Size([1, 64, 64])
    """
    pre = PreprocessSettings.parse(preprocess, source=source)
    spec = input_spec(backbone)
    chain = deterministic_transforms(backbone, pre, source, cache_resized=cache_resized)
    # Past orientation and resampling nothing reads the metadata: the cache keeps plain tensors, which
    # it copies for every item drawn (a MetaTensor's metadata copy was a quarter of a 28 px image's cost).
    chain.append(EnsureTyped(KEY, data_type="tensor", track_meta=False))
    if augment is not None:
        chain += random_transforms(AugmentSettings.parse(augment, source=source), spec["spatial_dims"])
    if spec["scale"] != 1.0 or any(spec["mean"]) or any(s != 1.0 for s in spec["std"]):
        chain.append(Normalized(spec["scale"], spec["mean"], spec["std"]))
    chain.append(EnsureTyped(KEY, data_type="tensor", dtype=torch.float32, track_meta=False))
    return Compose(chain)


# =========================================================================== dataset
def unwrap_error(err: BaseException) -> BaseException:
    """The transferkit error that MONAI's ``RuntimeError("applying transform ...")`` wraps, if any."""
    seen = err
    while seen is not None:
        if isinstance(seen, TransferkitError):
            return seen
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return err


class MedicalDataset(Dataset):
    """``(image tensor, target)`` pairs from a MONAI dataset of ``{"image", "label", "source"}`` dicts.

    With ``cache=True`` a MONAI :class:`~monai.data.CacheDataset` runs the deterministic part of the chain
    once, when the dataset is built (so a broken file is reported before training starts), and the random
    part every time an item is drawn.
    """

    def __init__(self, items: list[Any], targets: list[int] | None, transform: Compose, *, cache: bool = True):
        from monai.data import CacheDataset
        from monai.data import Dataset as MonaiDataset

        targets = [-1] * len(items) if targets is None else list(targets)
        records = [
            {"image": item, "label": int(t), "source": str(item) if isinstance(item, (str, Path)) else f"array item #{i}"}
            for i, (item, t) in enumerate(zip(items, targets))
        ]
        try:
            if cache:
                self.data = CacheDataset(records, transform=transform, cache_rate=1.0, num_workers=0, progress=False)
            else:
                self.data = MonaiDataset(records, transform=transform)
        except Exception as err:  # noqa: BLE001
            raise unwrap_error(err) from None
        # With the cache, what runs per item (augmentation, normalisation, a resize past a CacheBoundary)
        # needs no metadata: it runs on plain tensors (:func:`untracked`).
        self.untracked = cache
        # MONAI's random transforms keep generators of their own, seeded from the OS. They share this one,
        # reseeded per item from NumPy's global generator, which transferkit seeds per item and epoch
        # (core/seeding.py): the augmentation follows --seed. Reseeding one generator is a single call; a
        # fresh RandomState per transform (Compose.set_random_state) was a third of a 28 px image's
        # preprocessing (timeit: 2 us against 0.2 ms each).
        self.generator = np.random.RandomState(0)
        for step in getattr(transform, "transforms", ()):
            if isinstance(step, Randomizable):
                step.set_random_state(state=self.generator)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.generator.seed(int(np.random.randint(0, 2**31 - 1)))
        try:
            with untracked(self.untracked):
                record = self.data[index]
        except Exception as err:  # noqa: BLE001
            raise unwrap_error(err) from None
        return record[KEY], record["label"]


@contextlib.contextmanager
def untracked(active: bool = True) -> Iterator[None]:
    """Run MONAI transforms on plain tensors: no ``MetaTensor`` metadata copied through every operation.

    Metadata (affine, spacing) matters to the deterministic part of the chain (orientation, resampling),
    which the cache runs once; the per-item part only changes pixel values, and tracking it there was a
    third of a 28 px image's preprocessing. MONAI's switch is process-wide, so the previous value is put
    back.

    Example:
        >>> with untracked():
        ...     RandFlipd(KEY, prob=1.0, spatial_axis=0)({KEY: MetaTensor(torch.zeros(1, 2, 2))})[KEY].__class__.__name__
        'Tensor'
    """
    from monai.data.meta_obj import get_track_meta, set_track_meta

    was = get_track_meta()
    set_track_meta(was and not active)
    try:
        yield
    finally:
        set_track_meta(was)
