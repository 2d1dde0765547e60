"""The `transferkit` command (Typer + Rich).

Listing commands (plugins, domains, models, presets, datasets) import no deep-learning framework; train,
evaluate and predict import only what their domain needs, when they need it. Start-up time is part of the
interface: Rich is imported by the first line printed through it, never at import time, so `--help` and the
`--json` listings do without it (tests/test_cli.py checks what a listing imports).
"""
# No `from __future__ import annotations` here: Typer reads every command's annotations at each start, and
# string annotations would be compiled and evaluated again at each start (about 5 ms of every command).
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

try:  # Typer >= 0.29 ships its own copy of click, whose exceptions are the ones raised
    from typer._click import exceptions as click_errors
    from typer.exceptions import Abort as ClickAbort
except ImportError:  # pragma: no cover - older Typer runs on click itself
    from click import exceptions as click_errors
    from click.exceptions import Abort as ClickAbort
# click >= 8.2 raises this for a bare `transferkit`; () matches nothing where it does not exist.
NoArgsIsHelpError = getattr(click_errors, "NoArgsIsHelpError", ())

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


class _LazyConsole:
    """A Rich console made on first use: importing Rich costs about 30 ms that `--help` and `--json` never need.

    Example:
        >>> _LazyConsole(soft_wrap=True).soft_wrap
        True
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:  # only called for what the instance itself lacks
        if name in ("_options", "_console"):  # not set yet (a copy made without __init__): no recursion
            raise AttributeError(name)
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# soft_wrap: a line is never cut at the console width. Rich assumes 80 columns when the output is a file or a
# pipe, and a log with every long line broken in two is hard to read and to grep (tables still fit 80).
# emoji=False: a path or message with `:name:` in it is printed as written (and Rich's emoji table, 5 ms to
# import, stays unloaded).
out = _LazyConsole(soft_wrap=True, emoji=False)
err = _LazyConsole(stderr=True, soft_wrap=True, emoji=False)
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
    # presets=False: checking the plugins' preset files imports pydantic, which `domains` has no other use for;
    # `plugins` and `presets` report a bad preset file.
    for info in get_registry().broken(presets=False):
        err.print(f"[yellow]warning:[/] plugin '{info.name}' ({info.package}) was skipped: {info.error}")


def _check_domain(domain: Optional[str]) -> None:
    if domain is not None and domain not in get_registry().domains:
        raise unknown_name("domain", domain, get_registry().domains, fix="run `transferkit domains`")


def _escape(text: str) -> str:
    """``text`` as Rich markup that prints it as written (``[astra]`` stays).

    Example:
        >>> print(_escape("pip install 'x[astra]'"))
        pip install 'x\\[astra]'
    """
    from rich.markup import escape

    return escape(text)


WIDE_HELP = ("every column, every cell whole: rows may be wider than the terminal and only descriptions wrap, "
             "at spaces (the default shows ids whole and one line a row)")
# In --wide, a column of prose (a description) wraps at spaces, never narrower than this or than its longest word.
PROSE_MIN_WIDTH = 40


def _listing(columns: list[str], rows: list[list[str]], *, wide: bool, notes: Sequence[str] = (),
             prose: Sequence[str] = ()) -> None:
    """Print a listing: the first column (the id people copy) is never cut or wrapped.

    Compact (the default): one line a row, the last column shortened with an ellipsis to fit the terminal.
    ``wide``: nothing is cut; see `_wide_table`. ``prose``: columns besides the last that may wrap in
    ``wide``. ``notes`` are lines printed under the table, never broken.

    Example:
        >>> _listing(["domain", "description"], [["toy", "a toy domain"]], wide=True)  # doctest: +SKIP
    """
    from rich.text import Text

    cells = [[Text.from_markup(cell, emoji=False) for cell in row] for row in rows]
    if wide:
        _wide_table(columns, cells, prose={len(columns) - 1} | {columns.index(name) for name in prose})
    else:
        from rich import box
        from rich.table import Column, Table

        last = len(columns) - 1
        table = Table(*[Column(name, no_wrap=i < last, overflow="ellipsis") for i, name in enumerate(columns)],
                      box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True, header_style="bold")
        for row in cells:
            # The last column shrinks first (Rich collapses wrapable columns before the others) and its text
            # ends in an ellipsis instead of wrapping: one line per row at any width that fits the ids.
            row[last].no_wrap, row[last].overflow = True, "ellipsis"
            table.add_row(*row)
        out.print(table, soft_wrap=False)
    for note in notes:  # one line each, never broken: they hold paths and commands to copy
        out.print(note, soft_wrap=True, highlight=False, markup=False)


def _wide_table(columns: list[str], rows: list[list[Any]], *, prose: set[int]) -> None:
    """Print a table whose cells are never cut: rows run past the terminal's width where they must.

    Like `kubectl get -o wide`: an id, a path or a URL is copied whole from one line. Columns of ``prose``
    wrap at spaces only (Rich breaks lines between words), at least as wide as their longest word, so no word
    is ever split either; the others keep their text on one line.
    """
    from rich import box
    from rich.measure import Measurement
    from rich.segment import Segments
    from rich.table import Column, Table

    def longest(index: int, unit: Any) -> int:
        texts = [columns[index], *(row[index].plain for row in rows)]
        return max((len(part) for text in texts for part in unit(text)), default=1)

    def table_of(widths: list[int]) -> Table:
        # Every column has its width set: Rich then neither squeezes a column nor wraps a cell at another width.
        table = Table(*[Column(name, width=widths[i], no_wrap=i not in prose, overflow="fold")
                        for i, name in enumerate(columns)], box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      collapse_padding=True, header_style="bold")
        for row in rows:
            table.add_row(*row)
        return table

    def width_of(table: Table) -> int:
        return Measurement.get(out, out.options.update_width(10**5), table).minimum

    whole = [longest(i, str.splitlines) for i in range(len(columns))]
    widths = [max(PROSE_MIN_WIDTH, longest(i, str.split)) if i in prose else whole[i] for i in range(len(columns))]
    spare = out.width - width_of(table_of(widths))
    for i in sorted(prose):  # a wide terminal gives its room to the prose, up to one line a cell
        grow = max(0, min(spare, whole[i] - widths[i]))
        widths[i], spare = widths[i] + grow, spare - grow
    table = table_of(widths)
    # Rich lays a table out within the console's width (80 in a pipe) and squeezes or cuts what does not fit:
    # render at the table's own width where that is wider, and print the lines uncropped.
    lines = out.render_lines(table, out.options.update_width(max(out.width, width_of(table))), new_lines=True)
    out.print(Segments([segment for line in lines for segment in line]), soft_wrap=True)


@app.command()
def plugins(
    as_json: bool = typer.Option(False, "--json", help="print every field as JSON"),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List installed plugins: package, version, status and what each provides."""
    registry = get_registry()
    registry.validate_presets()  # a plugin whose preset file the schema refuses is listed as broken
    rows = [info.as_dict() for info in registry.plugins.values()]
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
            # escape: a pip extra such as `weights[astra]` is text, not Rich markup
            table.append([row["id"], row["kind"], row["location"], f"{mark} ({_escape(row['availability'])})",
                          _escape(row["description"])])
        else:
            table.append([row["id"], row["kind"], mark, row["description"]])
    columns = ["model", "kind", "location", "available", "description"] if wide else ["model", "kind", "available", "description"]
    _listing(columns, table, wide=wide, notes=notes, prose=["available"] if wide else [])


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
    from transferkit.core.presets import resolve_preset  # TOML and pydantic only, as the listing must stay

    registry = get_registry()
    rows = []
    for preset in sorted(registry.presets.values(), key=lambda p: p.id):
        if domain and preset.domain != domain:
            continue
        try:  # what `presets show` and the plan use: `extends` applied (spam/sms: linear-probe, not auto)
            p = resolve_preset(preset, registry.preset)
        except TransferkitError:  # a broken `extends` is reported by `presets show` and train; list it as written
            p = preset
        rows.append({"id": p.id, "domain": p.domain, "version": p.version, "industry": p.industry,
                     "strategy": p.strategy, "model": p.model, "extends": p.extends, "description": p.description,
                     "origin": p.plugin, "source": p.source})
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
    from transferkit.datasets.registry import ENV, data_root, dataset_status

    rows = [dataset_status(spec) for spec in sorted(get_registry().datasets.values(), key=lambda d: d.name)]
    root = data_root()  # "missing" means something else when no mirror was searched at all
    mirror = (f"local copies: {ENV} (`--wide` shows paths and sources)" if root is not None else
              f"{ENV} is not set: only the download cache was searched")
    if as_json:
        return _emit_json(rows)
    if wide:
        table = [[r["name"], r["domain"], r["local"] or "[red]missing[/]", r["license"], r["url"]] for r in rows]
        return _listing(["dataset", "domain", "local copy", "licence", "source"], table, wide=True, prose=["licence"])
    table = [[r["name"], r["domain"], "[green]yes[/]" if r["local"] else "[red]missing[/]", r["license"]] for r in rows]
    _listing(["dataset", "domain", "local", "licence"], table, wide=False,
             notes=[mirror])


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
        "default", "--time-budget", show_default="15m on CPU, 60m with a GPU",
        help="time the whole run may take: 90s, 10m, 2h, or none; auto picks the best plan that fits and "
        "training stops at the budget"),
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
    started = time.monotonic()
    _check_domain(domain)
    if strategy is not None and strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES,
                           fix="pass one of the known strategies, or leave --strategy out for the preset's")
    # No get_domain() here: fit() checks the paths and the preset and model names first, in a moment, then
    # imports the domain (seconds: torch), whose missing dependency it reports before the data are read.
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
    # Several training processes (--devices): only the first prints; the others' lines would repeat its own.
    quiet = quiet or not is_rank_zero()
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
    _print_run(result, time.monotonic() - started)



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
            source = level.get_parameter_source(param.name)
            if getattr(source, "name", "") in ("DEFAULT", "DEFAULT_MAP"):  # not given: the resumed run picks it too
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
    from transferkit.core.devices import is_rank_zero
    from transferkit.core.outputs import is_run

    if not is_rank_zero():  # another training process: the first one says it, once
        raise SystemExit(stop.exit_code)
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


