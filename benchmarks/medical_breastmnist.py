"""BreastMNIST (MedMNIST v2): the preset's feature options chosen by cross-validation, then the test split scored once.

Official splits: train 546, validation 78, test 156. Protocol (docs/selection.md):

1. *select*: the feature options of ``medical/breast-ultrasound`` (input scales 224 / 288 / both averaged,
   with or without a signed square root) are compared by nested, repeated stratified cross-validation
   AUROC on train + val (624 images), on EfficientNet-Lite0 features computed once per scale and cached;
   the linear probe's C is chosen inside each fold. The test split is not read.
2. *runs*: the acceptance commands, exactly as a user types them, once per seed::

       transferkit train --domain medical --preset medical/breast-ultrasound --data breastmnist.npz --seed S --out M
       transferkit evaluate M --data breastmnist.npz --json          # the test split

   and, in the same table and under the same rule (train on train, choose on val, score test once),
   the baselines: ``scratch`` is MONAI ResNet-18 trained from random weights at 28 px with MedMNIST
   v2's recipe (100 epochs, batch 128, lr 1e-3, no augmentation) except that transferkit's optimizer is
   AdamW with cosine decay, not Adam with step decay at epochs 50 and 75 (said in the row);
   ``fine-tuned`` is the preset with ``--strategy freeze-unfreeze`` at 128 px with augmentation.
   Each run records wall time and peak memory of the commands.

Results go to benchmarks/results/medical_breastmnist.json; the section "## Medical: BreastMNIST" of docs/benchmarks.md is rendered
from that file only. Rows not run say "not measured" and why (``--skip RUN=REASON``).

    python benchmarks/medical_breastmnist.py --seeds 0,1,2                 # select + preset + baselines
    python benchmarks/medical_breastmnist.py --runs preset --skip "fine-tuned=..." --skip "scratch=..."
    python benchmarks/medical_breastmnist.py --quick                       # 1 CV repeat, 1 seed, preset only
    python benchmarks/medical_breastmnist.py --render-only                 # docs section from results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SECTION = "## Medical: BreastMNIST"
PRESET = "medical/breast-ultrasound"
SCALES = [224, 288]
# The candidates, simplest first (ties go to the first): (feature_scales, signed square root).
CANDIDATES: dict[str, tuple[list[int], bool]] = {
    "224 px, raw": ([224], False),
    "288 px, raw": ([288], False),
    "224+288 px, raw": ([224, 288], False),
    "224 px, sqrt": ([224], True),
    "288 px, sqrt": ([288], True),
    "224+288 px, sqrt": ([224, 288], True),
}

# MedMNIST v2 (Yang et al., Scientific Data 2023), BreastMNIST official test split: (AUC, ACC). Their
# protocol is the same as here: train on train, pick the epoch on val, score test.
PUBLISHED = [
    ("ResNet-18 (28), MedMNIST v2", 0.901, 0.863),
    ("ResNet-18 (224), MedMNIST v2", 0.891, 0.833),
    ("ResNet-50 (28), MedMNIST v2", 0.857, 0.812),
    ("ResNet-50 (224), MedMNIST v2", 0.866, 0.842),
    ("auto-sklearn, MedMNIST v2", 0.836, 0.803),
    ("AutoKeras, MedMNIST v2", 0.871, 0.831),
    ("Google AutoML Vision, MedMNIST v2", 0.919, 0.861),
]

# Baselines as presets written into WORK (``transferkit train --preset FILE`` takes a TOML file).
BASELINES: dict[str, dict[str, Any]] = {
    "scratch": {
        "name": "MONAI ResNet-18 from scratch, 28 px: MedMNIST recipe (100 epochs, batch 128, lr 1e-3, no "
                "augmentation), but AdamW + cosine decay instead of Adam + step decay at 50/75",
        "toml": """id = "medical/bench-scratch"
domain = "medical"
description = "MedMNIST v2 ResNet-18 (28) recipe on transferkit"
extends = "medical/breast-ultrasound"
model = "medical/resnet18.scratch"
strategy = "full"

[train]
epochs = 100
batch_size = 128
lr = 1e-3
backbone_lr = 1e-3
layer_decay = 1.0
weight_decay = 0.0
patience = 0
class_weights = "none"
train_bn = true

