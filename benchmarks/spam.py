"""Spam: SMS Spam Collection and Enron-Spam mailbox 1, both model families, generic to specific, throughput.

1. **Corpora.** Each corpus is split 80/20, stratified, once per seed (``stratified_split(all, 0.2, seed)``):
   the 80% trains (transferkit holds out 20% of it for validation: C, calibration check and the threshold
   are chosen there), the 20% is the test set and chooses nothing. SMS uses ``--preset spam/sms`` (the
   acceptance run), Enron ``spam/generic``. Families: ``spam/tfidf-linear`` and the MiniLM encoder
   (``spam/all-minilm-l6-v2``, linear probe; its runs also fit the TF-IDF baseline on the same split).
   Figures: accuracy, spam F1, AUROC and the false-positive rate on legitimate mail at the chosen threshold.
2. **Generic to specific.** A generic TF-IDF model is trained on all of one corpus; the other corpus is
   split 70/30 (seed 0) into a label pool and a test set (a stratified 1,000 of the 30%); 50 or 200
   labelled messages are drawn from the
   pool per seed (stratified) and trained (a) from the generic artifact (``--model <generic>``: the run
   chooses by cross-validation on its training labels between the labels alone, the generic head as a
   prior, replay of the artifact's training sample and feature augmentation) and (b) alone (``--model
   spam/tfidf-linear``), both with ``spam/generic``, scored on the test set. The choice of each seed and
   the generic artifact's size are recorded.
3. **Throughput.** Messages per second of ``predict_proba`` for each family on 1,000 test messages of each
   corpus, in-process after loading (the command's start-up is not counted).

Runs use the Python API (``tk.fit``: what ``transferkit train`` calls) in one process, to pay the import
cost once on a shared CPU. Results go to benchmarks/results/spam.json (``--results``); the section "## Spam: SMS and Enron-Spam" of
docs/benchmarks.md and the section "## Figures" of docs/spam.md (``--guide``) are rendered from that file only,
and a cell not measured says so and why.

    python benchmarks/spam.py                                   # every part, TF-IDF and MiniLM, 3 seeds
    python benchmarks/spam.py --families tfidf                   # the fast family only
    python benchmarks/spam.py --skip "enron/minilm=reason" --reuse    # record a gap
    python benchmarks/spam.py --render-only                      # docs section from the saved results
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

SECTION = "## Spam: SMS and Enron-Spam"
FAMILIES = {"tfidf": "spam/tfidf-linear", "minilm": "spam/all-minilm-l6-v2"}
FAMILY_NAMES = {"tfidf": "TF-IDF + calibrated logistic regression (`spam/tfidf-linear`)",
                "minilm": "MiniLM-L6 encoder, linear probe (`spam/all-minilm-l6-v2`)"}
CORPORA = {"sms": "spam/sms", "enron": "spam/generic"}
CORPUS_NAMES = {"sms": "SMS Spam Collection", "enron": "Enron-Spam mailbox 1"}
SIZES = (50, 200)
TRANSFER_TEST = 1000
PARTS = ("corpora", "transfer", "speed")


def read_corpus(name: str) -> Any:
    from transferkit.core.select import get_domain

    root = common.data_dir()
    path = root / "sms-spam" / "SMSSpamCollection" if name == "sms" else root / "enron-spam" / "enron1"
    options = {} if name == "sms" else {"encoding": "latin-1"}
    try:
        return get_domain("spam").read(path, options=options)
    except Exception:  # the e-mail reader takes no encoding option: it detects the charset itself
        return get_domain("spam").read(path)


def figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's figures from a transferkit metrics dict."""
    binary = metrics.get("binary") or {}
    return {"accuracy": metrics["accuracy"], "spam_f1": metrics["per_class"]["spam"]["f1"],
            "auroc": metrics.get("auroc"), "fpr": binary.get("false_positive_rate"),
            "recall": binary.get("sensitivity"), "threshold": binary.get("threshold"), "n": metrics["n"]}


def run_corpus(corpus: str, family: str, seed: int, data: Any, work: Path) -> dict[str, Any]:
    import transferkit as tk
    from transferkit.core.data import stratified_split

    train, test = stratified_split(data, 0.2, seed)
    started = time.perf_counter()
    run = tk.fit("spam", train, test=test, preset=CORPORA[corpus], model=FAMILIES[family], seed=seed,
                 out=work / "models" / f"{corpus}-{family}-{seed}")
    row = {"seed": seed, "seconds": time.perf_counter() - started, **figures(run.metrics["test"])}
    meta = json.loads((work / "models" / f"{corpus}-{family}-{seed}" / "transferkit.json").read_text())
    baseline = (meta.get("baselines") or {}).get("spam/tfidf-linear")
    if baseline:
        row["baseline"] = figures(baseline)
    return row


