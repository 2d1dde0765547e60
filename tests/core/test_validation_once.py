"""Fine-tuning scores the validation data once: the chosen epoch's own validation pass is what is reported.

Scoring the restored best weights again on the same batches gives the same probabilities (CPU, bit for bit),
so the second pass was pure cost: a whole pass over the validation data after every fine-tuning run.
"""
from __future__ import annotations

import toy_plugin

import transferkit as tk
from transferkit.core import evaluate
from transferkit.core.metrics import classification_metrics


def test_the_chosen_epochs_validation_pass_is_reported_without_scoring_again(toy_registry, tmp_path, monkeypatch):
    train = toy_plugin.make_blobs(24, classes=("a", "b", "c"), seed=2, noise=1.5)
    val = toy_plugin.make_blobs(10, classes=("a", "b", "c"), seed=3, noise=1.5)
    scored = []
    real = evaluate.predict_proba

    def counting(model, items, batch_size=None):
        scored.append(len(items))
        return real(model, items, batch_size)

    monkeypatch.setattr(evaluate, "predict_proba", counting)
    run = tk.fit("toy", train, val=val, strategy="full", epochs=3, lr=0.05, seed=4, out=tmp_path / "m",
                 time_budget=None)
    assert len(val) not in scored  # the validation data went through the network once, in the loop
    assert any("restored the best epoch" in note for note in run.notes)
    # ... and what is reported is what scoring the restored weights again gives, exactly.
    again = real(run.model, val.items, run.model.plan.train["batch_size"])
    y_val = evaluate.targets_for(val, run.model.labels)
    reported = {k: v for k, v in run.metrics["val"].items() if k != "split_name"}  # a label added on saving
    assert reported == classification_metrics(y_val, again, run.model.labels, confidence=True)


def test_checkpoints_are_written_to_a_file_and_renamed_into_place(tmp_path, monkeypatch):
    import torch

    from transferkit.core.lightning_module import FileCheckpointIO
    from transferkit.core.progress import Reporter
    from transferkit.core.train import _trainer

    cfg = {"epochs": 1, "patience": 0, "precision": "auto"}
    trainer = _trainer(cfg, tmp_path, [], Reporter(False), False)
    io = trainer.strategy.checkpoint_io
    assert isinstance(io, FileCheckpointIO)  # what every fine-tuning run writes its checkpoints with
    target = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 0, "w": torch.ones(3)}, target)
    assert torch.load(target, weights_only=True)["epoch"] == 0 and sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]

    def cut_off(obj, f, *args, **kwargs):  # a write stopped halfway (disk full, a kill)
        with open(f, "wb") as out:
            out.write(b"half a checkpoint")
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", cut_off)
    try:
        io.save_checkpoint({"epoch": 1, "w": torch.zeros(3)}, target)
    except OSError:
        pass
    assert torch.load(target, weights_only=True)["epoch"] == 0  # the previous checkpoint is intact for --resume
