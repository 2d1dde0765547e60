"""The public-dataset registry: where each dataset comes from, its checksum, licence and citation.

Datasets are found in a local mirror first (``TRANSFERKIT_DATA_DIR``, which tests and CI point at
``../shared/datasets``); when online, they are downloaded into a cache and checked against their sha256.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from transferkit.core.registry import get_registry
from transferkit.core.specs import DatasetSpec
from transferkit.errors import DataError

ENV = "TRANSFERKIT_DATA_DIR"


def data_root() -> Path | None:
    """The local mirror folder named by ``TRANSFERKIT_DATA_DIR``, if set."""
    value = os.environ.get(ENV)
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """Where downloads go: ``$XDG_CACHE_HOME/transferkit/datasets``."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "transferkit" / "datasets"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(spec: DatasetSpec) -> Path | None:
    """The dataset's folder in the mirror or the cache, if present."""
    for root in (data_root(), cache_root()):
        if root is not None and (root / spec.mirror_path).exists():
            return root / spec.mirror_path
    return None


def dataset_path(name: str, *, verify: bool = False) -> Path:
    """Path of a registered dataset, from the mirror or the download cache.

    With ``verify`` the pinned files are checked against their sha256.

    Example:
        >>> dataset_path("hymenoptera")  # doctest: +SKIP
        PosixPath('../shared/datasets/hymenoptera')
    """
    registry = get_registry()
    if name not in registry.datasets:
        from transferkit.errors import unknown_name

        raise unknown_name("dataset", name, registry.datasets, fix="run `transferkit datasets`")
    spec = registry.datasets[name]
    path = local_path(spec)
    if path is None:
        raise DataError(
            f"dataset '{name}' is not available locally",
            file=(data_root() or cache_root()) / spec.mirror_path,
            fix=f"download it from {spec.url} into that folder, or set {ENV} to a mirror that has it",
        )
    if verify:
        for relative, expected in spec.files.items():
            # A pinned path is relative to the dataset folder, or starts with the folder name itself.
            file = path.parent / relative if relative.startswith(spec.mirror_path + "/") else path / relative
            if expected and sha256_of(file) != expected:
                raise DataError("checksum mismatch", file=file, field="sha256",
                                fix=f"re-download it from {spec.url}")
    return path


def dataset_status(spec: DatasetSpec) -> dict[str, Any]:
    """A listing row: the spec plus where (if anywhere) a local copy lives."""
    path = local_path(spec)
    return {**spec.model_dump(), "local": str(path) if path else ""}
