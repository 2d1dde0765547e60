"""tk-robotics: a transferkit domain for robot sensor time series (IMU, joint torque).

Registration only: the domain class, torch and the weights are imported when the domain is used, so
``transferkit domains`` stays fast and framework-free.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit import hookimpl
from transferkit.core.specs import DomainSpec, ModelSource

TRANSFERKIT_HOOK_API = 1  # the hook API this plugin was written for
PRESETS_DIR = Path(__file__).parent / "presets"


@hookimpl
def register_domains(register: Any) -> None:
    register(DomainSpec(
        name="robotics",
        description="robot sensor recordings (IMU, joint torque): faults, contacts, activities",
        factory="tk_robotics.domain:RoboticsDomain",
        default_model="robotics/imu1d.arm-a",
        default_preset="robotics/joint-faults",
        requires=["torch", "safetensors"],
        install="pip install tk-robotics transferkit[train]",
        data_help=".npz with x [recordings, channels, time] and y, or a long .csv: recording,label,<channels>",
    ))


@hookimpl
def register_models(register: Any) -> None:
    register(ModelSource(
        id="robotics/imu1d.arm-a", domain="robotics", kind="package", location="tk_robotics",
        description="1D CNN pretrained on simulated recordings of arm A (torque, gyro, tip IMU; 4 conditions)",
        options={"weights": "weights/imu1d-arm-a.safetensors"}, feature_dim=128, license="Apache-2.0",
    ))
    register(ModelSource(
        id="robotics/imu1d.scratch", domain="robotics", kind="scratch", location="-",
        description="the same 1D CNN, randomly initialised: the from-scratch baseline", feature_dim=128,
    ))


@hookimpl
def register_presets(register: Any) -> None:
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        register(path)