def run_transfer(source: str, target: str, sizes: list[int], seeds: list[int], corpora: dict[str, Any], work: Path,
                 results: dict[str, Any], save: Any) -> None:
    import transferkit as tk
    from transferkit.core.data import stratified_split

    generic_dir = work / "models" / f"generic-{source}"
    if not (generic_dir / "transferkit.json").is_file():
        tk.fit("spam", corpora[source], preset="spam/generic", model="spam/tfidf-linear", out=generic_dir)
    files = {p.name: p.stat().st_size for p in generic_dir.iterdir() if p.is_file()}
    results["runs"][f"generic/{source}"] = {"messages": len(corpora[source]), "files": files,
                                            "megabytes": sum(files.values()) / 1e6}
    pool, test = stratified_split(corpora[target], 0.3, 0)
    if len(test) > TRANSFER_TEST:  # a stratified 1,000 of the 30%: the test set is vectorized for every run
        _, test = stratified_split(test, TRANSFER_TEST / len(test), 0)
    for size in sorted(sizes, reverse=True):  # the acceptance size (200) first
        for arm in ("adapted", "alone"):
            results["runs"][f"transfer/{source}-{target}/{size}/{arm}"] = {"seeds": []}  # a rerun replaces
        for seed in seeds:
            _, few = stratified_split(pool, size / len(pool), seed)
            for arm, model in (("adapted", str(generic_dir)), ("alone", "spam/tfidf-linear")):
                started = time.perf_counter()
                run = tk.fit("spam", few, test=test, preset="spam/generic", model=model, seed=seed)
                row = {"seed": seed, "labels": len(few), "seconds": time.perf_counter() - started,
                       "f1_macro": run.metrics["test"]["f1_macro"], **figures(run.metrics["test"])}
                chosen = next((h for h in run.history if h.get("chosen") and "carry" in h), None)
                if chosen is not None:  # which carry-over cross-validation on the training labels chose
                    row["carry"] = {k: chosen[k] for k in ("carry", "strength", "C", "cv_roc_auc") if k in chosen}
                results["runs"][f"transfer/{source}-{target}/{size}/{arm}"]["seeds"].append(row)
                print(f"transfer {source}->{target} {size} {arm} seed {seed}: f1_macro {row['f1_macro']:.4f} "
                      f"auroc {row['auroc']:.4f} {row.get('carry', '')} ({row['seconds']:.0f} s)", flush=True)
                save()


def run_speed(family: str, corpus: str, data: Any, work: Path) -> dict[str, Any]:
    import transferkit as tk
    from transferkit.core.data import stratified_split

    folder = work / "models" / f"{corpus}-{family}-0"
    if not (folder / "transferkit.json").is_file():
        return common.not_measured(f"no {corpus} {family} model trained in this run")
    model = tk.load(folder)
    _, test = stratified_split(data, 0.2, 0)
    items = test.items[:1000]
    model.predict_proba(items[:64])  # warm-up: first-call costs are not throughput
    started = time.perf_counter()
    model.predict_proba(items)
    seconds = time.perf_counter() - started
    return {"messages": len(items), "seconds": seconds, "per_second": len(items) / seconds}


def _carry_cell(carry: dict[str, Any] | None) -> str:
    """What one seed's cross-validation chose, e.g. ``augment s=1 (CV 0.981)``."""
    if not carry:
        return ""
    strength = "" if carry.get("carry") == "alone" else f" s={carry.get('strength', 0):g}"
    score = f" (CV {carry['cv_roc_auc']:.3f})" if carry.get("cv_roc_auc") is not None else ""
    return f"{carry.get('carry')}{strength}{score}"


