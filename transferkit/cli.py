"""The `transferkit` command (Typer + Rich).

Listing commands (plugins, domains, models, presets, datasets) import no deep-learning framework; train,
evaluate and predict import only what their domain needs, when they need it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import typer
from rich.console import Console

try:  # Typer >= 0.29 ships its own copy of click, whose exceptions are the ones raised
    from typer._click import exceptions as click_errors
    from typer.exceptions import Abort as ClickAbort
except ImportError:  # pragma: no cover - older Typer runs on click itself
    from click import exceptions as click_errors
    from click.exceptions import Abort as ClickAbort
# click >= 8.2 raises this for a bare `transferkit`; () matches nothing where it does not exist.
NoArgsIsHelpError = getattr(click_errors, "NoArgsIsHelpError", ())
from rich.table import Table

from transferkit.core.registry import get_registry, iter_domains_status
from transferkit.core.specs import STRATEGIES
from transferkit.errors import TransferkitError, UsageError, unknown_name, validation_error

app = typer.Typer(
    name="transferkit",
    help="Transfer learning by domain: select a pretrained model, configure it, train it on your data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich's help boxes wrap every flag over several lines at 80 columns and label each
    # on/off flag `<bool>` as if it took a value (Typer 0.29).
    rich_markup_mode=None,
)
presets_app = typer.Typer(help="List presets, or show one fully resolved.", invoke_without_command=True,
                          rich_markup_mode=None)
app.add_typer(presets_app, name="presets")

# soft_wrap: a line is never cut at the console width. Rich assumes 80 columns when the output is a file or a
# pipe, and a log with every long line broken in two is hard to read and to grep (tables still fit 80).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
# Set by the global options (--debug, --quiet): main() reports errors after the app has returned.
_STATE: dict[str, bool] = {"debug": False, "quiet": False}


def _print_version(value: bool) -> None:
    if value:
        from transferkit import __version__

        sys.stdout.write(f"transferkit {__version__}\n")
        raise typer.Exit()


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="print the full traceback of any error (for bug reports)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines on stderr (errors still print)"),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="print the version of transferkit and exit"),
) -> None:
    """Transfer learning by domain: select a pretrained model, configure it, train it on your data."""
    _STATE["debug"] = _STATE["debug"] or debug
    _STATE["quiet"] = quiet


def _emit_json(data: Any) -> None:
    # Plain print, not Rich: scripts parse this, and Rich would wrap long lines.
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _warn_broken() -> None:
    for info in get_registry().broken():
        err.print(f"[yellow]warning:[/] plugin '{info.name}' ({info.package}) was skipped: {info.error}")


def _check_domain(domain: Optional[str]) -> None:
    if domain is not None and domain not in get_registry().domains:
        raise unknown_name("domain", domain, get_registry().domains, fix="run `transferkit domains`")


WIDE_HELP = "every column, long texts wrapped (the default shows ids whole and one line a row)"


def _listing(columns: list[str], rows: list[list[str]], *, wide: bool, notes: Sequence[str] = ()) -> None:
    """Print a listing: the first column (the id people copy) is never cut or wrapped.

    Compact (the default): one line a row, the last column shortened with an ellipsis to fit the terminal.
    ``wide``: long cells wrap instead. ``notes`` are lines printed under the table, never broken.
    """
    from rich import box
    from rich.table import Column
    from rich.text import Text

    last = len(columns) - 1
    table = Table(*[Column(name, no_wrap=i == 0 or (i < last and not wide), overflow="fold" if wide else "ellipsis")
                    for i, name in enumerate(columns)],
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, header_style="bold")
    for row in rows:
        # In compact mode the last column shrinks first (Rich collapses wrapable columns before the others)
        # and its text ends in an ellipsis instead of wrapping: one line per row at any width that fits the ids.
        cells = [Text.from_markup(cell) for cell in row]
        if not wide:
            cells[last].no_wrap, cells[last].overflow = True, "ellipsis"
        table.add_row(*cells)
    out.print(table, soft_wrap=False)
    for note in notes:  # one line each, never broken: they hold paths and commands to copy
        out.print(note, soft_wrap=True, highlight=False, markup=False)


@app.command()
def plugins(
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List installed plugins: package, version, status and what each provides."""
    rows = [info.as_dict() for info in get_registry().plugins.values()]
    if as_json:
        return _emit_json(rows)
    table, notes = [], []
    for row in rows:
        if wide:
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["provides"].items())
        else:
            provides = ", ".join(f"{k} {len(v)}" for k, v in row["provides"].items())
        status = row["status"] if row["status"] == "ok" else f"[red]{row['status']}[/]"
        if row["status"] != "ok":
            notes.append(f"{row['name']}: {row['error']}")
        table.append([row["name"], row["package"], row["version"], status, provides])
    _listing(["plugin", "package", "version", "status", "provides"], table, wide=wide, notes=notes)


