"""`transferkit compare` on ants/bees (vision) and the SMS collection (nlp), 3 seeds, as docs/compare.md shows it.

1. **Runs.** Each run is the `transferkit compare` command printed in docs/compare.md, run as a child
   process (its wall time and peak memory recorded, with the machine's load average before and after):
   - ``vision``: ants/bees, ``docs/examples/compare-vision-96.toml`` (vision/general's linear probe at
     96 px), 4 and 16 labels a class, ``--epochs 4`` for the scratch network;
   - ``sms-probe``: SMS, ``docs/examples/compare-nlp-probe.toml`` (a linear probe on MiniLM), 4 and 16;
   - ``sms-probe-16``: the same at 16 alone (the same draws as ``sms-probe``'s 16: seeds choose them), a
     second process where the first could not reach 16 in the time a shared machine allowed;
   - ``sms-auto``: SMS, ``nlp/general`` itself, whose ``auto`` takes the contrastive (SetFit-style) fit at
     these budgets, 4 and 16.
   The SMS runs score balanced accuracy (the budgets are balanced, the messages 87% ham) on a stratified
   10% of the messages set aside with seed 0 before any budget is drawn.
2. **Selection rule.** How the linear probe's selection rule was chosen (docs/compare.md, "Why the probe
   lost"): frozen features of a stratified sample of each run's *training pool* (the test split is never
   read), budgets of 4 and 16 labels a class drawn from it many times, each candidate rule fitted on the
   budget and scored on the rest of the pool.
3. **Length.** What message length alone does on SMS at the same budgets and pool sample (a logistic
   regression on the log of the number of characters, fitted on every label of the budget): the reference
   the from-scratch network is read against.

Every figure of the section "## Measured" of docs/compare.md comes from benchmarks/results/compare.json,
which this script writes; ``--render-only`` rebuilds the section from it. Runs can go in parallel processes
(``--runs vision`` and ``--runs sms-probe --reuse``): each saves its own key, re-reading the file first.

    python benchmarks/compare.py                          # every run, then the section
    python benchmarks/compare.py --runs vision --parts runs --reuse
    python benchmarks/compare.py --render-only
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SECTION = "## Measured"
DOC = common.ROOT / "docs" / "compare.md"
PARTS = ("runs", "rules", "length")  # and "collect": what a stopped run wrote (compare.json is rewritten per seed)
TITLES = {"vision": "Ants and bees (vision), linear probe at 96 px",
          "sms-probe": "SMS spam (nlp), linear probe on MiniLM",
          "sms-probe-16": "SMS spam (nlp), linear probe on MiniLM, 16 a class alone (a second process)",
          "sms-auto": "SMS spam (nlp), `nlp/general` as it is (`auto`: contrastive at these budgets)"}


def commands(data: str = "$TRANSFERKIT_DATA_DIR") -> dict[str, list[str]]:
    """The commands docs/compare.md prints, without ``--out`` (the script adds its own folder)."""
    sms = ["--domain", "nlp", "--data", f"{data}/sms-spam/SMSSpamCollection", "--set", "metric=balanced_accuracy",
           "--holdout-test", "0.1", "--seeds", "3", "--epochs", "6"]
    return {
        "vision": ["--domain", "vision", "--data", f"{data}/hymenoptera", "--preset",
                   "docs/examples/compare-vision-96.toml", "--per-class", "4,16", "--seeds", "3", "--epochs", "4"],
        "sms-probe": [*sms[:4], "--preset", "docs/examples/compare-nlp-probe.toml", "--per-class", "4,16",
                      *sms[4:]],
        "sms-probe-16": [*sms[:4], "--preset", "docs/examples/compare-nlp-probe.toml", "--per-class", "16", *sms[4:]],
        "sms-auto": [*sms[:4], "--per-class", "4,16", *sms[4:]],
    }


def run_compare(name: str, work: Path) -> dict[str, Any]:
    """Run one compare command as a child process; its compare.json, wall time, memory and the load."""
    out = work / name
    if out.exists():  # this script's own earlier output: compare refuses a non-empty folder
        shutil.rmtree(out)
    args = [*common.cli(), "-q", "compare", *commands(str(common.data_dir()))[name], "--out", str(out)]
    load_before = os.getloadavg()
    usage = common.run_command(args, work / f"{name}.log", cwd=common.ROOT)
    if usage["returncode"] != 0:
        raise RuntimeError(f"{name}: exit code {usage['returncode']}; see {work / f'{name}.log'}")
    return {"compare": json.loads((out / "compare.json").read_text(encoding="utf-8")),
            "report": str(out / "report.html"), "seconds": usage["seconds"], "peak_rss_mib": usage["peak_rss_mib"],
            "load_before": [round(x, 1) for x in load_before], "load_after": [round(x, 1) for x in os.getloadavg()]}


def collect(name: str, work: Path) -> dict[str, Any] | None:
    """What a run that was stopped (time, load) had measured: its compare.json, marked incomplete."""
    found = work / name / "compare.json"
    if not found.is_file():
        return None
    result = json.loads(found.read_text(encoding="utf-8"))
    return {"compare": result, "report": None, "seconds": None, "peak_rss_mib": None,
            "load_before": None, "load_after": [round(x, 1) for x in os.getloadavg()],
            "incomplete": next((n for n in result["notes"] if n.startswith("incomplete")), None)}


def save_key(path: Path, key: str, value: Any, meta: dict[str, Any]) -> None:
    """Save one run's result, keeping what parallel processes saved meanwhile (the file is re-read first)."""
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"meta": {}, "runs": {}}
    saved.setdefault("runs", {})[key] = value
    commands_seen = saved.get("meta", {}).get("commands", [])
    saved["meta"] = {**saved.get("meta", {}), **meta,
                     "commands": commands_seen + [c for c in meta["commands"] if c not in commands_seen]}
    common.save_results(path, saved)


