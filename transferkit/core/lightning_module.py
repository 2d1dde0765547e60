"""The Lightning side of training: the LightningModule and the callbacks that carry out the plan.

Lightning owns the loop, checkpoints, early stopping, logging, precision and devices; this module only
says what a step is, which parameters get which learning rate, and when frozen groups start training.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

from transferkit.core.metrics import epoch_metrics, metric_value


class TransferModule(pl.LightningModule):
    """Wraps a model whose ``forward(inputs)`` returns logits (a TransferModel, or a head on features).

    Args:
        model: the network to train.
        param_groups: ``[(name, params, lr)]``, frozen parameters included: they get no gradient (AdamW
            skips them) until the unfreeze callback turns them on, so the optimizer never needs rebuilding.
        train_cfg: the resolved ``TrainConfig`` as a dict.
        labels: class names, for metrics.
        class_weights: per-class loss weights, or None.
    """

    def __init__(
        self,
        model: nn.Module,
        param_groups: list[tuple[str, list[nn.Parameter], float]],
        train_cfg: dict[str, Any],
        labels: list[str],
        class_weights: torch.Tensor | None = None,
    ):
        super().__init__()
        self.model = model
        self.param_groups = param_groups
        self.cfg = train_cfg
        self.labels = labels
        self.loss_fn = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=train_cfg["label_smoothing"])
        self._val_probs: list[torch.Tensor] = []
        self._val_targets: list[torch.Tensor] = []
        self.history: list[dict[str, Any]] = []
        self._train_losses: list[float] = []
        # The training batches' predictions (as the model was while it trained on them, dropout included):
        # the per-epoch train metric beside the validation one, i.e. the train-validation gap of each epoch.
        self._train_probs: list[torch.Tensor] = []
        self._train_targets: list[torch.Tensor] = []
        self._started = time.monotonic()
        # (epoch, validation probabilities) of the best epoch so far (strictly higher val_score, the best
        # checkpoint's rule): train() reports them instead of scoring the validation data a second time.
        self.best_val: tuple[int, np.ndarray] | None = None
        self._best_score: float | None = None
        self.restored_epoch: int | None = None  # set by core/train.py when it restores the best checkpoint

    def validation_probs(self) -> np.ndarray | None:
        """The validation probabilities of the restored best epoch, when its validation pass ran in this
        process (not in the interrupted run before a resume); else None and the caller scores again."""
        if self.best_val is None or self.restored_epoch is None or self.best_val[0] != self.restored_epoch:
            return None
        return self.best_val[1]

    def forward(self, inputs: Any) -> torch.Tensor:
        return self.model(inputs)

    def on_fit_start(self) -> None:
        # Seconds since training started; a resumed run continues the count of the epochs it restored.
        done = self.history[-1].get("elapsed_s") if self.history else None
        self._started = time.monotonic() - float(done or 0.0)

    def on_train_epoch_start(self) -> None:
        # Lightning (2.2 and later) never calls train() when fitting starts: the modules kept the mode they
        # were built in, every BatchNorm layer normalised with batch statistics and overwrote its pretrained
        # running statistics, whatever the plan said. train() applies the model's policy
        # (TransferModel.train: frozen statistics unless train_bn). After each validation pass Lightning
        # puts back the modes it found, i.e. these.
        self.train()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        logits = self.model(inputs)
        loss = self.loss_fn(logits, targets)
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(targets))
        self._train_losses.append(float(loss.detach()))
        self._train_probs.append(torch.softmax(logits.detach().float(), dim=-1).cpu())
        self._train_targets.append(targets.detach().cpu())
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        inputs, targets = batch
        logits = self.model(inputs)
        self._val_probs.append(torch.softmax(logits.float(), dim=-1).cpu())
        self._val_targets.append(targets.cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_probs:
            return
        probs = torch.cat(self._val_probs).numpy()
        targets = torch.cat(self._val_targets).numpy()
        self._val_probs.clear()
        self._val_targets.clear()
        # The five epoch figures only, counted with NumPy: the full metrics cost more than a head's epoch.
        metrics = epoch_metrics(targets, probs, self.labels)
        for name in ("loss", "accuracy", "f1_macro", "auroc", "balanced_accuracy"):
            value = metrics.get(name)
            self.log(f"val_{name}", float("nan") if value is None else float(value), prog_bar=name != "loss")
        # The score that picks the best epoch: "higher is better", NaN-free (early stopping needs a number).
        score = metric_value(metrics, self.cfg["metric"])
        score = score if math.isfinite(score) else -1e9
        self.log("val_score", score)
        if not self.trainer.sanity_checking:
            if self._best_score is None or score > self._best_score:
                self._best_score, self.best_val = score, (self.current_epoch, probs)
            row = {"epoch": self.current_epoch, f"val_{self.cfg['metric']}": metrics.get(self.cfg["metric"])}
            row["val_loss"] = metrics["loss"]
            row["val_accuracy"] = metrics["accuracy"]
            row["train_loss"] = float(np.mean(self._train_losses)) if self._train_losses else None
            self._train_losses.clear()
            if self._train_probs:
                train = epoch_metrics(torch.cat(self._train_targets).numpy(),
                                      torch.cat(self._train_probs).numpy(), self.labels)
                row[f"train_{self.cfg['metric']}"] = train.get(self.cfg["metric"])
                self._train_probs.clear()
                self._train_targets.clear()
            row["elapsed_s"] = round(time.monotonic() - self._started, 3)
            self.history.append(row)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The per-epoch history goes into the report: a resumed run must report the epochs it did not redo.
        # Plain Python values: checkpoints are read with weights_only=True, which refuses NumPy scalars.
        checkpoint["transferkit_history"] = [
            {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()} for row in self.history
        ]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = [dict(row) for row in checkpoint.get("transferkit_history", [])]

    def configure_optimizers(self) -> Any:
        groups = [
            {"params": params, "lr": lr, "name": name} for name, params, lr in self.param_groups if params
        ]
        optimizer = torch.optim.AdamW(groups, weight_decay=self.cfg["weight_decay"])
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(total * self.cfg["warmup_epochs"] / max(1, self.cfg["epochs"]))

        def schedule(step: int) -> float:
            # Linear warm-up, then cosine decay to 1% of the base rate: the usual fine-tuning schedule.
            if step < warmup:
                return (step + 1) / (warmup + 1)
            progress = (step - warmup) / max(1, total - warmup)
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class UnfreezeSchedule(pl.Callback):
    """Turn on gradients of backbone groups at their plan's epoch (freeze-unfreeze, gradual).

    Idempotent per epoch, so a resumed run unfreezes what the interrupted one had unfrozen.
    """

    def __init__(self, groups: list[nn.Module], unfreeze_epochs: list[int | None], bn_owner: nn.Module):
        self.groups = groups
        self.unfreeze_epochs = unfreeze_epochs
        self.bn_owner = bn_owner

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        changed = False
        for group, epoch in zip(self.groups, self.unfreeze_epochs):
            if epoch is not None and trainer.current_epoch >= epoch:
                for param in group.parameters():
                    if not param.requires_grad:
                        param.requires_grad = True
                        changed = True
        if changed:
            self.bn_owner.train()  # re-apply the BatchNorm policy to the newly trainable groups


class BestWeights(pl.Callback):
    """Keeps a copy of the weights of the best epoch so far in memory: a head on cached features
    checkpoints nothing to disk (two files an epoch cost more than its training; a stopped run trains
    the head again from the cached features instead, with the same result).

    The same choice as the best ``ModelCheckpoint`` of core/train.py: ``val_score`` read at the end of
    each training epoch (after its validation), kept when strictly higher, so the first of equal scores wins.
    """

    def __init__(self) -> None:
        self.score: torch.Tensor | None = None
        self.epoch: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        score = trainer.callback_metrics.get("val_score")
        if score is None or (self.score is not None and not bool(torch.gt(score, self.score))):
            return
        self.score, self.epoch = score.detach().clone(), trainer.current_epoch
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


class FileCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint straight to a temporary file in its folder, then renames it into place.

    Lightning's own writer serialises the whole checkpoint into memory first and copies it out again
    (three times the memory traffic: 13 s against 4 s for a 250 MB MiniLM checkpoint on a loaded
    2-core machine), and writes over the previous file in place; a rename is atomic, so a run killed
    while writing keeps the previous ``last.ckpt`` for ``--resume``. Local folders only (``run_dir``).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("FileCheckpointIO takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")  # only ever our own file, in our own folder
        torch.save(checkpoint, partial)
        os.replace(partial, target)