@app.command()
def domains(
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List domains with their status; an unavailable one shows the pip command that fixes it."""
    rows = list(iter_domains_status(get_registry()))
    if as_json:
        return _emit_json(rows)
    _warn_broken()
    table, notes = [], []
    for row in rows:
        ok = row["status"] == "available"
        if not ok:
            notes.append(f"{row['name']} is unavailable: {row['fix']}")
        cells = [row["name"], "[green]yes[/]" if ok else "[red]no[/]", row["default_model"], row["default_preset"] or ""]
        table.append(cells + [row["plugin"], row["description"]] if wide else cells)
    columns = ["domain", "available", "default model", "default preset"]
    _listing(columns + ["plugin", "description"] if wide else columns, table, wide=wide, notes=notes)


@app.command()
def models(
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="only this domain"),
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List the pretrained backbones of the catalog, and whether each can be loaded here.

    available: yes (on this machine), download (from the Hugging Face hub on first use) or no (the line
    under the table says what to install or where to put the weights).
    """
    _check_domain(domain)
    rows = []
    for source in sorted(get_registry().models.values(), key=lambda m: m.id):
        if domain and source.domain != domain:
            continue
        state, why = source.status()
        rows.append({**source.model_dump(), "available": state != "no", "status": state, "availability": why})
    if as_json:
        return _emit_json(rows)
    colour = {"yes": "green", "download": "yellow", "no": "red"}
    table, notes = [], []
    for row in rows:
        mark = f"[{colour[row['status']]}]{row['status']}[/]"
        if row["status"] == "no":
            notes.append(f"{row['id']}: {row['availability']}")
        if wide:
            table.append([row["id"], row["kind"], row["location"], f"{mark} ({row['availability']})", row["description"]])
        else:
            table.append([row["id"], row["kind"], mark, row["description"]])
    columns = ["model", "kind", "location", "available", "description"] if wide else ["model", "kind", "available", "description"]
    _listing(columns, table, wide=wide, notes=notes)


@presets_app.callback()
def presets(
    ctx: typer.Context,
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="only this domain"),
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List presets by domain and origin; `transferkit presets show ID` prints one fully resolved."""
    if ctx.invoked_subcommand is not None:
        return
    _check_domain(domain)
    rows = [
        {"id": p.id, "domain": p.domain, "version": p.version, "industry": p.industry, "strategy": p.strategy,
         "model": p.model, "description": p.description, "origin": p.plugin, "source": p.source}
        for p in sorted(get_registry().presets.values(), key=lambda p: p.id)
        if not domain or p.domain == domain
    ]
    if as_json:
        return _emit_json(rows)
    if wide:
        table = [[r["id"], r["strategy"], r["model"] or "", r["origin"], f"{r['industry']}: {r['description']}"]
                 for r in rows]
        return _listing(["preset", "strategy", "model", "origin", "use"], table, wide=True)
    _listing(["preset", "strategy", "use"], [[r["id"], r["strategy"], r["industry"]] for r in rows], wide=False)


@presets_app.command("show")
def presets_show(preset_id: str = typer.Argument(..., help="a preset id or a .toml file")) -> None:
    """Print a preset fully resolved (with everything it extends), as JSON."""
    from transferkit.core.presets import load_preset, read_preset_file

    registry = get_registry()
    if preset_id.endswith(".toml"):
        domain = read_preset_file(Path(preset_id)).domain
    else:
        domain = registry.preset(preset_id).domain
    _emit_json(load_preset(preset_id, domain=domain, registry=registry).model_dump())


@app.command()
def datasets(
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List the public datasets the registry knows, and whether the local mirror has them."""
    from transferkit.datasets.registry import dataset_status

    rows = [dataset_status(spec) for spec in sorted(get_registry().datasets.values(), key=lambda d: d.name)]
    if as_json:
        return _emit_json(rows)
    if wide:
        table = [[r["name"], r["domain"], r["local"] or "[red]missing[/]", r["license"], r["url"]] for r in rows]
        return _listing(["dataset", "domain", "local copy", "licence", "source"], table, wide=True)
    table = [[r["name"], r["domain"], "[green]yes[/]" if r["local"] else "[red]missing[/]", r["license"]] for r in rows]
    _listing(["dataset", "domain", "local", "licence"], table, wide=False,
             notes=["local copies: TRANSFERKIT_DATA_DIR (`--wide` shows paths and sources)"])


def _read_options(text_cols: list[str], label_col: Optional[str], extra: list[str]) -> dict[str, Any]:
    """Reader options from the CLI: --text-col, --label-col and any --read-option KEY=VALUE."""
    options = _parse_sets(extra, flag="--read-option", example="path_col=file")
    if text_cols:
        options["text_cols"] = list(text_cols)
    if label_col:
        options["label_col"] = label_col
    return options


def _parse_sets(values: list[str], flag: str = "--set", example: str = "weight_decay=0.01") -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"{flag} expects KEY=VALUE, got '{item}'", fix=f"e.g. {flag} {example}")
        try:
            overrides[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key.strip()] = raw
    return overrides