# ---------------------------------------------------------------- the selection rule (training pools only)
RULES = {"before": "C by cross-validation on train+val, head fitted on train only, features standardised",
         "pooled, standardised": "C by cross-validation on train+val, head fitted on all of them, standardised",
         "pooled, raw (chosen)": "C by cross-validation on train+val, head fitted on all of them, raw features"}


def pool_features(name: str, size: int) -> tuple[Any, Any]:
    """Frozen features of a stratified sample (at most ``size``) of the run's training pool; never the test split."""
    import numpy as np

    from transferkit.core.compare import load_compare_data
    from transferkit.core.configure import configure
    from transferkit.core.features import extract_features
    from transferkit.core.select import get_domain, select

    domain = "vision" if name == "vision" else "nlp"
    source = common.data_dir() / ("hymenoptera" if domain == "vision" else "sms-spam/SMSSpamCollection")
    preset = "docs/examples/compare-vision-96.toml" if domain == "vision" else "docs/examples/compare-nlp-probe.toml"
    fraction = 0.2 if domain == "vision" else 0.1
    pool = load_compare_data(get_domain(domain), source, None, None, fraction).pool
    labels = np.array(pool.labels)
    rng = np.random.default_rng(123)
    per_class = size // len(pool.classes)
    keep = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in pool.classes])
    model = configure(select(domain, None, preset), pool.classes, strategy="linear-probe")
    x = extract_features(model, [pool.items[i] for i in keep], 32).numpy().astype(np.float64)
    return x, np.array([pool.classes.index(label) for label in labels[keep]])


