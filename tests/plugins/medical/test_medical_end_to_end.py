"""End to end through the public API: 3D classification of NIfTI and DICOM volumes, and BreastMNIST in 2D."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from medfiles import blob_volume, write_dicom_series, write_nifti

from transferkit.core.specs import Preset
from transferkit.errors import DataError

TINY = {"block": "basic", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 16, 32]}


def _medicalnet_file(tmp_path: Path) -> Path:
    """Tiny MedicalNet-style weights: the 3D model of the run is loaded by the real loading code."""
    from monai.networks.nets import ResNet

    torch.manual_seed(0)
    net = ResNet(spatial_dims=3, n_input_channels=1, feed_forward=False, conv1_t_stride=2, **TINY)
    path = tmp_path / "resnet_tiny_medicalnet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    return path


def _manifest(folder: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    path = folder / name
    path.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in rows))
    return path


def _volumes(tmp_path: Path, n: int, offset: int, *, series: int = 0) -> list[tuple[str, str]]:
    (tmp_path / "volumes").mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        label = i % 2
        volume = blob_volume(label, size=16, seed=offset + i)
        name = f"volumes/case{offset + i:03d}"
        if i < series:
            write_dicom_series(tmp_path / name, volume.astype(np.int16))  # a folder of slices is one volume
        else:
            name += ".nii.gz"
            write_nifti(tmp_path / name, volume)
        rows.append((name, "nodule" if label else "clear"))
    return rows


def _preset(**train) -> Preset:
    return Preset(
        id="medical/test-ct", domain="medical", description="3D test preset", extends="medical/ct-3d",
        strategy="full",
        train={"epochs": 6, "batch_size": 4, "lr": 3e-3, "backbone_lr": 3e-3, "patience": 0, "class_weights": "none",
               **train},
        preprocess={"image_size": 16},
        augment={"rotate_degrees": 5, "zoom": 0.0, "intensity_shift": 0.0},
    )


def test_3d_classification_end_to_end(tmp_path, medical_registry):
    """NIfTI files and DICOM series in CSV manifests -> MedicalNet-style 3D backbone -> artifact -> predict."""
    import transferkit as tk

    train_csv = _manifest(tmp_path, "train.csv", _volumes(tmp_path, 12, 0, series=2))
    val_csv = _manifest(tmp_path, "val.csv", _volumes(tmp_path, 6, 100, series=1))
    out = tmp_path / "ct-model"
    preset = _preset().model_copy(update={"strategy": "linear-probe"})
    run = tk.fit("medical", train_csv, val=val_csv, preset=preset, model=_medicalnet_file(tmp_path), out=out)

    assert run.plan.strategy == "linear-probe" and run.model.labels == ["clear", "nodule"]
    assert run.model.backbone.spatial_dims == 3 and run.model.backbone.config()["type"] == "monai"
    assert run.metrics["val"]["accuracy"] == 1.0  # a bright vs a dark cube
    assert (out / "model.safetensors").is_file() and (out / "transferkit.json").is_file()

    loaded = tk.load(out)
    assert tk.evaluate(loaded, val_csv)["accuracy"] == 1.0
    series_case, nifti_case = str(tmp_path / "volumes" / "case100"), str(tmp_path / "volumes" / "case101.nii.gz")
    assert [p["label"] for p in tk.predict(loaded, [series_case, nifti_case])] == ["clear", "nodule"]


def test_3d_fine_tuning_with_augmentation_saves_what_it_validated(tmp_path, medical_registry):
    """The Lightning path: 3D augmentation on the fly, every layer training, and a reloadable artifact."""
    import transferkit as tk

    train_csv = _manifest(tmp_path, "train.csv", _volumes(tmp_path, 8, 0))
    val_csv = _manifest(tmp_path, "val.csv", _volumes(tmp_path, 4, 100, series=1))
    out = tmp_path / "ct-ft"
    run = tk.fit("medical", train_csv, val=val_csv, preset=_preset(epochs=2), model=_medicalnet_file(tmp_path),
                 out=out)
    assert run.plan.strategy == "full" and all(g.unfreeze_epoch == 0 for g in run.plan.groups)
    assert len(run.history) == 2 and all(row["train_loss"] is not None for row in run.history)
    assert not any("feature cache" in note for note in run.notes)  # random 3D rotations: no cache
    evaluated = tk.evaluate(out, val_csv)  # the saved weights give the metrics the run reported
    assert evaluated["loss"] == pytest.approx(run.metrics["val"]["loss"], abs=1e-5)


def test_nan_volume_in_training_data_stops_before_training_with_its_path(tmp_path, medical_registry):
    import transferkit as tk

    rows = _volumes(tmp_path, 6, 0)
    broken = blob_volume(1, size=16, seed=99)
    broken[:, :, 8:] = np.nan
    write_nifti(tmp_path / "volumes" / "broken.nii.gz", broken)
    train_csv = _manifest(tmp_path, "train.csv", rows + [("volumes/broken.nii.gz", "nodule")])
    val_csv = _manifest(tmp_path, "val.csv", rows[:2])
    with pytest.raises(DataError, match="NaN") as err:
        tk.fit("medical", train_csv, val=val_csv, preset=_preset(epochs=1), model=_medicalnet_file(tmp_path))
    assert err.value.file == str(tmp_path / "volumes" / "broken.nii.gz")


@pytest.mark.real_data
@pytest.mark.real_weights
def test_breastmnist_linear_probe_smoke(dataset_mirror, medical_registry, tmp_path):
    """The breast-ultrasound preset's path on the real data, small and fast: 64 px, 40 labels per class."""
    import transferkit as tk

    path = dataset_mirror("breastmnist", "breastmnist.npz") / "breastmnist.npz"
    preset = Preset(id="medical/bu-small", domain="medical", description="small", extends="medical/breast-ultrasound",
                    preprocess={"image_size": 64, "feature_scales": [64, 80]})
    run = tk.fit("medical", path, preset=preset, per_class=40, out=tmp_path / "bu")
    assert run.plan.strategy == "linear-probe" and run.model.labels == ["malignant", "normal-benign"]
    test = run.metrics["test"]
    assert test["n"] == 156 and test["auroc"] > 0.75
    assert test["binary"]["positive"] == "malignant"  # the preset's operating point is on the malignant class
    evaluated = tk.evaluate(tmp_path / "bu", path)
    assert evaluated["split"] == "test" and evaluated["auroc"] == pytest.approx(test["auroc"], abs=1e-6)
