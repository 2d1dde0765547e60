"""Size caps on one image or volume, checked from its header before its data are decoded.

One hostile file (a PNG that declares 100000 x 100000 pixels, a NIfTI header that declares 4096^3 voxels)
would otherwise make a reader allocate tens of gigabytes. The caps sit well above real data: 256 million
pixels is a 16000 x 16000 photo (PIL's own bomb limit is 179 million), and 2^30 (about 1.07 billion)
voxels is a 1024^3 volume, eight times a whole-body CT of 512 x 512 x 500 slices.

Each cap is set, in order of precedence, by a reader option (``--read-option max_pixels=N``), an
environment variable (``TRANSFERKIT_MAX_PIXELS``, ``TRANSFERKIT_MAX_VOXELS``), or the default here. A cap
raised by a reader option holds for the rest of the process: the files a reader accepted are decoded later
(by a dataset, in training), and must not be refused then by the default.
"""
from __future__ import annotations

import os
from typing import Any

from transferkit.errors import DataError

DEFAULT_MAX_PIXELS = 256_000_000
DEFAULT_MAX_VOXELS = 2**30
PIXELS_ENV = "TRANSFERKIT_MAX_PIXELS"
VOXELS_ENV = "TRANSFERKIT_MAX_VOXELS"


# Caps raised by a reader option in this process (see the module's docstring).
_FROM_OPTIONS: dict[str, int] = {}


def _limit(options: dict[str, Any] | None, key: str, env: str, default: int) -> int:
    raw: Any = (options or {}).get(key)
    where = f"--read-option {key}"
    if raw is None:
        if key in _FROM_OPTIONS:
            return _FROM_OPTIONS[key]
        raw, where = os.environ.get(env), env
    if raw is None or raw == "":
        return default
    try:
        value = int(float(raw)) if not isinstance(raw, bool) else -1
    except (TypeError, ValueError):
        value = -1
    if value < 1:
        raise DataError(f"{where}={raw!r} is not a positive whole number", field=key,
                        fix=f"give a number of {'pixels' if 'PIXELS' in env else 'voxels'}, e.g. {default}")
    if where.startswith("--"):
        # Only a raise outlives the call: a lower cap was asked for this read, not for the whole process.
        base = _limit(None, key, env, default)
        if value > base:
            _FROM_OPTIONS[key] = value
    return value


def max_pixels(options: dict[str, Any] | None = None) -> int:
    """The largest number of pixels one 2D image may declare.

    Example:
        >>> max_pixels({"max_pixels": 1000})
        1000
    """
    return _limit(options, "max_pixels", PIXELS_ENV, DEFAULT_MAX_PIXELS)


def max_voxels(options: dict[str, Any] | None = None) -> int:
    """The largest number of voxels (or pixels, for a 2D medical image) one image or volume may declare.

    Example:
        >>> max_voxels({"max_voxels": "1e6"})
        1000000
    """
    return _limit(options, "max_voxels", VOXELS_ENV, DEFAULT_MAX_VOXELS)


def too_large(count: int, limit: int, *, what: str, shape: tuple[int, ...], key: str, env: str) -> str | None:
    """The reason a declared size is refused, or None when it is within ``limit``.

    Example:
        >>> too_large(10, 100, what="pixels", shape=(2, 5), key="max_pixels", env=PIXELS_ENV) is None
        True
    """
    if count <= limit:
        return None
    dims = " x ".join(str(int(s)) for s in shape)
    return (f"declares {dims} = {count:,} {what}, over the limit of {limit:,} (a decompression bomb, or a "
            f"genuinely huge file: to read it raise the limit with --read-option {key}=N or {env}=N)")