[preprocess]
image_size = 28
feature_scales = []
feature_norm = "none"

[augment]
""",
    },
    "fine-tuned": {
        "name": "transferkit, fine-tuned: freeze-unfreeze, 128 px, ultrasound augmentation",
        "toml": """id = "medical/bench-finetuned"
domain = "medical"
description = "the preset, fine-tuned"
extends = "medical/breast-ultrasound"
strategy = "freeze-unfreeze"

[train]
epochs = 12
unfreeze_epoch = 2
lr = 1e-3
backbone_lr = 1e-4
layer_decay = 0.8
patience = 4
batch_size = 32

[preprocess]
image_size = 128
feature_scales = []
feature_norm = "none"

[augment]
flip_axes = [1]
rotate_degrees = 10
zoom = 0.1
gamma = 0.15
prob = 0.5
""",
    },
}
RUNS = ["preset", *BASELINES]


def npz_path() -> Path:
    return common.data_dir() / "breastmnist" / "breastmnist.npz"


# ----------------------------------------------------------------------------- selection
def scale_features(work: Path) -> dict[str, Any]:
    """EfficientNet-Lite0 features of train and val at each scale (raw, per scale), cached in WORK.

    The backbone is the preset's, with ``feature_scales = [scale]`` and no normalization, so that every
    candidate is a function of these arrays (``selection.combine``). The test split is not read.
    """
    import numpy as np

    cache = work / "features-train-val.npz"
    if cache.is_file():
        return dict(np.load(cache))
    from transferkit.core.configure import configure
    from transferkit.core.features import extract_features
    from transferkit.core.select import get_domain, select

    domain = get_domain("medical")
    splits = {s: domain.read(npz_path(), split=s) for s in ("train", "val")}
    model = configure(select("medical", None, PRESET), sorted(splits["train"].counts()), strategy="linear-probe")
    out: dict[str, Any] = {}
    for scale in SCALES:
        model.backbone.feature_scales = [scale]
        model.backbone.feature_norm = "none"
        for name, examples in splits.items():
            out[f"{name}_{scale}"] = extract_features(model, examples.items, 32).numpy()
    for name, examples in splits.items():
        out[f"{name}_labels"] = np.array(examples.labels)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def select_features(work: Path, cv: dict[str, Any]) -> dict[str, Any]:
    """Nested CV AUROC (malignant vs the rest) of each candidate on train + val."""
    import numpy as np

    from selection import combine, select_candidate

    started = time.perf_counter()
    f = scale_features(work)
    per_scale = {s: np.concatenate([f[f"train_{s}"], f[f"val_{s}"]]) for s in SCALES}
    labels = np.concatenate([f["train_labels"], f["val_labels"]])
    y = (labels == "malignant").astype(int)
    candidates = {name: (lambda s=scales, q=sqrt: combine(per_scale, s, q)) for name, (scales, sqrt) in CANDIDATES.items()}
    best, scores = select_candidate(candidates, y, metric="auroc", **cv)
    return {"n": {"train": int(len(f["train_labels"])), "val": int(len(f["val_labels"]))}, "metric": "auroc",
            "cv": cv, "scores": scores, "best": best, "seconds": time.perf_counter() - started}


def preset_choice() -> str:
    """The candidate name of the shipped preset's feature options."""
    from transferkit.core.presets import load_preset
    from transferkit.core.registry import get_registry

    pre = load_preset(PRESET, domain="medical", registry=get_registry()).preprocess
    scales = list(pre.get("feature_scales") or [pre.get("image_size", 224)])
    sqrt = pre.get("feature_norm", "none") == "sqrt"
    for name, (cand_scales, cand_sqrt) in CANDIDATES.items():
        if cand_scales == scales and cand_sqrt == sqrt:
            return name
    return f"{'+'.join(map(str, scales))} px, {'sqrt' if sqrt else 'raw'}"


