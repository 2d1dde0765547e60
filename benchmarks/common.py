"""What every benchmark script shares: timed CLI runs, mean and spread over seeds, results JSON, docs sections.

Each script in ``benchmarks/`` runs the acceptance commands itself (``transferkit train`` then
``transferkit evaluate --json``) as child processes, once per seed, and records each child's wall time
and peak resident memory (``os.wait4`` returns the resource usage of exactly that child). The figures
go into a results JSON first; the script's section of ``docs/benchmarks.md`` is rendered from that
JSON only, so a section can always be rebuilt from saved results (``--render-only``) and no figure in
the docs is typed by hand. A cell that was not measured says so and why (:func:`not_measured`).
"""
from __future__ import annotations

import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"  # the saved results each docs section is rendered from


def data_dir() -> Path:
    """The dataset mirror: ``$TRANSFERKIT_DATA_DIR``, else ``../shared/datasets`` next to the project."""
    return Path(os.environ.get("TRANSFERKIT_DATA_DIR", ROOT.parent / "shared" / "datasets"))


def cli() -> list[str]:
    """The ``transferkit`` command of the running interpreter's environment (what a user types)."""
    exe = Path(sys.executable).parent / "transferkit"
    return [str(exe)] if exe.is_file() else [sys.executable, "-c", "from transferkit.cli import main; main()"]


def run_command(args: Sequence[str], log: Path, *, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``args``, its output appended to ``log``; return exit code, wall seconds and peak memory (MiB).

    Example:
        >>> import tempfile
        >>> r = run_command([sys.executable, "-c", "print('hi')"], Path(tempfile.mkdtemp()) / "log")
        >>> r["returncode"], r["peak_rss_mib"] > 0
        (0, True)
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(args)}\n")
        out.flush()
        proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        # wait4 reaps this child and gives its own rusage (ru_maxrss is in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": proc.returncode, "seconds": time.perf_counter() - started,
            "peak_rss_mib": usage.ru_maxrss / 1024}


