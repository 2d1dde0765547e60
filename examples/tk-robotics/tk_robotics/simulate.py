"""Sensor recordings of a one-joint robot arm, synthesised from its physics (numpy only).

The arm is a rigid link on a motor in a vertical plane. A PD controller with gravity compensation tracks
a random sinusoidal reference; the recorded channels are what a real arm logs: motor torque (N m),
joint rate from a gyro (rad/s) and the specific force an IMU at the tip measures, tangential and radial
(m/s^2), each with sensor noise and a per-recording bias. Four conditions change the physics:

- ``nominal``: the arm as built;
- ``payload``: an unmodelled mass at the tip (the controller's gravity compensation is now wrong);
- ``friction``: a worn gearbox (Coulomb and viscous friction several times higher);
- ``collision``: a short external torque pulse against the motion (the link hits something).

Two arms differ in length, mass, motor inertia, damping, controller gains, sensor noise and payload:
``arm-a`` is the robot with plenty of recordings (pretraining), ``arm-b`` the new robot with few labels.

Example:
    >>> import numpy as np
    >>> x, y = simulate_set("arm-a", per_class=2, rng=np.random.default_rng(0))
    >>> x.shape, sorted(set(y))
    ((8, 4, 128), ['collision', 'friction', 'nominal', 'payload'])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONDITIONS = ("nominal", "payload", "friction", "collision")
CHANNELS = ("torque", "gyro", "accel_tangential", "accel_radial")
GRAVITY = 9.81


@dataclass(frozen=True)
class Arm:
    """Physical parameters of one arm (SI units)."""

    length: float  # link length, joint to tip (m)
    mass: float  # link mass, uniform rod (kg)
    motor_inertia: float  # reflected rotor inertia (kg m^2)
    damping: float  # viscous friction (N m s/rad)
    coulomb: float  # Coulomb friction (N m)
    kp: float  # controller stiffness (N m/rad)
    kd: float  # controller damping (N m s/rad)
    payload: float  # mass of the ``payload`` condition at the tip (kg)
    noise: float  # sensor noise, relative to each channel's typical size
    collision_torque: float  # size of the ``collision`` pulse (N m)


ARMS = {
    "arm-a": Arm(length=0.5, mass=2.0, motor_inertia=0.02, damping=0.05, coulomb=0.08, kp=40.0, kd=4.0,
                 payload=0.8, noise=0.03, collision_torque=6.0),
    "arm-b": Arm(length=0.8, mass=4.5, motor_inertia=0.06, damping=0.15, coulomb=0.25, kp=110.0, kd=14.0,
                 payload=1.6, noise=0.06, collision_torque=14.0),
}


def simulate(arm: str | Arm, conditions: list[str], rng: np.random.Generator, length: int = 128,
             rate_hz: float = 50.0, substeps: int = 20) -> np.ndarray:
    """Simulate one recording per entry of ``conditions``: float32 array ``[n, 4 channels, length]``.

    All recordings are integrated together (vectorised over the batch), semi-implicit Euler at
    ``rate_hz * substeps``; the channels are sampled at ``rate_hz``.
    """
    p = ARMS[arm] if isinstance(arm, str) else arm
    n = len(conditions)
    cond = np.array([CONDITIONS.index(c) for c in conditions])
    dt = 1.0 / (rate_hz * substeps)
    payload = np.where(cond == 1, p.payload * rng.uniform(0.7, 1.3, n), 0.0)
    worn = cond == 2
    coulomb = np.where(worn, p.coulomb * rng.uniform(5.0, 9.0, n), p.coulomb)
    damping = np.where(worn, p.damping * rng.uniform(3.0, 5.0, n), p.damping)
    inertia = p.mass * p.length**2 / 3 + p.motor_inertia + payload * p.length**2
    gravity_arm = (p.mass / 2 + payload) * GRAVITY * p.length  # N m at horizontal
    model_gravity = p.mass / 2 * GRAVITY * p.length  # what the controller believes (no payload)
    # The reference: a random sinusoid around a random working angle.
    amp, freq = rng.uniform(0.3, 1.0, n), rng.uniform(0.3, 1.2, n)
    phase, offset = rng.uniform(0, 2 * np.pi, n), rng.uniform(-0.6, 0.6, n)
    hit_at = np.where(cond == 3, rng.integers(length // 5, 4 * length // 5, n), -10**6)
    hit_size = p.collision_torque * rng.uniform(0.7, 1.3, n)
    theta = offset + amp * np.sin(phase)
    omega = amp * 2 * np.pi * freq * np.cos(phase)
    out = np.empty((n, 4, length), dtype=np.float64)
    for step in range(length * substeps):
        t = step * dt
        ref = offset + amp * np.sin(2 * np.pi * freq * t + phase)
        ref_rate = amp * 2 * np.pi * freq * np.cos(2 * np.pi * freq * t + phase)
        torque = p.kp * (ref - theta) + p.kd * (ref_rate - omega) + model_gravity * np.sin(theta)
        sample = step // substeps
        # The pulse lasts 3 samples and pushes against the motion.
        hitting = (sample >= hit_at) & (sample < hit_at + 3)
        external = np.where(hitting, -np.sign(omega + 1e-9) * hit_size, 0.0)
        friction = damping * omega + coulomb * np.tanh(omega / 0.02)
        alpha = (torque + external - friction - gravity_arm * np.sin(theta)) / inertia
        omega = omega + alpha * dt
        theta = theta + omega * dt
        if step % substeps == substeps - 1:
            out[:, 0, sample] = torque
            out[:, 1, sample] = omega
            # Specific force at the tip in the link frame: motion minus gravity.
            out[:, 2, sample] = p.length * alpha + GRAVITY * np.sin(theta)
            out[:, 3, sample] = -p.length * omega**2 + GRAVITY * np.cos(theta)
    typical = out.std(axis=(0, 2), keepdims=True) + 1e-6
    bias = rng.normal(0, p.noise, (n, 4, 1)) * typical
    out = out + bias + rng.normal(0, p.noise, out.shape) * typical
    return out.astype(np.float32)


def simulate_set(arm: str, per_class: int, rng: np.random.Generator, length: int = 128,
                 conditions: tuple[str, ...] = CONDITIONS) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` recordings of each condition, shuffled: ``(x[n, 4, length], labels[n])``."""
    labels = np.array([c for c in conditions for _ in range(per_class)])
    labels = labels[rng.permutation(len(labels))]
    return simulate(arm, list(labels), rng, length=length), labels


def write_npz(path: str, x: np.ndarray, labels: np.ndarray) -> str:
    """Save recordings in the robotics domain's ``.npz`` format: ``x`` [n, channels, length], ``y`` labels."""
    np.savez_compressed(path, x=x, y=labels, channels=np.array(CHANNELS))
    return path