# ----------------------------------------------------------------------------- acceptance runs
def cli_run(work: Path, run: str, seed: int) -> dict[str, Any]:
    """One run through the CLI: train (official train/val), evaluate (test split); figures and usage."""
    out = work / "runs" / f"{run}-seed{seed}"
    if out.exists():
        raise SystemExit(f"{out} exists (transferkit never overwrites a model): remove it or pass --work")
    preset = PRESET
    if run in BASELINES:
        preset_file = work / "presets" / f"{run}.toml"
        preset_file.parent.mkdir(parents=True, exist_ok=True)
        preset_file.write_text(BASELINES[run]["toml"], encoding="utf-8")
        preset = str(preset_file)
    log = work / "logs" / f"{run}-seed{seed}.log"
    train = common.run_command([*common.cli(), "train", "--domain", "medical", "--preset", preset, "--data",
                                str(npz_path()), "--seed", str(seed), "--out", str(out)], log)
    if train["returncode"] != 0:
        raise SystemExit(f"train failed ({run}, seed {seed}); see {log}")
    test, usage = common.run_json([*common.cli(), "evaluate", str(out), "--data", str(npz_path()), "--json"], log)
    val = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["metrics"].get("val", {})
    binary = test.get("binary", {})
    return {"seed": seed, "auroc": test["auroc"], "auroc_ci95": binary.get("auroc_ci95"),
            "accuracy_argmax": test.get("accuracy_argmax", test["accuracy"]), "accuracy": test["accuracy"],
            "sensitivity": binary.get("sensitivity"), "specificity": binary.get("specificity"),
            "n_test": test["n"], "split": test.get("split"), "val_auroc": val.get("auroc"),
            "seconds": train["seconds"] + usage["seconds"],
            "peak_rss_mib": max(train["peak_rss_mib"], usage["peak_rss_mib"])}