def run_json(args: Sequence[str], log: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a command that prints one JSON object on its last stdout line; return (that object, usage)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    tmp = log.with_suffix(".stdout")
    usage = run_command(list(args), tmp)
    text = tmp.read_text(encoding="utf-8")
    with log.open("a", encoding="utf-8") as out:
        out.write(text)
    tmp.unlink()
    if usage["returncode"] != 0:
        raise RuntimeError(f"{shlex.join(args)} exited with {usage['returncode']}; see {log}")
    start = text.rfind("\n{")
    return json.loads(text[start + 1:] if start >= 0 else text[text.index("{"):]), usage


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    Example:
        >>> mean_sd([0.8, 0.9, 1.0])
        (0.9, 0.1)
    """
    values = [float(v) for v in values]
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return round(mean, 12), round(sd, 12)


def fmt(values: Sequence[float] | None, digits: int = 3) -> str:
    """``mean ± sd`` over seeds, or the one value when there is one.

    Example:
        >>> fmt([0.9, 0.92, 0.94])
        '0.920 ± 0.020'
        >>> fmt([0.9])
        '0.900 (1 seed)'
    """
    if not values:
        return "-"
    mean, sd = mean_sd(values)
    if len(values) == 1:
        return f"{mean:.{digits}f} (1 seed)"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def cell(result: dict[str, Any] | None, key: str, digits: int = 3) -> str:
    """A table cell for ``key`` of a run's per-seed results, or the reason it was not measured.

    Example:
        >>> cell({"seeds": [{"auroc": 0.9}, {"auroc": 0.92}]}, "auroc")
        '0.910 ± 0.014'
        >>> cell(not_measured("takes 2 h a seed"), "auroc")
        'not measured (takes 2 h a seed)'
    """
    if result is None:
        return "-"
    if "not_measured" in result:
        return f"not measured ({result['not_measured']})"
    return fmt([s[key] for s in result["seeds"] if s.get(key) is not None], digits)


def not_measured(reason: str) -> dict[str, str]:
    """The result of a run that was not made, with the reason the docs will print."""
    return {"not_measured": reason}


def time_cell(result: dict[str, Any] | None) -> str:
    """Wall time (mean over seeds) and peak memory (max over seeds) of a run.

    Example:
        >>> time_cell({"seeds": [{"seconds": 60, "peak_rss_mib": 900}, {"seconds": 120, "peak_rss_mib": 1000}]})
        '1.5 min, 1000 MiB'
    """
    if result is None or "not_measured" in result or not result.get("seeds"):
        return "-"
    seconds = statistics.fmean(s["seconds"] for s in result["seeds"])
    peak = max((s.get("peak_rss_mib") or 0) for s in result["seeds"])
    took = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    return f"{took}, {peak:.0f} MiB" if peak else took


def machine() -> str:
    """The machine the figures were measured on, in words."""
    try:
        import torch

        version = f", torch {torch.__version__}, {torch.get_num_threads()} torch threads"
    except ImportError:  # pragma: no cover
        version = ""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores{version}"


def command_line(script: str, argv: Sequence[str]) -> str:
    """The exact command that produced a section, as the section records it."""
    return shlex.join(["python", f"benchmarks/{script}", *argv])


def add_output_options(parser: Any, name: str) -> None:
    """The options every benchmark script shares: its work folder, its results JSON and its docs section.

    Example:
        >>> import argparse
        >>> p = argparse.ArgumentParser()
        >>> add_output_options(p, "vision_hymenoptera")
        >>> p.parse_args(["--no-doc"]).results.name
        'vision_hymenoptera.json'
    """
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / f"transferkit-{name}",
                        help="scratch folder for data slices, models and logs (default: %(default)s)")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--no-doc", action="store_true", help="print the section only")
    parser.add_argument("--render-only", action="store_true", help="rewrite the docs section from the saved results")
    parser.add_argument("--reuse", action="store_true", help="add to the saved results instead of starting afresh")
    parser.add_argument("--results", type=Path, default=RESULTS / f"{name}.json",
                        help="the results JSON the docs section is written from (default: %(default)s)")


def publish(args: Any, heading: str, text: str) -> int:
    """Print the section, then write it into ``args.doc`` unless ``--no-doc``; returns the exit code 0."""
    print(text)
    if not args.no_doc:
        write_section(args.doc, heading, text)
        print(f"wrote {heading!r} into {args.doc}")
    return 0


def save_results(path: Path, payload: dict[str, Any]) -> None:
    """Write the results JSON atomically (a run cut off keeps the previous complete file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


def write_section(doc: Path, heading: str, text: str) -> None:
    """Replace the section of ``doc`` that starts at ``heading`` (up to the next '## ' line), or append it.

    Everything outside that section is kept byte for byte: other scripts own the other sections.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "b.md"
        >>> _ = p.write_text("# B\\n\\n## A\\n\\nold\\n\\n## C\\n\\nkeep\\n")
        >>> write_section(p, "## A", "## A\\n\\nnew\\n")
        >>> p.read_text()
        '# B\\n\\n## A\\n\\nnew\\n\\n## C\\n\\nkeep\\n'
    """
    if not text.startswith(heading + "\n"):
        raise ValueError(f"the section must start with its heading {heading!r}")
    current = doc.read_text(encoding="utf-8") if doc.is_file() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    match = pattern.search(current)
    if match:
        tail = "\n\n" if match.end() < len(current) else "\n"
        updated = current[:match.start()] + text.rstrip("\n") + tail + current[match.end():]
    else:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated, encoding="utf-8")


def start_results(path: Path, reuse: bool, meta: dict[str, Any]) -> dict[str, Any]:
    """A fresh results record, or (``reuse``) the saved one with this command added to its commands.

    A long benchmark can then be run in parts (``--stages select``, then ``--runs preset --reuse``...);
    the section lists every command that contributed.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "r.json"
        >>> save_results(p, start_results(p, False, {"commands": ["a"]}))
        >>> start_results(p, True, {"commands": ["b"]})["meta"]["commands"]
        ['a', 'b']
    """
    if reuse and path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved["meta"] = {**saved["meta"], **meta, "commands": saved["meta"].get("commands", []) + meta["commands"]}
        saved.setdefault("runs", {})  # results saved by a selection-only run have no runs yet
        return saved
    return {"meta": meta, "runs": {}}


def commands_text(meta: dict[str, Any]) -> str:
    """The commands that produced a section, for its last line.

    Example:
        >>> commands_text({"commands": ["python a.py", "python a.py --reuse"]})
        '`python a.py`, then `python a.py --reuse`'
    """
    commands = ([meta["command"]] if meta.get("command") else []) + list(meta.get("commands", []))
    return ", then ".join(f"`{c}`" for c in commands)


def spread_sentence(result: dict[str, Any] | None, key: str, requested: int = 3) -> str:
    """What the seeds of a deterministic run showed, in words: never claims a spread that was not measured.

    Example:
        >>> spread_sentence({"seeds": [{"seed": 0, "auroc": 0.9}, {"seed": 1, "auroc": 0.9}, {"seed": 2, "auroc": 0.9}]}, "auroc")
        'Over seeds 0, 1, 2 the figures are identical (spread 0.000), as expected of a run with no random step.'
        >>> spread_sentence({"seeds": [{"seed": 0, "auroc": 0.9}]}, "auroc")
        'Only seed 0 was measured (1 of 3): its spread over seeds is not measured here.'
    """
    seeds = (result or {}).get("seeds") or []
    if not seeds:
        return ""
    names = ", ".join(str(s["seed"]) for s in seeds)
    if len(seeds) < min(requested, 2):
        return f"Only seed {names} was measured ({len(seeds)} of {requested}): its spread over seeds is not measured here."
    _, sd = mean_sd([s[key] for s in seeds])
    if sd == 0:
        return (f"Over seeds {names} the figures are identical (spread 0.000), as expected of a run with no "
                "random step.")
    return f"Over seeds {names} the spread (sd) is {sd:.3f}."