@app.command()
def train(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="the domain: see `transferkit domains`"),
    data: Path = typer.Option(..., "--data", help="training data (folder or file, as the domain reads it)"),
    out_dir: Path = typer.Option(..., "--out", help="folder for the trained model"),
    val: Optional[Path] = typer.Option(None, "--val", help="validation data (default: the data's own split, or 20% held out)"),
    test: Optional[Path] = typer.Option(None, "--test", help="test data, scored once at the end"),
    holdout_test: Optional[float] = typer.Option(
        None, "--holdout-test", min=0.01, max=0.9,
        help="carve this fraction of each class from --data as a held-out test set, scored once (e.g. 0.2)"),
    preset: Optional[str] = typer.Option(None, "--preset", help="a preset id or a .toml file"),
    model: Optional[str] = typer.Option(None, "--model", help="a catalog id, a local model folder or a transferkit model"),
    strategy: Optional[str] = typer.Option(None, "--strategy", help=f"one of {', '.join(STRATEGIES)}"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="maximum epochs (preset key train.epochs)"),
    lr: Optional[float] = typer.Option(None, "--lr", help="learning rate of the head"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="examples per step"),
    per_class: Optional[int] = typer.Option(None, "--per-class", min=1, help="keep N labelled examples per class"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seeds every random source: same seed, same model"),
    text_col: list[str] = typer.Option([], "--text-col", help="text column (repeatable: joined)"),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="label column"),
    read_opts: list[str] = typer.Option([], "--read-option", help="a reader option: --read-option path_col=file"),
    sets: list[str] = typer.Option(
        [], "--set", help="override a key of the preset's train table: --set weight_decay=0.01 (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="print the transfer plan (the same a real run prints first) and stop"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in --out"),
    deterministic: bool = typer.Option(False, "--deterministic",
                                       help="deterministic GPU kernels: the same weights bit for bit on GPU (slower)"),
    time_budget: str = typer.Option(
        "default", "--time-budget", help="time the whole run may take: 90s, 10m, 2h, or none (default: 15m on "
        "CPU, 60m with a GPU); auto picks the best plan that fits and training stops at the budget"),
    devices: str = typer.Option("1", "--devices", help="training processes per machine: GPUs, or CPU processes "
                                "without a GPU; 'auto': every GPU (docs/scaling.md)"),
    num_nodes: int = typer.Option(1, "--num-nodes", min=1, help="machines taking part in training (docs/scaling.md)"),
    distributed_strategy: str = typer.Option("auto", "--distributed-strategy",
                                             help="how several devices train: ddp, fsdp or auto (Lightning's choice)"),
    as_json: bool = typer.Option(False, "--json", help="print the final metrics as JSON"),
    quiet_run: bool = typer.Option(False, "--quiet", "-q", help="no progress lines (same as `transferkit -q train`)"),
) -> None:
    """Fine-tune a pretrained model on your data and write the model folder with its report.

    Progress goes to stderr: live bars on a terminal, plain lines in a log file or a pipe, none with --quiet.
    Ctrl-C or SIGTERM stops the run with exit code 130 / 143 and prints the command that resumes it.
    """
    from transferkit.core.select import get_domain

    _check_domain(domain)
    if strategy is not None and strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES,
                           fix="pass one of the known strategies, or leave --strategy out for the preset's")
    get_domain(domain)  # a missing dependency is reported before the data are read
    overrides = _parse_sets(sets)
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if value is not None:
            overrides[key] = value
    read_options = _read_options(text_col, label_col, read_opts)
    from transferkit.core.devices import is_rank_zero
    from transferkit.core.interrupt import Interrupted
    from transferkit.core.progress import mode_for
    from transferkit.core.train import fit

    quiet = quiet_run or bool(ctx.find_root().params.get("quiet")) or bool(_STATE.get("quiet"))
    try:
        result = fit(domain, data, preset=preset, model=model, strategy=strategy, out=out_dir,
                     val=val, test=test, holdout_test=holdout_test, per_class=per_class, seed=seed,
                     read_options=read_options, dry_run=dry_run, resume=resume, progress=mode_for(sys.stderr, quiet),
                     deterministic=deterministic, on_plan=None if as_json or not is_rank_zero() else _print_plan,
                     time_budget=time_budget, devices=devices, num_nodes=num_nodes,
                     distributed_strategy=distributed_strategy, **overrides)
    except Interrupted as stop:
        _report_interrupted(stop, ctx)
    if dry_run:  # the plan is printed already, by fit(): the same text as a real run prints first
        if as_json:
            return _emit_json(result.as_dict())
        return
    if result.rank:  # another training process (--devices): rank 0 prints and writes the model
        return
    if as_json:
        return _emit_json({"out": str(out_dir), **result.metrics})
    _print_run(result)



