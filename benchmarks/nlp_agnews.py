"""AG News learning curve: transferkit (frozen and fine-tuned MiniLM) against TF-IDF + logistic regression.

The mirror holds AG News' official test split (7,600 articles, 1,900 per class). It is split 50/50 per
class with a fixed seed (0) into a training pool and a test set (3,800 each), written as CSV so that
the commands are exactly what a user types. Each cell of the curve is run once per seed: a seed draws
the labelled articles from the pool (``--per-class``: ``sample_per_class``), transferkit's 20%
validation hold-out from them, and the training randomness. transferkit cells are the CLI::

    transferkit train --domain nlp --data WORK/train.csv --per-class 32 --seed S --out M    # + --strategy
    transferkit evaluate M --data WORK/test.csv --json

The fine-tuned cell at 32 labels a class is the acceptance command itself (no --strategy: ``auto``).
TF-IDF gets every label and picks its C by cross-validation on them (its own selection rule: the
test set chooses nothing for any row). Results go to benchmarks/results/nlp_agnews.json; the section "## NLP: AG News"
of docs/benchmarks.md is rendered from that file only, and a cell not measured says so and why.

    python benchmarks/nlp_agnews.py --seeds 0,1,2                         # every cell; many hours on a CPU
    python benchmarks/nlp_agnews.py --sizes 32 --cells fine-tuned         # the acceptance cell
    python benchmarks/nlp_agnews.py --skip "all/fine-tuned=about 25 min a seed" --reuse   # record a gap
    python benchmarks/nlp_agnews.py --quick                               # 32 labels, first seed
    python benchmarks/nlp_agnews.py --render-only                         # docs section from results.json
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = common.ROOT
SECTION = "## NLP: AG News"
SIZES = ["8", "32", "128", "all"]
CELLS = ["tfidf", "frozen", "fine-tuned"]
SPLIT_SEED = 0
ALL_EPOCHS = 3


def data_dir() -> Path:
    return common.data_dir()


def make_splits(source: Path, work: Path, seed: int = 0) -> tuple[Path, Path]:
    """Split AG News 50/50 per class with ``seed`` into ``work/train.csv`` and ``work/test.csv``."""
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    rng = np.random.default_rng(seed)
    train, test = [], []
    labels = np.array([r[0] for r in body])
    for label in sorted(set(labels)):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        half = len(idx) // 2
        train += idx[:half].tolist()
        test += idx[half:].tolist()
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, idx in (("train", sorted(train)), ("test", sorted(test))):
        path = work / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(body[i] for i in idx)
        paths.append(path)
    return paths[0], paths[1]


def tfidf_baseline(train_texts: list[str], train_labels: list[str], test_texts: list[str]) -> list[str]:
    """Word 1-2-gram TF-IDF (sublinear tf) + logistic regression, C chosen by stratified CV."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    per_class = min(np.unique(train_labels, return_counts=True)[1])
    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, strip_accents="unicode"),
        LogisticRegression(max_iter=3000),
    )
    folds = StratifiedKFold(n_splits=int(min(5, per_class)), shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"logisticregression__C": [1, 10, 100]}, cv=folds, scoring="accuracy")
    search.fit(train_texts, train_labels)
    return list(search.predict(test_texts))


def scores(truth: list[str], predicted: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, predicted)),
            "f1_macro": float(f1_score(truth, predicted, average="macro"))}


def kept_epoch(history: list[dict], plan) -> str:
    """Which epoch the run kept (the first best on validation), and whether the encoder had trained by then."""
    key = f"val_{plan.train['metric']}"
    rows = [r for r in history if r.get("epoch") is not None and r.get(key) is not None]
    if not rows:
        return "-"
    best = max(rows, key=lambda r: r[key])  # max() keeps the first of equal scores, as the checkpoint does
    starts = [g.unfreeze_epoch for g in plan.groups if g.unfreeze_epoch is not None]
    if plan.strategy == "freeze-unfreeze" and starts and best["epoch"] < min(starts):
        return f"{best['epoch']} (head only)"
    return str(best["epoch"])


def strategy_for(size: str) -> str | None:
    """The fine-tuned cell's strategy: ``auto`` (None: what a user gets) except where auto picks the probe.

    At 8 labels a class (6 after the hold-out) ``auto`` chooses the linear probe; that cell forces
    freeze-unfreeze to show why.

    Example:
        >>> strategy_for("8"), strategy_for("32"), strategy_for("all")
        ('freeze-unfreeze', None, None)
    """
    return "freeze-unfreeze" if size != "all" and int(size) * 0.8 <= 20 else None


