"""Fixtures for the vision plugin tests: small images generated with PIL, tiny models, the domain object."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COLOURS = {"ants": (200, 60, 40), "bees": (40, 90, 210), "wasps": (230, 210, 40)}


def make_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), seed: int = 0,
               mode: str = "RGB") -> Path:
    """A noisy image of one dominant colour (so that transforms have texture to change)."""
    rng = np.random.default_rng(seed)
    base = np.array(colour, np.float32)[None, None, :]
    noise = rng.normal(0, 25, size=(size[1], size[0], 3))
    array = np.clip(base + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(array, "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def make_class_folder(root: Path, per_class: int = 3, classes: tuple[str, ...] = ("ants", "bees"),
                      ext: str = ".jpg") -> Path:
    for c_index, name in enumerate(classes):
        for i in range(per_class):
            make_image(root / name / f"{name}_{i}{ext}", COLOURS[name], seed=c_index * 100 + i)
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_class_folder(tmp_path / "images")


@pytest.fixture
def vision_domain():
    from transferkit.core.specs import DomainSpec
    from transferkit.plugins.vision.domain import VisionDomain

    spec = DomainSpec(name="vision", description="images", factory="transferkit.plugins.vision.domain:VisionDomain",
                      default_model="vision/efficientnet-lite0.imagenet", default_preset="vision/general")
    return VisionDomain(spec)


@pytest.fixture
def vision_registry():
    """A registry holding only the vision plugin, installed as the process-wide one for the test."""
    import transferkit.plugins.vision as plugin
    from transferkit.testing import isolated_registry

    with isolated_registry(vision=plugin) as registry:
        yield registry


@pytest.fixture
def hymenoptera(dataset_mirror) -> Path:
    return dataset_mirror("hymenoptera", "train")


def preset(**tables):
    from transferkit.core.specs import Preset

    return Preset(id="vision/test", domain="vision", description="test", **tables)


@pytest.fixture(name="make_image")
def _make_image_fixture():
    """The :func:`make_image` helper, for tests that build their own layouts."""
    return make_image


@pytest.fixture(name="make_class_folder")
def _make_class_folder_fixture():
    return make_class_folder


@pytest.fixture(name="preset")
def _preset_fixture():
    """Build a vision Preset from tables: ``preset(preprocess={...}, augment={...})``."""
    return preset