@app.command()
def compare(
    ctx: typer.Context,
    domain: str = typer.Option(..., "--domain", "-d", help="the domain: see `transferkit domains`"),
    data: Path = typer.Option(..., "--data", help="labelled data the budgets are drawn from (folder or file)"),
    out_dir: Path = typer.Option(..., "--out", help="new folder for compare.json and report.html"),
    per_class: str = typer.Option("4,16,64,all", "--per-class",
                                  help="label budgets: labelled examples per class, comma-separated, or all"),
    seeds: int = typer.Option(1, "--seeds", min=1, help="repeat each budget with seeds 0..K-1: mean and spread"),
    test: Optional[Path] = typer.Option(
        None, "--test", help="test data (default: the data's test split, else --holdout-test of --data)"),
    holdout_test: float = typer.Option(
        0.2, "--holdout-test", min=0.01, max=0.9,
        help="without test data: the fraction of each class set aside as test data, first (seed 0)"),
    preset: Optional[str] = typer.Option(None, "--preset", help="a preset id or a .toml file"),
    model: Optional[str] = typer.Option(None, "--model", help="a pretrained catalog id or a local model folder"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="maximum epochs of transfer and scratch"),
    text_col: list[str] = typer.Option([], "--text-col", help="text column (repeatable: joined)"),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="label column"),
    read_opts: list[str] = typer.Option([], "--read-option", help="a reader option: --read-option path_col=file"),
    sets: list[str] = typer.Option(
        [], "--set", help="override a key of the preset's train table for transfer and scratch (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print compare.json on stdout instead of the table"),
    quiet_run: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
) -> None:
    """Transfer against the same network from scratch, a classic baseline and the majority class.

    At each label budget (and seed) every method trains on the same examples and is scored on the same
    held-out test data: metric against labels, epochs and seconds, and the train-validation gap.
    """
    from transferkit.core.compare import compare as run_compare
    from transferkit.core.compare import parse_budgets, render_summary
    from transferkit.core.interrupt import Interrupted
    from transferkit.core.progress import mode_for

    _check_domain(domain)
    budgets = parse_budgets(per_class)
    overrides = _parse_sets(sets)
    if epochs is not None:
        overrides["epochs"] = epochs
    quiet = quiet_run or bool(ctx.find_root().params.get("quiet")) or bool(_STATE.get("quiet"))
    try:
        result = run_compare(domain, data, out=out_dir, per_class=budgets, seeds=seeds, test=test, preset=preset,
                             model=model, holdout_test=holdout_test, read_options=_read_options(text_col, label_col, read_opts),
                             progress=mode_for(sys.stderr, quiet), **overrides)
    except Interrupted as stop:  # the runs work in temporary folders: nothing to resume, the finished ones kept
        kept = out_dir / "compare.json"
        saved = f"the finished runs are in {kept}" if kept.is_file() else "no run had finished"
        sys.stdout.flush()
        sys.stderr.write(f"{stop}: {saved}; run the command again to start over\n")
        raise SystemExit(stop.exit_code) from None
    if as_json:
        return _emit_json(result)
    sys.stdout.write(render_summary(result) + "\n")
    for note in result["notes"]:
        sys.stdout.write(f"- {note}\n")
    written = "compare.json and report.html" if (out_dir / "report.html").is_file() else "compare.json"
    sys.stdout.write(f"{written} written to {out_dir}\n")