def _results_lines(metrics: dict[str, Any]) -> list[str]:
    """The figures of each split as plain aligned lines (no box drawing): they fit 80 columns in a pipe or a log.

    Example:
        >>> print("\\n".join(_results_lines({"val": {"n": 48, "accuracy": 0.9375, "f1_macro": 0.9373,
        ...                                                "auroc": None}})))
        Results
          split                                  n  accuracy  macro-F1     AUROC
          validation (used for selection)       48    0.9375    0.9373       n/a
    """
    from transferkit.core.metrics import split_label

    names = [split_label(split) for split in metrics]
    width = max(len("split"), *(len(name) for name in names)) + 2
    lines = ["Results", f"  {'split':<{width}}{'n':>7}{'accuracy':>10}{'macro-F1':>10}{'AUROC':>10}"]
    for name, values in zip(names, metrics.values()):
        auroc = values.get("auroc")
        lines.append(f"  {name:<{width}}{values['n']:>7,}{values['accuracy']:>10.4f}{values['f1_macro']:>10.4f}"
                     f"{'n/a' if auroc is None else f'{auroc:.4f}':>10}")
    return lines


def _print_run(result: Any, run_seconds: float) -> None:
    """After training: the figures, the notes and where the model is (the plan came before the training)."""
    import textwrap

    from transferkit.core.metrics import OPTIMISTIC_NOTE

    def item(text: str, first: str) -> str:  # wrapped at 80 columns; a path (one long word) is never cut
        return textwrap.fill(text, 80, initial_indent=first, subsequent_indent="  ", break_long_words=False,
                             break_on_hyphens=False)

    # Plain writes, not Rich: the same lines on a terminal, in a pipe and in a log file, and a note's brackets
    # ("[0.08, 1.0]") are text, not markup. The plan's style: a title at column 0, then indented rows.
    lines = ["", *_results_lines(result.metrics)]
    if "test" not in result.metrics:
        # The validation data chose the epoch / C / threshold: say so, once, and how to get honest figures.
        lines.append(item(OPTIMISTIC_NOTE, "note: "))
    lines += [item(note, "- ") for note in result.notes]
    # Both durations: the whole command (what the user waited) and the part inside fit()'s training call.
    lines.append(f"model written to {result.out}: the run took {run_seconds:.0f} s, of which training and "
                 f"scoring {result.seconds:.0f} s")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


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
    from rich.table import Table

    if metrics.get("data"):  # which data and split the figures are of: a file may hold several splits
        out.print(f"scored {metrics['n']:,} examples of {metrics['data']}", markup=False, highlight=False,
                  soft_wrap=True)  # markup off: "data.npz[test]" is not a Rich tag
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
    ctx: typer.Context,
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="where to write the demo model"),
    per_class: int = typer.Option(2, "--per-class", min=1, help="labelled examples per class"),
) -> None:
    """A real transfer on data that ships with scikit-image: pretrained vs from scratch vs pixels."""
    from transferkit.core.progress import mode_for
    from transferkit.demo import run_demo

    quiet = bool(ctx.find_root().params.get("quiet")) or bool(_STATE.get("quiet"))
    run_demo(out_dir, per_class=per_class, console=out, progress=mode_for(sys.stderr, quiet))


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


