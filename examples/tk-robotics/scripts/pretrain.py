"""Pretrain the 1D CNN on arm A's simulated recordings and write tk_robotics/weights/imu1d-arm-a.safetensors.

Deterministic (fixed seeds, one CPU thread): running it again writes the same tensors (only the order of the
header's metadata keys may differ, safetensors does not fix it). The classifier head used for
pretraining is saved beside the backbone (``head.*``) so that tests can check that the weights really
recognise arm A's conditions. Usage: python examples/tk-robotics/scripts/pretrain.py [--per-class 500]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tk_robotics.network import IMU1DNet, normalise  # noqa: E402
from tk_robotics.simulate import CONDITIONS, simulate_set  # noqa: E402

OUT = HERE / "tk_robotics" / "weights" / "imu1d-arm-a.safetensors"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the same sums in the same order: the same weights on every run
    x, y = simulate_set("arm-a", args.per_class, np.random.default_rng(0))
    xv, yv = simulate_set("arm-a", 100, np.random.default_rng(1))
    targets = torch.as_tensor([CONDITIONS.index(c) for c in y])
    inputs, val_inputs = normalise(torch.as_tensor(x)), normalise(torch.as_tensor(xv))
    net = IMU1DNet()
    head = torch.nn.Linear(net.feature_dim, len(CONDITIONS))
    params = list(net.parameters()) + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=args.epochs * (len(x) // 64 + 1))
    generator = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        net.train()
        for batch in torch.randperm(len(x), generator=generator).split(64):
            loss = torch.nn.functional.cross_entropy(head(net(inputs[batch])), targets[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            pred = head(net(val_inputs)).argmax(1).numpy()
        accuracy = float((np.array(CONDITIONS)[pred] == yv).mean())
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, arm-a validation accuracy {accuracy:.3f}")
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    tensors.update({f"head.{k}": v.contiguous() for k, v in head.state_dict().items()})
    meta = {"config": json.dumps(net.config()), "conditions": json.dumps(list(CONDITIONS)),
            "trained_on": "arm-a", "validation_accuracy": f"{accuracy:.4f}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.out), metadata=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
