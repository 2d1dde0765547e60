"""The `transferkit` command (Typer + Rich).

Listing commands (plugins, domains, models, presets, datasets) import no deep-learning framework; train,
evaluate and predict import only what their domain needs, when they need it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from transferkit.core.registry import get_registry, iter_domains_status
from transferkit.core.specs import STRATEGIES
from transferkit.errors import TransferkitError, UsageError, unknown_name

app = typer.Typer(
    name="transferkit",
    help="Transfer learning by domain: select a pretrained model, configure it, train it on your data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
presets_app = typer.Typer(help="List presets, or show one fully resolved.", invoke_without_command=True)
app.add_typer(presets_app, name="presets")

out = Console()
err = Console(stderr=True)


def _emit_json(data: Any) -> None:
    # Plain print, not Rich: scripts parse this, and Rich would wrap long lines.
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _warn_broken() -> None:
    for info in get_registry().broken():
        err.print(f"[yellow]warning:[/] plugin '{info.name}' ({info.package}) was skipped: {info.error}")


def _check_domain(domain: Optional[str]) -> None:
    if domain is not None and domain not in get_registry().domains:
        raise unknown_name("domain", domain, get_registry().domains, fix="run `transferkit domains`")


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List installed plugins: package, version, status and what each provides."""
    rows = [info.as_dict() for info in get_registry().plugins.values()]
    if as_json:
        return _emit_json(rows)
    table = Table("plugin", "package", "version", "status", "provides")
    for row in rows:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["provides"].items())
        status = row["status"] if row["status"] == "ok" else f"[red]{row['status']}[/]: {row['error']}"
        table.add_row(row["name"], row["package"], row["version"], status, provides)
    out.print(table)