def cli_cell(work: Path, size: str, cell: str, seed: int) -> dict[str, Any]:
    """One transferkit cell through the CLI: train on the pool, evaluate on the test set."""
    from transferkit.core.configure import TransferPlan

    out = work / "runs" / f"{cell}-{size}-seed{seed}"
    if out.exists():
        raise SystemExit(f"{out} exists (transferkit never overwrites a model): remove it or pass --work")
    args = [*common.cli(), "train", "--domain", "nlp", "--data", str(work / "train.csv")]
    if size != "all":
        args += ["--per-class", size]
    strategy = "linear-probe" if cell == "frozen" else strategy_for(size)
    if strategy:
        args += ["--strategy", strategy]
    if size == "all" and cell == "fine-tuned":
        args += ["--epochs", str(ALL_EPOCHS)]
    args += ["--seed", str(seed), "--out", str(out)]
    log = work / "logs" / f"{cell}-{size}-seed{seed}.log"
    train = common.run_command(args, log)
    if train["returncode"] != 0:
        raise SystemExit(f"train failed ({cell}, {size}, seed {seed}); see {log}")
    test, usage = common.run_json([*common.cli(), "evaluate", str(out), "--data", str(work / "test.csv"), "--json"], log)
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    meta = json.loads((out / "transferkit.json").read_text(encoding="utf-8"))
    plan = TransferPlan.from_dict(meta["plan"])
    return {"seed": seed, "accuracy": test["accuracy"], "f1_macro": test["f1_macro"], "auroc": test.get("auroc"),
            "n_test": test["n"], "val_accuracy": saved["metrics"].get("val", {}).get("accuracy"),
            "strategy": plan.strategy, "kept": kept_epoch(saved.get("history", []), plan),
            "command": " ".join(args[len(common.cli()):]),
            "seconds": train["seconds"] + usage["seconds"],
            "peak_rss_mib": max(train["peak_rss_mib"], usage["peak_rss_mib"])}


def tfidf_cell(pool: Any, test: Any, size: str, seed: int) -> dict[str, Any]:
    """TF-IDF + logistic regression on the same labelled draw as ``--per-class`` with this seed."""
    from transferkit.core.data import sample_per_class

    started = time.perf_counter()
    labelled = pool if size == "all" else sample_per_class(pool, int(size), seed)
    result = scores(test.labels, tfidf_baseline(labelled.items, labelled.labels, test.items))
    return {"seed": seed, **result, "n_labelled": len(labelled), "seconds": time.perf_counter() - started}