def _command_line(ctx: Any, extra: list[str]) -> str:
    """The command that was run, rebuilt from its parsed options (global ones included), plus ``extra``."""
    import shlex

    words = ["transferkit"]
    chain = [c for c in (ctx.find_root(), ctx) if c is not None]
    for level in dict.fromkeys(chain):  # the root once, even when the command is the root
        if level is not chain[0]:
            words.append(level.info_name)
        for param in level.command.params:
            # Duck-typed: Typer ships its own copy of click, so click.Option is not its options' class.
            if getattr(param, "param_type_name", "") != "option" or param.name not in level.params:
                continue
            value = level.params[param.name]
            if value is None or value is False or value in ([], ()) or param.name == "resume":
                continue
            flag = max(param.opts, key=len)  # the long form reads best in a log
            if value is True:
                words.append(flag)
            else:
                for item in value if isinstance(value, (list, tuple)) else [value]:
                    words += [flag, str(item)]
    return shlex.join([*words, *extra])


def _report_interrupted(stop: Any, ctx: Any) -> None:
    """One line for a run stopped by SIGINT/SIGTERM: what is saved and the command that resumes it."""
    from transferkit.core.outputs import is_run

    if stop.out is not None and is_run(stop.out):
        line = f"{stop}: {stop.saved()}; to continue: {_command_line(ctx, ['--resume'])}"
    else:
        line = f"{stop}: nothing was saved; run the command again to start over"
    sys.stdout.flush()
    sys.stderr.write(line + "\n")  # plain write: one unwrapped line, whatever the terminal width
    sys.stderr.flush()
    raise SystemExit(stop.exit_code)