@app.command()
def domains(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List domains with their status; an unavailable one shows the pip command that fixes it."""
    rows = list(iter_domains_status(get_registry()))
    if as_json:
        return _emit_json(rows)
    _warn_broken()
    table = Table("domain", "status", "default model", "default preset", "plugin", "description")
    for row in rows:
        status = "[green]available[/]" if row["status"] == "available" else f"[red]unavailable[/]: {row['fix']}"
        table.add_row(row["name"], status, row["default_model"], row["default_preset"] or "", row["plugin"],
                      row["description"])
    out.print(table)


@app.command()
def models(
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="only this domain"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the pretrained backbones of the catalog, and whether each can be loaded here."""
    _check_domain(domain)
    rows = []
    for source in sorted(get_registry().models.values(), key=lambda m: m.id):
        if domain and source.domain != domain:
            continue
        ok, why = source.availability()
        rows.append({**source.model_dump(), "available": ok, "availability": why})
    if as_json:
        return _emit_json(rows)
    table = Table("model", "kind", "location", "available", "description")
    for row in rows:
        mark = "[green]yes[/]" if row["available"] else "[red]no[/]"
        table.add_row(row["id"], row["kind"], row["location"], f"{mark} ({row['availability']})", row["description"])
    out.print(table)


@presets_app.callback()
def presets(
    ctx: typer.Context,
    domain: Optional[str] = typer.Option(None, "--domain", "-d", help="only this domain"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List presets by domain and origin."""
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
    table = Table("preset", "industry", "strategy", "origin", "description")
    for row in rows:
        table.add_row(row["id"], row["industry"], row["strategy"], row["origin"], row["description"])
    out.print(table)


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
def datasets(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the public datasets the registry knows, and whether the local mirror has them."""
    from transferkit.datasets.registry import dataset_status

    rows = [dataset_status(spec) for spec in sorted(get_registry().datasets.values(), key=lambda d: d.name)]
    if as_json:
        return _emit_json(rows)
    table = Table("dataset", "domain", "local copy", "licence", "source")
    for row in rows:
        table.add_row(row["name"], row["domain"], row["local"] or "[red]missing[/]", row["license"], row["url"])
    out.print(table)


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
    domain: str = typer.Option(..., "--domain", "-d", help="the domain: see `transferkit domains`"),
    data: Path = typer.Option(..., "--data", help="training data (folder or file, as the domain reads it)"),
    out_dir: Path = typer.Option(..., "--out", help="folder for the trained model"),
    val: Optional[Path] = typer.Option(None, "--val", help="validation data (default: the data's own split, or 20% held out)"),
    test: Optional[Path] = typer.Option(None, "--test", help="test data, scored once at the end"),
    preset: Optional[str] = typer.Option(None, "--preset", help="a preset id or a .toml file"),
    model: Optional[str] = typer.Option(None, "--model", help="a catalog id, a local model folder or a transferkit model"),
    strategy: Optional[str] = typer.Option(None, "--strategy", help=f"one of {', '.join(STRATEGIES)}"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    lr: Optional[float] = typer.Option(None, "--lr", help="learning rate of the head"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    per_class: Optional[int] = typer.Option(None, "--per-class", min=1, help="keep N labelled examples per class"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    text_col: list[str] = typer.Option([], "--text-col", help="text column (repeatable: joined)"),
    label_col: Optional[str] = typer.Option(None, "--label-col", help="label column"),
    read_opts: list[str] = typer.Option([], "--read-option", help="a reader option: --read-option path_col=file"),
    sets: list[str] = typer.Option([], "--set", help="any [train] key: --set weight_decay=0.01 (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the transfer plan and stop"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in --out"),
    as_json: bool = typer.Option(False, "--json", help="print the final metrics as JSON"),
) -> None:
    """Fine-tune a pretrained model on your data and write the model folder with its report."""
    from transferkit.core.select import get_domain

    _check_domain(domain)
    if strategy is not None and strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES)
    get_domain(domain)  # a missing dependency is reported before the data are read
    overrides = _parse_sets(sets)
    for key, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size)):
        if value is not None:
            overrides[key] = value
    read_options = _read_options(text_col, label_col, read_opts)
    from transferkit.core.train import fit

    result = fit(domain, data, preset=preset, model=model, strategy=strategy, out=None if dry_run else out_dir,
                 val=val, test=test, per_class=per_class, seed=seed, read_options=read_options,
                 dry_run=dry_run, resume=resume, progress=sys.stderr.isatty(), **overrides)
    if dry_run:
        if as_json:
            return _emit_json(result.as_dict())
        out.print(result.render())
        return
    if as_json:
        return _emit_json({"out": str(out_dir), **result.metrics})
    _print_run(result)


def _print_run(result: Any) -> None:
    out.print(result.model.plan.render())
    table = Table("split", "n", "accuracy", "macro-F1", "AUROC")
    for split, values in result.metrics.items():
        auroc = values.get("auroc")
        table.add_row(split, str(values["n"]), f"{values['accuracy']:.4f}", f"{values['f1_macro']:.4f}",
                      "n/a" if auroc is None else f"{auroc:.4f}")
    out.print(table)
    for note in result.notes:
        out.print(f"- {note}")
    out.print(f"model written to [bold]{result.out}[/] in {result.seconds:.0f} s")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="a folder written by `transferkit train`"),
    data: Path = typer.Option(..., "--data", help="labelled data in the model's domain format"),
    split: Optional[str] = typer.Option(None, "--split", help="train / val / test, for data that hold several"),
    text_col: list[str] = typer.Option([], "--text-col"),
    label_col: Optional[str] = typer.Option(None, "--label-col"),
    read_opts: list[str] = typer.Option([], "--read-option", help="a reader option: --read-option path_col=file"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Score a trained model on labelled data: accuracy, macro-F1, AUROC and per-class figures."""
    from transferkit.core.evaluate import evaluate as run_evaluate

    metrics = run_evaluate(model_dir, data, split=split, read_options=_read_options(text_col, label_col, read_opts))
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


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="a folder written by `transferkit train`"),
    inputs: list[str] = typer.Argument(..., help="inputs: file paths, or texts for text models"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Label new inputs with a trained model."""
    from transferkit.core.artifact import load
    from transferkit.core.evaluate import predict as run_predict

    model = load(model_dir)
    rows = run_predict(model, model.domain.parse_inputs(inputs))
    if as_json:
        return _emit_json(rows)
    table = Table("input", "label", "score")
    for row in rows:
        table.add_row(str(row["input"])[:80], row["label"], f"{row['scores'][row['label']]:.4f}")
    out.print(table)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="where to write the demo model"),
    per_class: int = typer.Option(2, "--per-class", min=1, help="labelled examples per class"),
) -> None:
    """A real transfer on data that ships with scikit-image: pretrained vs from scratch vs pixels."""
    from transferkit.demo import run_demo

    run_demo(out_dir, per_class=per_class, console=out)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: runs the app and turns transferkit errors into one clear line and an exit code."""
    get_registry().add_commands(app)
    try:
        # Standalone mode: Typer reports its own usage errors (unknown flags, with close matches) with exit 2.
        app(args=argv, prog_name="transferkit")
    except TransferkitError as error:
        err.print(f"[red]error:[/] {error.render()}", highlight=False, soft_wrap=True)
        raise SystemExit(error.exit_code) from None


if __name__ == "__main__":  # pragma: no cover
    main()