def render(results: dict[str, Any]) -> str:
    """The docs section, from results.json only."""
    meta, rows = results["meta"], results.get("runs", {})
    lines = [
        SECTION,
        "",
        f"AG News topic classification (4 classes). The mirror's 7,600 articles are split 50/50 per class with "
        f"seed {meta['split_seed']}: a training pool of 3,800 and a test set of {meta['n_test']:,} that chooses "
        "nothing. Each cell is run once per seed (the seed draws the labels, the 20% validation hold-out and "
        "the training randomness); figures are test accuracy and macro-F1, mean ± sd over seeds. Backbone: "
        "all-MiniLM-L6-v2 (offline package), preset `nlp/general`. *frozen* is a linear probe (C chosen on the "
        "validation hold-out); *fine-tuned* trains the encoder with the strategy `auto` chooses (freeze-unfreeze "
        "forced at 8 labels a class, where `auto` chooses the probe), its epoch chosen on the validation "
        "hold-out. TF-IDF: word 1-2 grams + logistic regression, C by cross-validation on its labels, trained "
        "on every label (no hold-out).",
        "",
        "| labels / class | TF-IDF + LR acc | F1 | transferkit frozen acc | F1 | transferkit fine-tuned acc | F1 | "
        "fine-tuned strategy | epoch kept (per seed) | fine-tune wall time, peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    reasons: list[str] = []  # footnotes: one per distinct reason a cell was not measured
    for size in meta.get("sizes", SIZES):
        row = rows.get(size)
        if not row:
            continue
        t, f, ft = (row.get(c) for c in CELLS)
        means = {c: np.mean([s["accuracy"] for s in r["seeds"]]) for c, r in zip(CELLS, (t, f, ft))
                 if r and r.get("seeds")}
        # Bold marks the best of at least two measured cells, never a lone survivor.
        best = max(means.values()) if len(means) > 1 else None

        def acc(cell: str, result: dict | None) -> str:
            if not result or "not_measured" in result:
                reason = result["not_measured"] if result else "not run"
                reasons.append(reason) if reason not in reasons else None
                return f"not measured [{reasons.index(reason) + 1}]"
            text = common.cell(result, "accuracy")
            return f"**{text}**" if means.get(cell) == best else text

        def f1(result: dict | None) -> str:
            return common.cell(result, "f1_macro") if result and "seeds" in result else "-"

        measured = ft and "seeds" in ft
        label = f"all ({row['n_pool'] // 4})" if size == "all" else size
        lines.append(
            f"| {label} | {acc('tfidf', t)} | {f1(t)} | {acc('frozen', f)} | {f1(f)} | {acc('fine-tuned', ft)} | {f1(ft)} "
            f"| {', '.join(sorted({s['strategy'] for s in ft['seeds']})) if measured else '-'} "
            f"| {'; '.join(s['kept'] for s in ft['seeds']) if measured else '-'} | {common.time_cell(ft)} |")
    lines += [""] + [f"[{i}] not measured: {reason}." for i, reason in enumerate(reasons, 1)]
    lines += [
        "",
        "*epoch kept*: the epoch with the best validation accuracy, restored at the end; \"head only\" means "
        "fine-tuning the encoder never beat the head on validation, so the model kept is the head on the "
        "pretrained encoder.",
        *acceptance_lines(results),
        f"Measured {meta['date']} on {meta['machine']} (shared with other jobs: times are upper bounds); "
        f"commands: {common.commands_text(meta)}; results: `benchmarks/results/nlp_agnews.json`.",
        "",
        "Published reference (full 120k training set, not comparable in size): TF-IDF n-grams 0.924 "
        "(Zhang et al. 2015), fine-tuned BERT-base 0.9475 (Sun et al. 2019).",
        "",
    ]
    return "\n".join(lines)


def acceptance_lines(results: dict[str, Any]) -> list[str]:
    """The acceptance cell (fine-tuned, 32 labels a class, the plain command) with its selection figures."""
    cell = results.get("runs", {}).get("32", {}).get("fine-tuned")
    if not cell or "seeds" not in cell:
        return [""]
    return [
        "",
        "Acceptance, the command a user types (run by the script for each seed S; it is the fine-tuned cell at "
        "32 labels a class):",
        "",
        "```",
        "transferkit train --domain nlp --data WORK/train.csv --per-class 32 --seed S --out M",
        "transferkit evaluate M --data WORK/test.csv --json",
        "```",
        "",
        f"held-out test accuracy **{common.cell(cell, 'accuracy')}**, macro-F1 {common.cell(cell, 'f1_macro')}, "
        f"AUROC {common.cell(cell, 'auroc')} on {cell['seeds'][0]['n_test']:,} test articles (seeds "
        f"{', '.join(str(s['seed']) for s in cell['seeds'])}); validation accuracy (used for selection: it "
        f"chose the epoch and C) {common.cell(cell, 'val_accuracy')}.",
        "",
    ]


def write_section(doc: Path, text: str) -> None:
    """Replace this benchmark's section of ``doc`` (up to the next '## ' heading), or append it."""
    common.write_section(doc, SECTION, text)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--sizes", default=",".join(SIZES), help="labels per class, comma-separated; 'all' = pool")
    parser.add_argument("--cells", default=",".join(CELLS), help=f"comma list of: {', '.join(CELLS)}")
    parser.add_argument("--skip", action="append", default=[], metavar="SIZE/CELL=REASON",
                        help="record a cell as not measured, with the reason (repeatable)")
    parser.add_argument("--quick", action="store_true", help="32 labels a class, the first seed")
    common.add_output_options(parser, "nlp_agnews")
    args = parser.parse_args(argv)
    results_path = args.results
    if args.render_only:
        text = render(json.loads(results_path.read_text(encoding="utf-8")))
    else:
        source = data_dir() / "ag-news" / "test.csv"
        if not source.is_file():
            print(f"AG News not found at {source}; set TRANSFERKIT_DATA_DIR", file=sys.stderr)
            return 2
        from transferkit.core.select import get_domain

        train_csv, test_csv = make_splits(source, args.work, SPLIT_SEED)
        domain = get_domain("nlp")
        pool, test = domain.read(train_csv), domain.read(test_csv)
        sizes = ["32"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
        seeds = [int(s) for s in args.seeds.split(",")][: 1 if args.quick else None]
        cells = [c.strip() for c in args.cells.split(",") if c.strip()]
        bad = [c for c in cells if c not in CELLS] + [s for s in sizes if s not in SIZES and not s.isdigit()]
        if bad:
            print(f"unknown cell(s) or size(s): {bad}", file=sys.stderr)
            return 2
        results = common.start_results(results_path, args.reuse, {
            "split_seed": SPLIT_SEED, "n_test": len(test), "date": time.strftime("%Y-%m-%d"),
            "machine": common.machine(), "commands": [common.command_line("nlp_agnews.py", argv)]})
        order = results["meta"].get("sizes", [])
        results["meta"]["sizes"] = order + [s for s in sizes if s not in order]
        for item in args.skip:
            where, _, reason = item.partition("=")
            size, _, cell = where.partition("/")
            results["meta"]["sizes"] += [] if size in results["meta"]["sizes"] else [size]
            row = results["runs"].setdefault(size, {"n_pool": len(pool)})
            row[cell] = common.not_measured(reason or "not run")
        for size in sizes:
            row = results["runs"].setdefault(size, {"n_pool": len(pool)})
            for cell in cells:
                row[cell] = {"seeds": []}
                for seed in seeds:
                    one = tfidf_cell(pool, test, size, seed) if cell == "tfidf" else cli_cell(args.work, size, cell, seed)
                    row[cell]["seeds"].append(one)
                    print(f"{size} {cell} seed {seed}: {one}", flush=True)
                    # Saved after every run: a long CPU run that is cut off keeps what it measured.
                    common.save_results(results_path, results)
        common.save_results(results_path, results)
        text = render(results)
    return common.publish(args, SECTION, text)


if __name__ == "__main__":
    raise SystemExit(main())
