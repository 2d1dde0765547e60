"""AG News learning curve: transferkit (frozen and fine-tuned MiniLM) against TF-IDF + logistic regression.

The mirror holds AG News' official test split (7,600 articles, 1,900 per class). It is split 50/50 per
class with a fixed seed into a training pool and a test set (3,800 each), both written as CSV so that the
same files serve the command-line acceptance check:

    transferkit train --domain nlp --data WORK/train.csv --per-class 32 --out M
    transferkit evaluate M --data WORK/test.csv --json

Each row of the curve takes 8, 32 or 128 labelled articles per class from the pool (the same draw as
``--per-class``: ``sample_per_class`` with seed 0), or all of it. transferkit holds 20% of those labels
out for validation, as the CLI does; TF-IDF gets every label and picks its C by cross-validation.
The table is printed and written into docs/benchmarks.md under "## NLP: AG News" (other sections of
that file are left as they are).

    python benchmarks/nlp_agnews.py                 # 8, 32, 128 and all; a long run on a CPU
    python benchmarks/nlp_agnews.py --sizes 32      # the acceptance point only
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## NLP: AG News"


def data_dir() -> Path:
    return Path(os.environ.get("TRANSFERKIT_DATA_DIR", ROOT.parent / "shared" / "datasets"))


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


def run_transferkit(train_csv: Path, test, per_class: int | None, strategy: str, out: Path, **overrides) -> dict:
    import transferkit as tk

    started = time.time()
    run = tk.fit("nlp", train_csv, per_class=per_class, strategy=strategy, out=out, **overrides)
    fit_s = time.time() - started
    metrics = tk.evaluate(out, test)
    return {"accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"], "strategy": run.model.plan.strategy,
            "fit_s": fit_s, "kept": kept_epoch(run.history, run.model.plan)}


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


def render(rows: list[dict], meta: dict) -> str:
    lines = [
        SECTION,
        "",
        f"AG News topic classification (4 classes). The mirror's 7,600 articles are split 50/50 per class with "
        f"seed {meta['seed']}: a training pool of 3,800 and a test set of {meta['n_test']:,}. Labels per class are "
        "drawn from the pool as `--per-class` does; transferkit holds 20% of them out for validation. "
        "Backbone: all-MiniLM-L6-v2 (offline package), preset `nlp/general`. *frozen* is a linear probe "
        "(logistic regression on cached features); *fine-tuned* trains the encoder "
        "(freeze-unfreeze, or full where `auto` chooses it). TF-IDF: word 1-2 grams + logistic regression, "
        "C by cross-validation, trained on every label. At 8 labels a class (6 for training after the hold-out) "
        "`auto` chooses the linear probe; the fine-tuned column forces freeze-unfreeze there to show why.",
        "",
        "| labels / class | TF-IDF + LR acc | F1 | transferkit frozen acc | F1 | transferkit fine-tuned acc | F1 | "
        "fine-tuned strategy | epoch kept | fine-tune time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        t, f, ft = row["tfidf"], row["frozen"], row["finetuned"]
        best = max(t["accuracy"], f["accuracy"], ft["accuracy"])

        def acc(result: dict) -> str:  # the row's best accuracy in bold
            return f"**{result['accuracy']:.3f}**" if result["accuracy"] == best else f"{result['accuracy']:.3f}"

        lines.append(
            f"| {row['label']} | {acc(t)} | {t['f1_macro']:.3f} | {acc(f)} | {f['f1_macro']:.3f} "
            f"| {acc(ft)} | {ft['f1_macro']:.3f} | {ft['strategy']} | {ft.get('kept', '-')} "
            f"| {ft['fit_s'] / 60:.1f} min |"
        )
    lines += [
        "",
        f"Measured {meta['date']} on {meta['machine']} (CPU only, torch threads: {meta['threads']}); "
        f"command: `{meta['command']}`. Times are wall-clock on a machine shared with other jobs: indicative only. "
        "*epoch kept*: the epoch with the best validation accuracy, restored at the end; \"head only\" means "
        "fine-tuning the encoder never beat the head on validation, so the model kept is the head on the "
        "pretrained encoder.",
        *acceptance_lines(meta),
        "Published reference (full 120k training set, not comparable in size): TF-IDF n-grams 0.924 "
        "(Zhang et al. 2015), fine-tuned BERT-base 0.9475 (Sun et al. 2019).",
        "",
    ]
    return "\n".join(lines)


def acceptance_lines(meta: dict) -> list[str]:
    """The command-line acceptance run, when its figures were recorded in results.json (``acceptance``)."""
    acc = meta.get("acceptance")
    if not acc:
        return []
    return [
        "",
        "Acceptance run, exactly as a user types it (default preset `nlp/general`, `auto` chose freeze-unfreeze):",
        "",
        "```",
        "transferkit train --domain nlp --data WORK/train.csv --per-class 32 --out M",
        "transferkit evaluate M --data WORK/test.csv --json",
        "```",
        "",
        f"accuracy **{acc['accuracy']:.3f}**, macro-F1 {acc['f1_macro']:.3f}, AUROC {acc['auroc']:.3f} on "
        f"{acc['n']:,} test articles, against {acc['tfidf']:.3f} for TF-IDF with the same 32 labels a class and "
        f"{acc['frozen']:.3f} for the frozen linear probe.",
        "",
    ]


def write_section(doc: Path, text: str) -> None:
    """Replace this benchmark's section of ``doc`` (up to the next '## ' heading), or append it."""
    current = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        # Everything outside the section is kept byte for byte (other benchmarks own it).
        updated = pattern.sub(lambda m: text.rstrip("\n") + ("\n\n" if m.end() < len(current) else "\n"), current,
                              count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="8,32,128,all", help="labels per class, comma-separated; 'all' = pool")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "transferkit-agnews")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-epochs", type=int, default=3, help="epochs for the fine-tuned run on all labels")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    parser.add_argument("--render-only", action="store_true", help="rewrite the doc section from WORK/results.json")
    parser.add_argument("--reuse", action="store_true", help="keep rows already in WORK/results.json (a resumed run)")
    args = parser.parse_args(argv)
    if args.render_only:
        saved = json.loads((args.work / "results.json").read_text(encoding="utf-8"))
        write_section(args.doc, render(saved["rows"], saved["meta"]))
        print(f"wrote {SECTION!r} into {args.doc}")
        return 0

    source = data_dir() / "ag-news" / "test.csv"
    if not source.is_file():
        print(f"AG News not found at {source}; set TRANSFERKIT_DATA_DIR", file=sys.stderr)
        return 2
    import torch

    from transferkit.core.data import sample_per_class
    from transferkit.core.select import get_domain

    train_csv, test_csv = make_splits(source, args.work, args.seed)
    print(f"splits: {train_csv} {test_csv}", flush=True)
    domain = get_domain("nlp")
    pool, test = domain.read(train_csv), domain.read(test_csv)
    results = args.work / "results.json"
    done = {}
    if args.reuse and results.is_file():
        done = {row["size"]: row for row in json.loads(results.read_text(encoding="utf-8"))["rows"] if "size" in row}
    rows = []
    for size in args.sizes.split(","):
        if size in done:
            rows.append(done[size])
            continue
        per_class = None if size == "all" else int(size)
        labelled = pool if per_class is None else sample_per_class(pool, per_class, args.seed)
        label = f"all ({len(labelled) // 4})" if per_class is None else str(per_class)
        row: dict = {"label": label, "size": size}
        row["tfidf"] = scores(test.labels, tfidf_baseline(labelled.items, labelled.labels, test.items))
        print(label, "tfidf", row["tfidf"], flush=True)
        row["frozen"] = run_transferkit(train_csv, test, per_class, "linear-probe", args.work / f"frozen-{size}",
                                        seed=args.seed)
        print(label, "frozen", row["frozen"], flush=True)
        strategy = "freeze-unfreeze" if per_class is not None and per_class * 0.8 <= 20 else "auto"
        extra = {"epochs": args.all_epochs} if per_class is None else {}
        row["finetuned"] = run_transferkit(train_csv, test, per_class, strategy, args.work / f"finetuned-{size}",
                                           seed=args.seed, **extra)
        print(label, "fine-tuned", row["finetuned"], flush=True)
        rows.append(row)
        # Saved after every row: a long CPU run that is cut off resumes with --reuse.
        results.write_text(json.dumps({"rows": rows, "meta": {}}, indent=2), encoding="utf-8")
    meta = {
        "seed": args.seed,
        "n_test": len(test),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "threads": torch.get_num_threads(),
        "command": "python benchmarks/nlp_agnews.py" + (f" --sizes {args.sizes}" if args.sizes != "8,32,128,all" else ""),
    }
    text = render(rows, meta)
    print(text)
    results.write_text(json.dumps({"rows": rows, "meta": meta}, indent=2), encoding="utf-8")
    if not args.no_doc:
        write_section(args.doc, text)
        print(f"wrote {SECTION!r} into {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