def _print_plan(plan: Any) -> None:
    """The plan, on stdout, before any training (progress lines follow on stderr)."""
    # Plain write, not Rich: the plan's brackets ("[ 0]", "[0.08, 1.0]") are not markup, and it is 80 columns.
    sys.stdout.write(plan.render() + "\n")
    sys.stdout.flush()


def _print_run(result: Any) -> None:
    """After training: the figures, the notes and where the model is (the plan came before the training)."""
    from transferkit.core.metrics import OPTIMISTIC_NOTE, split_label

    out.print()
    from rich.table import Column

    table = Table(Column("split", no_wrap=True), "n", "accuracy", "macro-F1", "AUROC")
    for split, values in result.metrics.items():
        auroc = values.get("auroc")
        table.add_row(split_label(split), str(values["n"]), f"{values['accuracy']:.4f}",
                      f"{values['f1_macro']:.4f}", "n/a" if auroc is None else f"{auroc:.4f}")
    out.print(table)
    if "test" not in result.metrics:
        # The validation data chose the epoch / C / threshold: say so, once, and how to get honest figures.
        out.print(f"[yellow]note:[/] {OPTIMISTIC_NOTE}", highlight=False, soft_wrap=True)
    for note in result.notes:
        out.print(f"- {note}")
    out.print(f"model written to [bold]{result.out}[/] in {result.seconds:.0f} s")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="a folder written by `transferkit train`"),
    data: Path = typer.Option(..., "--data", help="labelled data in the model's domain format"),
    split: Optional[str] = typer.Option(
        None, "--split", help="train / val / test: a split the data hold; test on the file a --holdout-test split "
        "was carved from scores that held-out split (anything else is refused)"),
    text_col: list[str] = typer.Option([], "--text-col", help="text column (repeatable: joined)"),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="label column"),
    read_opts: list[str] = typer.Option([], "--read-option", help="a reader option: --read-option path_col=file"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Score a trained model on labelled data: accuracy, macro-F1, AUROC and per-class figures."""
    from transferkit.core.evaluate import evaluate as run_evaluate

    metrics = run_evaluate(model_dir, data, split=split, read_options=_read_options(text_col, label_col, read_opts))
    for warning in metrics.get("warnings", []):  # stderr: --json keeps stdout to the document
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if as_json:
        return _emit_json(metrics)
    table = Table("label", "precision", "recall", "F1", "support")
    for label, values in metrics["per_class"].items():
        table.add_row(label, f"{values['precision']:.4f}", f"{values['recall']:.4f}", f"{values['f1']:.4f}",
                      str(values["support"]))
    out.print(table)
    auroc = metrics.get("auroc")
    out.print(f"n={metrics['n']}  accuracy={metrics['accuracy']:.4f}  macro-F1={metrics['f1_macro']:.4f}  "
              f"AUROC={'n/a' if auroc is None else f'{auroc:.4f}'}")
    binary = metrics.get("binary") or {}
    if binary.get("false_positive_rate") is not None:  # the operating point the threshold policy chose
        ap = (binary.get("pr_curve") or {}).get("average_precision")
        out.print(f"threshold={binary['threshold']:.4f} on '{binary['positive']}'  false-positive rate="
                  f"{binary['false_positive_rate']:.4f}  recall={binary['sensitivity'] or 0:.4f}"
                  + ("" if ap is None else f"  average precision={ap:.4f} (precision-recall curve in --json)"))


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="a folder written by `transferkit train`"),
    inputs: list[str] = typer.Argument(..., help="inputs: file paths, or texts for text models"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    jsonl: bool = typer.Option(False, "--jsonl", help="stream one JSON object per input, a line each, as they "
                               "are labelled (large folders, mailboxes)"),
) -> None:
    """Label new inputs with a trained model."""
    from transferkit.core.artifact import load
    from transferkit.core.evaluate import predict as run_predict

    model = load(model_dir)
    items = model.domain.parse_inputs(inputs)
    if jsonl:  # chunk by chunk, flushed: a consumer sees results while the rest is still being labelled
        for start in range(0, len(items), 512):
            for row in run_predict(model, items[start:start + 512]):
                sys.stdout.write(json.dumps(row, default=str) + "\n")
            sys.stdout.flush()
        return
    rows = run_predict(model, items)
    if as_json:
        return _emit_json(rows)
    # Plain lines, not a Rich table: the input comes last and whole (paths are what people copy and grep),
    # however narrow the terminal; a long one runs on rather than being cut or folded.
    width = max([len("label"), *(len(row["label"]) for row in rows)])
    lines = [_decision_line(model), f"{'label':<{width}}  score   input"]
    for row in rows:
        text = str(row["input"])
        shown = " ".join(text.split()) if "\n" in text else text  # one row per input, even for a multi-line text
        lines.append(f"{row['label']:<{width}}  {row['scores'][row['label']]:.4f}  {shown}")
    sys.stdout.write("\n".join(lines) + "\n")


def _decision_line(model: Any) -> str:
    """How the labels are chosen: the binary threshold on the positive label's score, or the top score."""
    if model.threshold is not None and model.positive is not None:
        return (f"label = '{model.labels[model.positive]}' when its score >= {model.threshold:.4f} (the model's validated "
                "threshold), else the other label; score = the chosen label's probability")
    return "label = the label with the highest score; score = its probability"


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="where to write the demo model"),
    per_class: int = typer.Option(2, "--per-class", min=1, help="labelled examples per class"),
) -> None:
    """A real transfer on data that ships with scikit-image: pretrained vs from scratch vs pixels."""
    from transferkit.demo import run_demo

    run_demo(out_dir, per_class=per_class, console=out)