def _corpus_runs(runs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(corpus, family, result) of each corpus run measured or recorded, in the tables' order."""
    return [(corpus, family, runs[f"{corpus}/{family}"]) for corpus in CORPORA for family in FAMILIES
            if f"{corpus}/{family}" in runs]


def _figure_cells(result: dict[str, Any], digits: int) -> str:
    """A corpus run's figures and train time, as table cells."""
    return (" | ".join(common.cell(result, k, digits) for k in ("accuracy", "spam_f1", "auroc", "fpr"))
            + f" | {common.time_cell(result)}")


def render(results: dict[str, Any]) -> str:
    """The docs section, from results.json only."""
    meta, runs = results["meta"], results.get("runs", {})
    lines = [SECTION, "",
             f"Measured {meta.get('date', '')} on {meta.get('machine', '')} (a CPU shared with other jobs: "
             "times are upper bounds). Test figures, mean ± sd over seeds; the false-positive rate is the share "
             "of legitimate mail flagged at the threshold the preset's policy chose on validation data.", ""]
    lines += ["| corpus | model | accuracy | spam F1 | AUROC | legit-mail FPR | train time |",
              "|---|---|---|---|---|---|---|"]
    for corpus, family, result in _corpus_runs(runs):
        lines.append(f"| {CORPUS_NAMES[corpus]} (`{CORPORA[corpus]}`) | {FAMILY_NAMES[family]} | "
                     f"{_figure_cells(result, 4)} |")
        if "seeds" in result and any("baseline" in s for s in result["seeds"]):
            base = {"seeds": [s["baseline"] for s in result["seeds"] if "baseline" in s]}
            lines.append("| | TF-IDF baseline fitted by the same run, same split | "
                         + " | ".join(common.cell(base, k, 4) for k in ("accuracy", "spam_f1", "auroc", "fpr"))
                         + " | |")
    sms = runs.get("sms/tfidf")
    if sms and "seeds" in sms:
        ok = all(s["accuracy"] >= 0.985 and s["spam_f1"] >= 0.94 for s in sms["seeds"])
        lines += ["", f"Acceptance (SMS, fixed-seed 80/20 split, `--preset spam/sms`, accuracy >= 0.985 and spam "
                  f"F1 >= 0.94): {'met on every seed' if ok else 'NOT met on every seed'} "
                  "(" + ", ".join(f"seed {s['seed']}: {s['accuracy']:.4f} / {s['spam_f1']:.4f}" for s in sms["seeds"]) + ")."]
    transfer = sorted({key.split("/")[1] for key in runs if key.startswith("transfer/")})
    if transfer:
        lines += ["", "Generic to specific (TF-IDF family): a generic model trained on all of one corpus, adapted "
                  "with N labels of the other, against the same N labels alone; test figures on 1,000 held-out "
                  "messages of the target corpus. The adapted run chooses how to carry the generic model over "
                  "(alone, its head as a prior, replay of its stored training sample, or feature augmentation) "
                  "by 3-fold cross-validation (AUROC) on its own training labels; 'chosen' lists what each seed "
                  "chose.", "",
                  "| generic -> target | labels | arm | seeds | macro-F1 | spam F1 | AUROC | legit-mail FPR | chosen |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for pair in transfer:
            source, target = pair.split("-")
            for size in SIZES:
                for arm in ("adapted", "alone"):
                    result = runs.get(f"transfer/{pair}/{size}/{arm}")
                    if result is None:
                        continue
                    name = "adapted from generic" if arm == "adapted" else "these labels alone"
                    seeds = len(result.get("seeds", []))
                    if "not_measured" in result:  # one reason for the row, not one per cell
                        lines.append(f"| {CORPUS_NAMES[source]} -> {CORPUS_NAMES[target]} | {size} | "
                                     f"{'adapted from generic' if arm == 'adapted' else 'these labels alone'} | 0 | "
                                     f"not measured ({result['not_measured']}) | - | - | - | |")
                        continue
                    chosen = ", ".join(_carry_cell(s.get("carry")) for s in result.get("seeds", []) if "carry" in s)
                    lines.append(f"| {CORPUS_NAMES[source]} -> {CORPUS_NAMES[target]} | {size} | {name} | {seeds} | "
                                 + " | ".join(common.cell(result, k, 4) for k in ("f1_macro", "spam_f1", "auroc", "fpr"))
                                 + f" | {chosen} |")
        sizes = [f"{CORPUS_NAMES[key.split('/')[1]]} {value['megabytes']:.1f} MB"
                 for key, value in sorted(runs.items()) if key.startswith("generic/")]
        if sizes:
            lines += ["", "Generic artifacts (model, idf and the bounded training sample replay needs): "
                      + "; ".join(sizes) + "."]
    speed = {k: v for k, v in runs.items() if k.startswith("speed/")}
    if speed:
        lines += ["", "Throughput of `predict` (in-process, after loading, 1,000 test messages):", "",
                  "| model | corpus | messages per second |", "|---|---|---|"]
        for key, value in sorted(speed.items()):
            _, family, corpus = key.split("/")
            cell = f"not measured ({value['not_measured']})" if "not_measured" in value else f"{value['per_second']:,.0f}"
            lines.append(f"| {FAMILY_NAMES[family]} | {CORPUS_NAMES[corpus]} | {cell} |")
    lines += ["", f"commands: {common.commands_text(meta)}; results: `benchmarks/results/spam.json`."]
    return "\n".join(lines) + "\n"


GUIDE = common.ROOT / "docs" / "spam.md"
GUIDE_SECTION = "## Figures"


def _paired(adapted: dict[str, Any], alone: dict[str, Any]) -> tuple[str, int]:
    """Macro-F1 of each seed, adapted against alone, and on how many seeds the adapted run is level or ahead.

    Example:
        >>> _paired({"seeds": [{"seed": 0, "f1_macro": 0.9}, {"seed": 1, "f1_macro": 0.8}]},
        ...         {"seeds": [{"seed": 0, "f1_macro": 0.85}, {"seed": 1, "f1_macro": 0.82}]})
        ('0.900 / 0.850, 0.800 / 0.820', 1)
    """
    alone_by_seed = {s["seed"]: s["f1_macro"] for s in alone.get("seeds", [])}
    pairs = [(s["f1_macro"], alone_by_seed[s["seed"]]) for s in adapted.get("seeds", []) if s["seed"] in alone_by_seed]
    return ", ".join(f"{a:.3f} / {b:.3f}" for a, b in pairs), sum(a >= b for a, b in pairs)


def render_guide(results: dict[str, Any]) -> str:
    """docs/spam.md's "## Figures" section, from results.json only: what a reader of the guide needs, with
    the full tables and commands left to docs/benchmarks.md."""
    meta, runs = results["meta"], results.get("runs", {})
    lines = [GUIDE_SECTION, "",
             f"Written by `benchmarks/spam.py` from `benchmarks/results/spam.json`; the full tables and the commands "
             f"are in [benchmarks.md](benchmarks.md#spam-sms-and-enron-spam). Measured {meta.get('date', '')} on "
             f"{meta.get('machine', '')}, a CPU shared with other jobs, so times are upper bounds. Fixed-seed 80/20 "
             "splits, test figures, mean ± sd over seeds; nothing is chosen on the test split. 'Legitimate mail "
             "flagged' is the test false-positive rate at the threshold the preset chose on validation data.", "",
             "| corpus, preset | model | accuracy | spam F1 | AUROC | legitimate mail flagged | train time |",
             "|---|---|---|---|---|---|---|"]
    for corpus, family, result in _corpus_runs(runs):
        lines.append(f"| {CORPUS_NAMES[corpus]}, `{CORPORA[corpus]}` | `{FAMILIES[family]}` | "
                     f"{_figure_cells(result, 3)} |")
    sms = runs.get("sms/tfidf")
    if sms and "seeds" in sms:
        ok = all(s["accuracy"] >= 0.985 and s["spam_f1"] >= 0.94 for s in sms["seeds"])
        rates = [s["fpr"] for s in sms["seeds"] if s.get("fpr") is not None]
        lines += ["", f"The SMS acceptance figures (`spam/tfidf-linear`, accuracy >= 0.985 and spam F1 >= 0.94) are "
                  f"{'met on every seed' if ok else 'not met on every seed'}. The false-positive bound of `spam/sms` "
                  "(0.5%) is applied on validation data, so the test rate scatters around it"
                  + (f" ({min(rates):.2%} to {max(rates):.2%})." if rates else ".")]
    speed = {k: v for k, v in runs.items() if k.startswith("speed/") and "per_second" in v}
    if speed:
        parts = [f"{value['per_second']:,.0f} {'SMS' if key.endswith('/sms') else 'e-mails'} a second for "
                 f"`{FAMILIES[key.split('/')[1]]}`" for key, value in sorted(speed.items())]
        lines += ["", "Throughput of `predict` (in-process, after loading, 1,000 test messages): " + "; ".join(parts) + "."]
    artifacts = [f"{CORPUS_NAMES[key.split('/')[1]]} {value['megabytes']:.1f} MB ("
                 + ", ".join(f"`{name}` {size / 1e6:.1f} MB" for name, size in sorted(value["files"].items())
                             if size >= 5e5) + ")"
                 for key, value in sorted(runs.items()) if key.startswith("generic/") and "files" in value]
    if artifacts:
        lines += ["", "A generic TF-IDF model trained on all of a corpus, on disk (files of 0.5 MB and more): "
                  + "; ".join(artifacts) + "."]
    pairs = sorted({key.split("/")[1] for key in runs if key.startswith("transfer/")})
    rows = []
    for pair in pairs:
        source, target = pair.split("-")
        for size in SIZES:
            adapted, alone = runs.get(f"transfer/{pair}/{size}/adapted"), runs.get(f"transfer/{pair}/{size}/alone")
            if not adapted or not alone or "not_measured" in adapted or "not_measured" in alone:
                continue
            chosen = ", ".join(_carry_cell(s.get("carry")).split(" (")[0] for s in adapted["seeds"] if "carry" in s)
            per_seed, ahead = _paired(adapted, alone)
            rows.append(f"| {CORPUS_NAMES[source]} -> {CORPUS_NAMES[target]} | {size} | "
                        f"{common.cell(adapted, 'f1_macro')} ({common.cell(adapted, 'auroc')}) | "
                        f"{common.cell(alone, 'f1_macro')} ({common.cell(alone, 'auroc')}) | {chosen} | "
                        f"{per_seed} ({ahead} of {len(adapted['seeds'])}) |")
    if rows:
        lines += ["", "Generic to specific (`spam/tfidf-linear`, preset `spam/generic`; see "
                  "[Generic to specific](#generic-to-specific)): macro-F1 (AUROC) on 1,000 held-out messages of the "
                  "target corpus, adapted from the generic model against the same labels alone; the carry-over each "
                  "seed's cross-validation chose; macro-F1 per seed, adapted / alone (seeds on which the adapted run "
                  "is level or ahead).", "",
                  "| generic -> target | labels | adapted | the same labels alone | carry-over chosen | per seed |",
                  "|---|---|---|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--families", default="tfidf,minilm", help="comma list of: tfidf, minilm")
    parser.add_argument("--corpora", default="sms,enron", help="comma list of: sms, enron")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of: {', '.join(PARTS)}")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="labels for generic to specific")
    parser.add_argument("--pairs", default="enron-sms,sms-enron", help="generic-target corpus pairs to adapt")
    parser.add_argument("--skip", action="append", default=[], metavar="KEY=REASON",
                        help="record a run (e.g. enron/minilm) as not measured, with the reason (repeatable)")
    common.add_output_options(parser, "spam")
    parser.add_argument("--guide", type=Path, default=GUIDE, help="the guide whose '## Figures' section is written")
    args = parser.parse_args(argv)
    results_path = args.results
    if args.render_only:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    else:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        families = [f for f in args.families.split(",") if f]
        corpus_names = [c for c in args.corpora.split(",") if c]
        parts = [p for p in args.parts.split(",") if p]
        results = common.start_results(results_path, args.reuse, {
            "commands": [common.command_line("spam.py", argv)], "machine": common.machine(),
            "date": time.strftime("%Y-%m-%d"), "seeds": seeds})

        def save() -> None:
            common.save_results(results_path, results)

        for item in args.skip:
            key, _, reason = item.partition("=")
            results["runs"][key] = common.not_measured(reason or "skipped")
        save()
        corpora = {name: read_corpus(name) for name in corpus_names}
        if "corpora" in parts:
            for corpus in corpus_names:
                for family in families:
                    key = f"{corpus}/{family}"
                    if "not_measured" in results["runs"].get(key, {}):
                        continue
                    results["runs"][key] = {"seeds": []}
                    for seed in seeds:
                        row = run_corpus(corpus, family, seed, corpora[corpus], args.work)
                        results["runs"][key]["seeds"].append(row)
                        print(f"{key} seed {seed}: accuracy {row['accuracy']:.4f} spam F1 {row['spam_f1']:.4f} "
                              f"AUROC {row['auroc']:.4f} FPR {row['fpr']:.4f} ({row['seconds']:.0f} s)", flush=True)
                        save()
        if "transfer" in parts and len(corpus_names) == 2:
            sizes = [int(s) for s in args.sizes.split(",") if s]
            for source, target in (pair.split("-") for pair in args.pairs.split(",") if pair):
                run_transfer(source, target, sizes, seeds, corpora, args.work, results, save)
        if "speed" in parts:
            for family in families:
                for corpus in corpus_names:
                    key = f"speed/{family}/{corpus}"
                    if "not_measured" not in results["runs"].get(key, {}):
                        results["runs"][key] = run_speed(family, corpus, corpora[corpus], args.work)
                        save()
    code = common.publish(args, SECTION, render(results))
    guide = render_guide(results)
    print(guide)
    if not args.no_doc:  # the guide's figures come from the same results, never typed by hand
        common.write_section(args.guide, GUIDE_SECTION, guide)
        print(f"wrote {GUIDE_SECTION!r} into {args.guide}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