# ----------------------------------------------------------------------------- docs
def render(results: dict[str, Any]) -> str:
    """The docs section, from results.json only."""
    meta, sel, runs = results["meta"], results.get("selection"), results.get("runs", {})
    lines = [
        SECTION,
        "",
        "MedMNIST v2 BreastMNIST (breast ultrasound, 28x28 grey; malignant vs normal/benign), official splits: "
        "train 546, validation 78, test 156. Protocol: docs/selection.md. Nothing below was chosen on the test "
        "split; the test split was scored once per seed by configurations already frozen.",
        "",
    ]
    if sel:
        cv = sel["cv"]
        lines += [
            f"**Selection of the preset's feature options** (figures used for selection, not test results): "
            f"nested cross-validation AUROC on train + val ({sel['n']['train']} + {sel['n']['val']} images; "
            f"{cv['folds']} folds x {cv['repeats']} repeats, the linear probe's C chosen by an inner "
            f"{cv['inner_folds']}-fold CV on each outer training part), mean ± sd over folds, frozen "
            "EfficientNet-Lite0 (ImageNet) features:",
            "",
            "| candidate (feature scales, power normalization) | CV AUROC |",
            "|---|---|",
        ]
        for name, score in sel["scores"].items():
            lines.append(f"| {name}{' (chosen)' if name == sel['best'] else ''} | {score['mean']:.3f} ± {score['sd']:.3f} |")
        same = meta["preset_choice"] == sel["best"]
        lines += ["", f"The preset ships `{meta['preset_choice']}`"
                  + (", the CV winner." if same else f": **not the CV winner ({sel['best']}); update the preset.**"), ""]
    lines += [
        "**Held-out test** (each row: trained on train, epoch or C chosen on val, test scored once; "
        "mean ± sd over seeds; the operating point is the preset's, sensitivity for malignant >= 0.9 on val):",
        "",
        "```",
        "transferkit train --domain medical --preset medical/breast-ultrasound --data breastmnist.npz --seed S --out M",
        "transferkit evaluate M --data breastmnist.npz --json",
        "```",
        "",
        "| model | seeds | test AUROC | test ACC (argmax) | sens. / spec. at operating point | val AUROC (used for "
        "selection) | wall time, peak memory |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"preset": f"transferkit, preset `{PRESET}` as shipped ({meta['preset_choice']}, linear probe)",
             **{k: v["name"] for k, v in BASELINES.items()}}
    for run in RUNS:
        result = runs.get(run)
        if result is None:
            continue
        if "not_measured" in result:
            lines.append(f"| {names[run]} | - | {common.cell(result, 'auroc')} | - | - | - | - |")
            continue
        seeds = ", ".join(str(s["seed"]) for s in result["seeds"])
        lines.append(
            f"| {names[run]} | {seeds} | **{common.cell(result, 'auroc')}** | {common.cell(result, 'accuracy_argmax')} | "
            f"{common.cell(result, 'sensitivity', 2)} / {common.cell(result, 'specificity', 2)} | "
            f"{common.cell(result, 'val_auroc')} | {common.time_cell(result)} |")
    for name, auc, acc in PUBLISHED:
        lines.append(f"| {name} (published) | - | {auc:.3f} | {acc:.3f} | - | - | - |")
    first = (runs.get("preset", {}).get("seeds") or [{}])[0]
    if first.get("auroc_ci95"):
        lo, hi = first["auroc_ci95"]
        lines += ["", f"Sampling error of one test figure: with {first['n_test']} test images the bootstrap 95% "
                  f"interval of the preset's AUROC (seed {first['seed']}) is {lo:.3f}-{hi:.3f}; differences "
                  "between rows smaller than that are not evidence."]
    lines += [
        "",
        "The linear probe has no random step (official splits, deterministic features and solver). "
        + common.spread_sentence(runs.get("preset"), "auroc", meta.get("n_seeds", 3))
        + " ACC (argmax) is MedMNIST's accuracy; runs with balanced class "
        "weights (the preset) move probabilities towards the rarer malignant class, so the operating-point "
        "columns are the decision the model makes.",
        "",
        f"Measured {meta['date']} on {meta['machine']} (shared with other jobs: times are upper bounds); "
        f"commands: {common.commands_text(meta)}; results: `benchmarks/results/medical_breastmnist.json`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    parser.add_argument("--quick", action="store_true", help="1 CV repeat, first seed, the preset run only")
    parser.add_argument("--stages", default="select,runs", help="comma list of: select, runs")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma list of: {', '.join(RUNS)}")
    parser.add_argument("--skip", action="append", default=[], metavar="RUN=REASON",
                        help="record RUN as not measured, with REASON (repeatable)")
    common.add_output_options(parser, "medical_breastmnist")
    args = parser.parse_args(argv)
    results_path = args.results
    if args.render_only:
        text = render(json.loads(results_path.read_text(encoding="utf-8")))
    else:
        if not npz_path().is_file():
            print(f"BreastMNIST not found at {npz_path()}; set TRANSFERKIT_DATA_DIR", file=sys.stderr)
            return 2
        stages = {s.strip() for s in args.stages.split(",") if s.strip()}
        seeds = [int(s) for s in args.seeds.split(",")][: 1 if args.quick else None]
        runs = ["preset"] if args.quick else [r.strip() for r in args.runs.split(",") if r.strip()]
        unknown = [r for r in runs if r not in RUNS]
        if unknown:
            print(f"unknown run(s) {unknown}; known: {', '.join(RUNS)}", file=sys.stderr)
            return 2
        results = common.start_results(results_path, args.reuse, {
            "preset_choice": preset_choice(), "date": time.strftime("%Y-%m-%d"), "machine": common.machine(), "n_seeds": len(seeds),
            "commands": [common.command_line("medical_breastmnist.py", argv)]})
        if "select" in stages:
            cv = {"folds": 5, "repeats": 1 if args.quick else 3, "inner_folds": 3, "seed": 0}
            results["selection"] = select_features(args.work, cv)
            common.save_results(results_path, results)
        for item in args.skip:
            run, _, reason = item.partition("=")
            results["runs"][run] = common.not_measured(reason or "not run")
        if "runs" in stages:
            for run in runs:
                results["runs"][run] = {"seeds": []}
                for seed in seeds:
                    results["runs"][run]["seeds"].append(cli_run(args.work, run, seed))
                    print(f"{run} seed {seed}: {results['runs'][run]['seeds'][-1]}", flush=True)
                    common.save_results(results_path, results)
        common.save_results(results_path, results)
        text = render(results)
    return common.publish(args, SECTION, text)


if __name__ == "__main__":
    raise SystemExit(main())