@app.command("new-plugin")
def new_plugin(
    name: str = typer.Argument(..., help="the plugin's name: lowercase letters, digits and dashes (acme-xray)"),
    directory: Path = typer.Option(Path("."), "--dir", help="where to create the NAME folder"),
    kind: str = typer.Option("domain", "--kind", help="domain (a new domain) or presets (presets for a domain)"),
    domain: str = typer.Option("vision", "--domain", help="with --kind presets: the installed domain they are for"),
) -> None:
    """Write a complete plugin package: pyproject with the entry point, hooks, a preset, tests, README.

    `pip install -e NAME` then makes it appear in `transferkit plugins`, and `pytest NAME/tests` passes.
    An existing non-empty folder is never overwritten (exit 2).
    """
    from transferkit.scaffold import new_plugin as write_plugin

    files = write_plugin(name, directory, kind=kind, domain=domain if kind == "presets" else None)
    root = Path(directory) / name
    for path in files:
        out.print(f"wrote {path}", highlight=False)
    out.print(f"next: pip install -e {root} && pytest {root / 'tests'}", highlight=False)


def _as_transferkit_error(error: BaseException) -> Optional[TransferkitError]:
    """The transferkit error behind ``error``: itself, or one a library wrapped (``raise X from error``, as
    MONAI's ``applying transform`` does). Only explicit causes: an exception raised *while handling* one
    of ours may be a bug, and must not be reported as the user's data problem."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TransferkitError):
            return current
        current = current.__cause__
    return None


def _error_line(error: TransferkitError) -> str:
    text = error.render()
    if "Traceback (most recent call last)" in text:
        # torch re-raises an error from a DataLoader worker as the same class with the worker's traceback as
        # its message; the last line of that traceback is the original one-line message.
        last = [line for line in str(error.message).strip().splitlines() if line.strip()][-1]
        text = last.split(": ", 1)[1] if last.startswith("transferkit.errors.") and ": " in last else last
    return text


def _fail(line: str, code: int, error: BaseException) -> None:
    from rich.text import Text

    if _STATE["debug"]:
        import traceback

        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    # markup off for the message: file names and messages may hold [brackets] that Rich would eat.
    err.print(Text.assemble(("error:", "red"), " ", line), highlight=False, soft_wrap=True)
    raise SystemExit(code) from None


def _usage_line(error: Any) -> str:
    """Click's usage error as one line with where to look: ``No such option: --jsno Did you mean --json?
    (see `transferkit domains --help`)``."""
    message = " ".join(error.format_message().split()).rstrip(".")
    where = error.ctx.command_path if error.ctx is not None else "transferkit"
    return f"{message} (see `{where} --help`)"


def _tidy_help(command: Any) -> None:
    """Help text that reads right, for every command: a repeatable option shows its item type, not
    ``<list[str]>`` (Typer's label for the Python annotation), and an argument its name in capitals."""
    for param in getattr(command, "params", []):
        if param.metavar is not None:
            continue
        if getattr(param, "param_type_name", "") == "argument":
            param.metavar = param.name.upper()
        elif getattr(param, "multiple", False):
            param.metavar = "<str>"
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: runs the app; every failure becomes one line on stderr and an exit code.

    Exit codes (DESIGN.md section 10): 0 done; 1 internal error (an exception transferkit did not expect:
    the line says how to get the traceback); 2 bad usage or bad data (a transferkit error, also one a
    library wrapped; a bad option value; an OSError on a named file; a usage error Typer reports itself).
    ``--debug`` (or TRANSFERKIT_DEBUG=1) prints tracebacks.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        transferkit 0.1.0
    """
    import os

    from pydantic import ValidationError

    _STATE["debug"] = os.environ.get("TRANSFERKIT_DEBUG", "") not in ("", "0")
    _STATE["quiet"] = False
    try:
        get_registry().add_commands(app)
        command = typer.main.get_command(app)
        _tidy_help(command)
        # Not standalone: a usage error comes back to us and is printed as one line, not click's block.
        code = command.main(args=argv, prog_name="transferkit", standalone_mode=False)
    except NoArgsIsHelpError as error:  # bare `transferkit`: the help, as click prints it
        sys.stderr.write(error.ctx.get_help() + "\n")
        raise SystemExit(2) from None
    except click_errors.UsageError as error:
        _fail(_usage_line(error), 2, error)
    except ClickAbort as error:  # Ctrl-C or end of input at a prompt
        _fail("interrupted", 130, error)
    except ValidationError as error:  # a value pydantic refused where no caller turned it into one line
        _fail(validation_error(error).render(), 2, error)
    except Exception as error:  # noqa: BLE001 - the one place that answers every failure with one line
        found = _as_transferkit_error(error)
        if found is not None:
            _fail(_error_line(found), found.exit_code, error)
        if isinstance(error, OSError) and error.filename is not None:
            # A file the user named or owns (permissions, a full disk, a path that vanished): theirs to fix.
            _fail(TransferkitError(error.strerror or str(error), file=error.filename,
                                   fix="check the path, its permissions and the free space").render(), 2, error)
        first = (str(error).strip().splitlines() or [""])[0][:200]
        _fail(f"internal error: {type(error).__name__}{': ' + first if first else ''} (run again with "
              "`transferkit --debug ...` for the traceback; please report it)", 1, error)
    if code == 130:  # Typer turns Ctrl-C (KeyboardInterrupt) outside a training run into this return value
        sys.stderr.write("error: interrupted by Ctrl-C (SIGINT)\n")
    if isinstance(code, int) and code:  # typer.Exit(n) comes back as the return value
        raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