def rule_scores(x: Any, y: Any, per_class: int, draws: int, metric: str) -> dict[str, list[float]]:
    """Each rule fitted on ``draws`` budgets of ``per_class`` labels (20% held out as compare does) drawn
    from (x, y), scored on the rest of (x, y)."""
    import types

    import numpy as np
    import torch

    from transferkit.core import train as core_train
    from transferkit.core.metrics import classification_metrics

    scores: dict[str, list[float]] = {rule: [] for rule in RULES}
    for draw in range(draws):
        rng = np.random.default_rng(1000 + draw)
        fit_idx, val_idx = [], []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))[:per_class]
            n_val = min(per_class - 1, max(1, int(round(per_class * 0.2))))
            val_idx += idx[:n_val].tolist()
            fit_idx += idx[n_val:].tolist()
        rest = np.setdiff1d(np.arange(len(y)), fit_idx + val_idx)
        n_labels = int(y.max()) + 1
        cfg = {"class_weights": None, "metric": metric, "seed": draw}
        for rule in RULES:
            head = torch.nn.Sequential(torch.nn.Linear(x.shape[1], n_labels))
            model = types.SimpleNamespace(labels=[str(i) for i in range(n_labels)], head=head)
            features = (torch.tensor(x[fit_idx]), torch.tensor(x[val_idx]))
            targets = (y[fit_idx], y[val_idx])
            if rule == "before":
                core_train._fit_linear_probe(model, features, targets, cfg)
            elif rule == "pooled, raw (chosen)":
                core_train._fit_probe_pooled(model, features, targets, cfg)
            else:  # pooled, but standardised as the probe had been
                pooled = torch.cat(features)
                y_fit = np.concatenate(targets)
                core_train._fit_linear_probe(model, (pooled, pooled[:0]), (y_fit, y_fit[:0]), cfg)
            with torch.no_grad():
                probs = torch.softmax(head(torch.tensor(x[rest], dtype=torch.float32)), -1).numpy()
            scores[rule].append(float(classification_metrics(y[rest], probs, model.labels)[metric]))
        print(f"rules {per_class}/class draw {draw}: " + ", ".join(f"{r} {v[-1]:.3f}" for r, v in scores.items()),
              flush=True)
    return scores