def _is_validation_error(error: BaseException) -> bool:
    """Whether ``error`` is pydantic's ValidationError, without importing pydantic: a process that never
    imported it cannot have raised one, and a command that needs no record should not pay for the import."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(error, pydantic.ValidationError)


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


def _help_flag_defaults_false(command: Any) -> None:
    """Give every command's automatic ``--help`` flag the default False (it has none: None).

    Typer 0.29 coerces each option's value through a pydantic TypeAdapter unless it is already a bool, and
    builds the adapter even for None: an unset ``--help`` imported pydantic (about 0.12 s) into every command,
    `transferkit domains` included, which has no other use for it. Click caches the help option on its command,
    so the default set here is the one parsing uses; with a Click that does not, nothing changes.
    """
    ctx = command.context_class(command, **(command.context_settings or {}))
    option = command.get_help_option(ctx)
    if option is not None and option.default is None:
        option.default = False
    for sub in getattr(command, "commands", {}).values():
        _help_flag_defaults_false(sub)


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

    _STATE["debug"] = os.environ.get("TRANSFERKIT_DEBUG", "") not in ("", "0")
    _STATE["quiet"] = False
    try:
        get_registry().add_commands(app)
        command = typer.main.get_command(app)
        _tidy_help(command)
        _help_flag_defaults_false(command)
        # Not standalone: a usage error comes back to us and is printed as one line, not click's block.
        code = command.main(args=argv, prog_name="transferkit", standalone_mode=False)
    except NoArgsIsHelpError as error:  # bare `transferkit`: the help, as click prints it
        sys.stderr.write(error.ctx.get_help() + "\n")
        raise SystemExit(2) from None
    except click_errors.UsageError as error:
        _fail(_usage_line(error), 2, error)
    except ClickAbort as error:  # Ctrl-C or end of input at a prompt
        _fail("interrupted", 130, error)
    except Exception as error:  # noqa: BLE001 - the one place that answers every failure with one line
        if _is_validation_error(error):  # a value pydantic refused where no caller turned it into one line
            _fail(validation_error(error).render(), 2, error)
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


def entry() -> None:
    """The `transferkit` program (console script and ``python -m transferkit.cli``): :func:`main`, then a prompt exit.

    After the last line, Python's own shutdown tears down the ~2,400 modules that torch, Lightning and
    scikit-learn bring, one garbage collection after another: 7-12 s on a busy 2-core machine in which the
    process sat silent (seen with gdb: ``finalize_modules`` -> ``gc_collect_main``). Everything transferkit
    writes is closed by then, so the exit handlers (temporary folders, logging) run and the process ends
    without the teardown. In-process callers (tests, notebooks) call :func:`main`, which returns.

    Example:
        >>> entry()  # doctest: +SKIP
    """
    import atexit
    import os

    try:
        main()
        code: Any = 0
    except SystemExit as stop:
        code = stop.code
    if not isinstance(code, int):  # SystemExit("message") or None, as sys.exit treats them
        if code is not None:
            sys.stderr.write(f"{code}\n")
        code = 0 if code is None else 1
    atexit._run_exitfuncs()  # what the interpreter would run at exit (tempfile, logging, weakref finalizers)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be written anyway
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