def run_rules(names: list[str], draws: int, sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        x, y = pool_features(name, 2000 if name != "vision" else 10_000)
        metric = "accuracy" if name == "vision" else "balanced_accuracy"
        out[name] = {"n_pool_sample": int(len(y)), "metric": metric,
                     "per_class": {str(n): rule_scores(x, y, n, draws, metric) for n in sizes}}
    return out


def run_length(sizes: list[int], draws: int) -> dict[str, Any]:
    """Balanced accuracy of a logistic regression on log(characters) fitted on each budget of the SMS pool
    sample (the budgets and sample of the rules part), scored on the rest of the sample."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    from transferkit.core.compare import load_compare_data
    from transferkit.core.select import get_domain

    pool = load_compare_data(get_domain("nlp"), common.data_dir() / "sms-spam/SMSSpamCollection", None, None,
                             0.1).pool
    labels = np.array(pool.labels)
    rng = np.random.default_rng(123)
    keep = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:1000] for c in pool.classes])
    x = np.log([[len(pool.items[i]) + 1.0] for i in keep])
    y = np.array([pool.classes.index(label) for label in labels[keep]])
    out: dict[str, Any] = {"n_pool_sample": int(len(y)), "per_class": {}}
    for per_class in sizes:
        scores = []
        for draw in range(draws):
            rng = np.random.default_rng(1000 + draw)
            idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
            rest = np.setdiff1d(np.arange(len(y)), idx)
            clf = LogisticRegression().fit(x[idx], y[idx])
            scores.append(float(balanced_accuracy_score(y[rest], clf.predict(x[rest]))))
        out["per_class"][str(per_class)] = scores
    return out


# ---------------------------------------------------------------- the docs section
def _table(result: dict[str, Any]) -> list[str]:
    from transferkit.core.compare import METHODS

    lines = ["| labels a class | method | fitted on | test (mean ± sd) | validation (selection) | seconds |",
             "|---|---|---|---|---|---|"]
    for budget in result["per_class"]:
        for method in METHODS:
            rows = [r for r in result["rows"] if r["per_class"] == budget and r["method"] == method]
            if not rows:
                continue
            test = common.fmt([r["test_metric"] for r in rows if r["test_metric"] is not None])
            vals = [r["val_metric"] for r in rows if r["val_metric"] is not None]
            val = f"{sum(vals) / len(vals):.3f}" if vals else "-"
            seconds = sum(r["wall_s"] for r in rows) / len(rows)
            lines.append(f"| {budget} | {method} | {rows[0]['n_train']} | {test} | {val} | {seconds:.0f} |")
    return lines


def _wins(result: dict[str, Any]) -> str:
    """Transfer against scratch at each budget, in words: the test means, and in how many seeds it was ahead."""
    words = []
    for budget in result["per_class"]:
        by_seed: dict[str, dict[int, float]] = {"transfer": {}, "scratch": {}}
        for r in result["rows"]:
            if r["per_class"] == budget and r["method"] in by_seed and r["test_metric"] is not None:
                by_seed[r["method"]][r["seed"]] = r["test_metric"]
        seeds = sorted(set(by_seed["transfer"]) & set(by_seed["scratch"]))
        if not seeds:
            continue
        mean = {m: sum(by_seed[m][s] for s in seeds) / len(seeds) for m in by_seed}
        ahead = sum(by_seed["transfer"][s] > by_seed["scratch"][s] for s in seeds)
        verdict = "beats" if mean["transfer"] > mean["scratch"] else "does not beat"
        words.append(f"at {budget} a class transfer {verdict} scratch on the mean ({mean['transfer']:.3f} against "
                     f"{mean['scratch']:.3f}), ahead in {ahead} of {len(seeds)} seeds")
    return "; ".join(words)


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    lines = [SECTION, "",
             "Every figure below is written by `benchmarks/compare.py` from `benchmarks/results/compare.json` "
             "(not typed by hand). \"test\" is the fixed test split (set aside first, chose nothing), mean ± "
             "sample sd over seeds 0, 1, 2; \"validation (selection)\" is the figure each method chose its "
             "epoch or C on: the held-out slice of the budget for scratch; out-of-fold predictions where a "
             "method cross-validated on every label of the budget (the linear probe and the contrastive head at "
             "these budgets, classic always), so it is no test figure. \"fitted on\" counts the labelled "
             "examples the kept model was fitted on. Seconds are per seed on a shared CPU (load below): compare "
             "rows of one table only.", ""]
    for name, title in TITLES.items():
        run = results.get("runs", {}).get(name)
        lines += [f"### {title}", "", "```bash",
                  "transferkit compare " + " ".join(commands()[name]) + f" --out runs/cmp-{name}", "```", ""]
        if run is None or "not_measured" in run:
            reason = (run or {}).get("not_measured", "not run yet")
            lines += [f"Not measured: {reason}.", ""]
            continue
        result = run["compare"]
        if run.get("incomplete"):
            how = (f"**stopped before the end** ({run['incomplete']}: the machine was shared with other jobs, "
                   f"load average {run['load_after'][0]}); the rows below are the budgets and seeds it finished")
        else:
            how = (f"{run['seconds'] / 60:.0f} min wall, peak {run['peak_rss_mib']:.0f} MiB; load average "
                   f"{run['load_before'][0]} before, {run['load_after'][0]} after (a 2-core machine shared with "
                   "other jobs)")
        lines += [f"{result['metric']}; {result['seeds']} seeds requested; {how}.", "",
                  *_table(result), "", f"Test figures: {_wins(result)}.", "",
                  "Notes recorded by the run: " + "; ".join(n for n in result["notes"]
                                                            if not n.startswith("incomplete")) + ".", ""]
    rules = results.get("runs", {}).get("rules")
    if rules:
        lines += ["### The probe's selection rule (training pools only)", "",
                  "Budgets drawn from a stratified sample of each run's training pool (the test split is never "
                  "read), each rule fitted on the budget (20% held out, as compare does) and scored on the rest "
                  "of the sample; mean ± standard error over draws:", "",
                  "| pool | labels a class | draws | " + " | ".join(RULES) + " |",
                  "|---|---|---|" + "---|" * len(RULES)]
        for name, block in rules.items():
            for budget, scores in block["per_class"].items():
                cells = []
                for rule in RULES:
                    mean, sd = common.mean_sd(scores[rule])
                    cells.append(f"{mean:.3f} ± {sd / len(scores[rule]) ** 0.5:.3f}")
                lines.append(f"| {name} ({block['n_pool_sample']}, {block['metric']}) | {budget} | "
                             f"{len(scores['before'])} | " + " | ".join(cells) + " |")
        lines += ["", "Rules: " + "; ".join(f"**{k}**: {v}" for k, v in RULES.items()) + ".", ""]
    length = results.get("runs", {}).get("length")
    if length:
        cells = []
        for budget, scores in length["per_class"].items():
            mean, sd = common.mean_sd(scores)
            cells.append(f"{mean:.3f} ± {sd / len(scores) ** 0.5:.3f} at {budget} a class ({len(scores)} draws)")
        lines += ["Message length alone on a sample of the SMS training pool (never the test split; logistic regression on log characters, "
                  "fitted on every label of the budget), balanced accuracy on the rest of the sample, mean ± "
                  "standard error: " + "; ".join(cells) + ".", ""]
    lines += [f"Machine: {meta.get('machine', '-')}; date {meta.get('date', '-')}; commands: "
              f"{common.commands_text(meta)}; results: `benchmarks/results/compare.json`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=",".join(TITLES), help=f"comma list of: {', '.join(TITLES)}")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of: {', '.join(PARTS)}")
    parser.add_argument("--draws", type=int, default=20, help="budgets drawn per pool and size (rules part)")
    parser.add_argument("--rule-sizes", default="4,16", help="labels a class for the rules part")
    parser.add_argument("--skip", action="append", default=[], metavar="RUN=REASON",
                        help="record a run as not measured, with the reason (repeatable)")
    common.add_output_options(parser, "compare")
    parser.set_defaults(doc=DOC)
    args = parser.parse_args(argv)
    if args.render_only:
        return common.publish(args, SECTION, render(json.loads(args.results.read_text(encoding="utf-8"))))
    meta = {"commands": [common.command_line("compare.py", argv)], "machine": common.machine(),
            "date": time.strftime("%Y-%m-%d")}
    if not args.reuse and args.results.is_file():
        args.results.unlink()  # this script's own results file, started afresh
    args.work.mkdir(parents=True, exist_ok=True)
    for item in args.skip:
        key, _, reason = item.partition("=")
        save_key(args.results, key, common.not_measured(reason or "skipped"), meta)
    parts = [p for p in args.parts.split(",") if p]
    names = [n for n in args.runs.split(",") if n]
    if "runs" in parts:
        for name in names:
            save_key(args.results, name, run_compare(name, args.work), meta)
    if "rules" in parts:
        rule_runs = [n for n in names if n in ("vision", "sms-probe")]
        save_key(args.results, "rules", run_rules(rule_runs, args.draws,
                                                 [int(s) for s in args.rule_sizes.split(",")]), meta)
    if "collect" in parts:  # only runs that were stopped: a finished run saved itself, with its timings
        for name in names:
            found = collect(name, args.work)
            if found is not None and found["incomplete"]:
                save_key(args.results, name, found, meta)
    if "length" in parts:
        save_key(args.results, "length", run_length([int(s) for s in args.rule_sizes.split(",")], args.draws), meta)
    return common.publish(args, SECTION, render(json.loads(args.results.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    raise SystemExit(main())
