"""The worked example of each domain's guide, run as the guide shows it, its printed output written into the guide.

Each guide (docs/vision.md, docs/nlp.md, docs/medical.md, docs/spam.md) has a section "## A worked example: ..."
that this script owns. For each domain it runs, in an empty folder under ``--work``, the guide's commands
exactly as written (a bash line, with ``TRANSFERKIT_DATA_DIR`` set to the dataset mirror, which is what the
guide's ``export`` line does), then writes into the section: the commands, the log they printed (the plan
before training, the progress lines, the result), an excerpt of the model card ``README.md`` and the sections
of ``report.html``. Nothing in the section is typed by hand: the prose around the blocks says what they are,
never what they measured.

Each example is one run with one seed, chosen to finish in minutes on a CPU (a slice of the data, a strategy
that runs the backbone once): its figures are an illustration. The seeded figures, with their spread, are
in docs/benchmarks.md, written by the other scripts of this folder.

Results (the logs and excerpts) go to benchmarks/results/worked_examples.json (``--results``), so a section
can be rebuilt without running again (``--render-only``).

    python benchmarks/worked_examples.py                        # all four domains, one after the other
    python benchmarks/worked_examples.py --domains nlp --reuse  # one domain, the others kept from the JSON
    python benchmarks/worked_examples.py --render-only          # rewrite the sections from the saved JSON
"""
from __future__ import annotations

import argparse
import html.parser
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

LOG = "train.log"
EXPORT = "export TRANSFERKIT_DATA_DIR=../shared/datasets   # the dataset mirror (from the project root)"
PROGRESS = re.compile(r"^\[transferkit \d\d:\d\d:\d\d\] ")
CARD_SECTIONS = ("Metrics", "Data warnings")  # what the excerpt keeps of the model card, besides its title


@dataclass(frozen=True)
class Example:
    """One guide's worked example: where it goes, what it says and the commands it runs."""

    domain: str
    doc: str  # relative to the project root
    title: str  # the section heading is "## A worked example: <title>"
    intro: str  # what the data and the options are, and why; no measured figure
    commands: tuple[str, ...]  # bash lines, run in order in an empty folder; the last one trains
    model: str  # the folder the train command writes
    benchmark: str  # the docs/benchmarks.md anchor of the domain's seeded figures
    after: str = ""  # what the result shows, in words (no figure)
    follow_up: tuple[str, ...] = field(default=())  # run after training; shown with what they print

    @property
    def heading(self) -> str:
        return f"## A worked example: {self.title}"


EXAMPLES = {
    "vision": Example(
        domain="vision", doc="docs/vision.md", title="ants vs bees", model="models/ants-bees",
        benchmark="vision-ants-vs-bees-hymenoptera",
        intro=("The classic transfer-learning set (ants and bees, ImageNet photos) is in the dataset mirror. This "
               "run keeps 40 labelled photos a class (`--per-class 40`, a few-label task that a CPU finishes in "
               "minutes) and first sets aside a stratified 20% of the photos as a held-out test set "
               "(`--holdout-test 0.2`) that chooses nothing. The default preset, `vision/general`, is a linear "
               "probe: the frozen EfficientNet-Lite0 runs once over each photo at 320 px and a logistic "
               "regression is fitted on its features."),
        commands=("transferkit train --domain vision --data $TRANSFERKIT_DATA_DIR/hymenoptera/train \\\n"
                  "  --per-class 40 --holdout-test 0.2 --out models/ants-bees > train.log 2>&1",),
        after=("A linear probe has no epochs: the progress lines are its steps (the feature pass, the fit). "
               "The placeholder `imageNotFound.gif` is skipped and listed, in the plan's warnings, the model "
               "card and the report."),
    ),
    "nlp": Example(
        domain="nlp", doc="docs/nlp.md", title="AG News topics", model="models/ag-news",
        benchmark="nlp-ag-news",
        intro=("The mirror holds the 7,600 articles of AG News' official test split (4 topics, labels 1 to 4: "
               "World, Sports, Business, Sci/Tech). This run sets aside a stratified 20% as held-out test "
               "data, keeps 32 labelled articles a topic for training and validation (`--per-class 32`), and "
               "trains a head on the frozen MiniLM encoder (`--strategy freeze`): the encoder runs once over "
               "the texts and the head is trained on the cached sentence vectors by gradient descent, one "
               "progress line per epoch. The preset's own choice at this size (`auto`) is contrastive "
               "tuning of the whole encoder, which takes minutes to tens of minutes on a CPU."),
        commands=("transferkit train --domain nlp --data $TRANSFERKIT_DATA_DIR/ag-news/test.csv \\\n"
                  "  --per-class 32 --holdout-test 0.2 --strategy freeze --epochs 10 \\\n"
                  "  --out models/ag-news > train.log 2>&1",),
        after=("The columns were found from their names (`Title` and `Description` joined as the text, "
               "`Class Index` as the label). Training stops early once validation accuracy has not improved "
               "for as many epochs as the plan's patience, and the best epoch's weights are the model."),
        follow_up=('transferkit predict models/ag-news "Stocks fell as oil prices rose"',)),
    "medical": Example(
        domain="medical", doc="docs/medical.md", title="BreastMNIST", model="models/breast",
        benchmark="medical-breastmnist",
        intro=("BreastMNIST (MedMNIST v2: breast ultrasound, 28 x 28 pixels, malignant against normal or "
               "benign) is one `.npz` with its official train, validation and test splits, and transferkit "
               "uses all three as they are. This run keeps 50 training images a class (`--per-class 50`; "
               "validation and test stay whole) with the `medical/breast-ultrasound` preset: a linear probe on "
               "frozen EfficientNet-Lite0 features averaged over two input sizes, and a decision threshold "
               "chosen on the validation split so that at least 90% of malignant lesions are flagged."),
        commands=("transferkit train --domain medical --preset medical/breast-ultrasound \\\n"
                  "  --data $TRANSFERKIT_DATA_DIR/breastmnist/breastmnist.npz --per-class 50 \\\n"
                  "  --out models/breast > train.log 2>&1",),
        after=("The decision rule is the preset's: the threshold on `malignant` meets the sensitivity bound "
               "on validation data, and the test figures show what it gives on images that chose nothing."),
    ),
    "spam": Example(
        domain="spam", doc="docs/spam.md", title="the SMS Spam Collection", model="models/sms",
        benchmark="spam-sms-and-enron-spam",
        intro=("The SMS Spam Collection (`label<TAB>text`, no header) is read as it is. This run uses the "
               "acceptance preset `spam/sms` (TF-IDF + calibrated logistic regression, a threshold chosen on "
               "validation data so that at most 0.5% of legitimate messages are flagged) on all of it, with a "
               "stratified 20% set aside first as held-out test data (`--holdout-test 0.2`)."),
        commands=("transferkit train --domain spam --preset spam/sms \\\n"
                  "  --data $TRANSFERKIT_DATA_DIR/sms-spam/SMSSpamCollection --holdout-test 0.2 \\\n"
                  "  --out models/sms > train.log 2>&1",),
        after=("TF-IDF has no pretrained network and no epochs, so the progress lines are its steps. The "
               "plan's warnings say what to read the figures against: the classes are imbalanced (compare "
               "with the majority-class baseline in the card), and the collection holds repeated messages, "
               "so some validation and test messages also appear in training. The notes under the figures "
               "give the C and the threshold that the validation data chose."),
        follow_up=('transferkit predict models/sms "WINNER! Claim your free prize now: call 09061701461"',)),
}


# ------------------------------------------------------------------------------------------- running
def run_example(example: Example, work: Path) -> dict[str, Any]:
    """Run the example's commands in an empty folder ``work/<domain>``; return its log, card and report.

    The commands run as a bash script, as a user would paste them, with ``TRANSFERKIT_DATA_DIR`` set to the
    mirror and the project's ``transferkit`` first on ``PATH``.
    """
    folder = work / example.domain
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty: pass another --work (this script never deletes files)")
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TRANSFERKIT_DATA_DIR": str(common.data_dir().resolve()),
           "PATH": f"{Path(common.cli()[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("COLUMNS", None)  # the output a pipe gets, whatever this terminal is
    started = time.perf_counter()
    load = os.getloadavg()[0]
    script = "set -e\n" + "\n".join(example.commands) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env)
    log = (folder / LOG).read_text(encoding="utf-8") if (folder / LOG).is_file() else ""
    if done.returncode != 0:
        raise RuntimeError(f"the {example.domain} example exited with {done.returncode}:\n{log[-3000:]}")
    follow_up = []
    for line in example.follow_up:  # what a user types next, with what it prints (stdout and stderr, in order)
        shown = subprocess.run(["bash", "-c", line], cwd=folder, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        if shown.returncode != 0:
            raise RuntimeError(f"{line!r} exited with {shown.returncode}:\n{shown.stdout[-3000:]}")
        follow_up.append({"command": line, "output": shown.stdout})
    model = folder / example.model
    return {"log": log, "follow_up": follow_up, "card": (model / "README.md").read_text(encoding="utf-8"),
            "report": report_sections((model / "report.html").read_text(encoding="utf-8")),
            "seconds": round(time.perf_counter() - started, 1), "load_before": round(load, 1),
            "date": time.strftime("%Y-%m-%d"), "machine": common.machine()}


# ------------------------------------------------------------------------------------- what was printed
def split_log(log: str) -> dict[str, str]:
    """A train log (stdout and stderr in one file, in order) cut where a reader's eye goes.

    ``plan``: everything up to the end of the plan (the first progress lines, then the plan); ``progress``:
    the progress lines after it; ``result``: the rest of the printed lines (the figures, notes, the folder).

    Example:
        >>> parts = split_log("[transferkit 10:00:00] reading data\\nTransfer plan\\nData\\n"
        ...                   "[transferkit 10:00:01] epoch 1/2 done\\n\\nResults\\nmodel written to m in 2 s\\n")
        >>> parts["plan"].splitlines()[-1], parts["progress"], parts["result"].splitlines()[0]
        ('Data', '[transferkit 10:00:01] epoch 1/2 done', 'Results')
    """
    lines = log.splitlines()
    start = lines.index("Transfer plan")
    end = next((i for i in range(start + 1, len(lines)) if PROGRESS.match(lines[i]) or not lines[i]), len(lines))
    after = lines[end:]
    progress = [line for line in after if PROGRESS.match(line)]
    result = [line for line in after if not PROGRESS.match(line)]
    while result and not result[0]:
        result.pop(0)
    return {"plan": "\n".join(lines[:end]), "progress": "\n".join(progress), "result": "\n".join(result)}


def elide(text: str) -> str:
    """Progress lines with each step's repeated "still running" / "N of M done" lines cut to its first and last.

    Example:
        >>> lines = ["[transferkit 10:00:00] scoring (9 examples)"] + [
        ...     f"[transferkit 10:00:0{i}] scoring (9 examples): {i} of 9 done" for i in (1, 2, 3, 4)]
        >>> print(elide("\\n".join(lines + ["[transferkit 10:00:09] saving"])))
        [transferkit 10:00:00] scoring (9 examples)
        [... 3 more lines like these ...]
        [transferkit 10:00:04] scoring (9 examples): 4 of 9 done
        [transferkit 10:00:09] saving
    """
    groups: list[list[str]] = []
    for line in text.splitlines():
        step = re.sub(r": (still running|\d+ of \d+ done).*$", "", PROGRESS.sub("", line))
        if groups and groups[-1][0] == step:
            groups[-1].append(line)
        else:
            groups.append([step, line])
    shown = []
    for _, *lines in groups:
        if len(lines) > 3:
            lines = [lines[0], f"[... {len(lines) - 2} more lines like these ...]", lines[-1]]
        shown += lines
    return "\n".join(shown)


def card_excerpt(card: str, keep: tuple[str, ...] = CARD_SECTIONS) -> str:
    """The model card's title and intro, and its ``keep`` sections (``## Metrics``...), as written.

    Example:
        >>> card_excerpt("# m\\n\\nintro\\n\\n## Metrics\\n\\n| a |\\n\\n## Plan\\n\\nlong\\n")
        '# m\\n\\nintro\\n\\n## Metrics\\n\\n| a |'
    """
    parts = re.split(r"^(?=## )", card, flags=re.M)
    kept = [parts[0]] + [p for p in parts[1:] if p.splitlines()[0][3:].strip() in keep]
    return "\n\n".join(p.strip("\n") for p in kept).strip("\n")


class _Sections(html.parser.HTMLParser):
    """The ``<h2>`` titles of a page and, under each, how many figures (SVG, images) and tables it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, Any]] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "h2":
            self._in_h2 = True
            self.sections.append({"title": "", "figures": 0, "tables": 0})
        elif self.sections and tag in ("svg", "img"):
            self.sections[-1]["figures"] += 1
        elif self.sections and tag == "table":
            self.sections[-1]["tables"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.sections[-1]["title"] += data


def report_sections(page: str) -> list[dict[str, Any]]:
    """The sections of a ``report.html``: title, figures and tables in each.

    Example:
        >>> report_sections("<h2>Key figures</h2><table></table><h2>Curves</h2><svg></svg>")
        [{'title': 'Key figures', 'figures': 0, 'tables': 1}, {'title': 'Curves', 'figures': 1, 'tables': 0}]
    """
    parser = _Sections()
    parser.feed(page)
    return [{**s, "title": " ".join(s["title"].split())} for s in parser.sections]


# ------------------------------------------------------------------------------------------- rendering
def _fence(text: str, language: str = "text") -> list[str]:
    return [f"```{language}", text.rstrip("\n"), "```"]


def _quote(markdown: str) -> list[str]:
    # A block quote shows the card as it renders, and keeps its "## " headings out of this guide's outline
    # (common.write_section ends a section at the next "## " line).
    return [f"> {line}".rstrip() for line in markdown.splitlines()]


def _what(section: dict[str, Any]) -> str:
    things = [f"{section['figures']} figure{'s' * (section['figures'] != 1)}" if section["figures"] else "",
              f"{section['tables']} table{'s' * (section['tables'] != 1)}" if section["tables"] else ""]
    shown = ", ".join(t for t in things if t)
    return f"{section['title']} ({shown})" if shown else section["title"]


def render(example: Example, run: dict[str, Any], command: str) -> str:
    """The guide's section for one example, from its saved run."""
    parts = split_log(run["log"])
    lines = [example.heading, "", example.intro, "",
             *_fence(EXPORT + "\n" + "\n".join(example.commands), "bash"), "",
             f"`{LOG}` then holds, in plain lines (what a pipe or a log file gets; on a terminal the progress "
             "lines are live bars), first the plan, printed before any training (`--dry-run` prints the same "
             "plan and stops):", "",
             *_fence(parts["plan"]), "",
             "then the progress lines (on stderr, one a step or an epoch; `--quiet` leaves them out):", "",
             *_fence(elide(parts["progress"]) or "(none)"), "",
             "and the result:", "",
             *_fence(parts["result"]), ""]
    if example.after:
        lines += [example.after, ""]
    lines += [f"`{example.model}/` holds the model (`model.safetensors`, `transferkit.json`), the model card "
              "`README.md`, `metrics.json` and `report.html`. The card opens with the figures, the majority-class "
              "baseline and the data warnings (an excerpt: the plan and more follow in the card):", "",
              *_quote(card_excerpt(run["card"])), "",
              "`report.html` is one self-contained page (inline figures, no script, readable offline; see "
              "[report.md](report.md)). Its sections, in order, for this run:", ""]
    lines += [f"{i}. {_what(section)}" for i, section in enumerate(run["report"], 1)]
    for step in run.get("follow_up", []):
        lines += ["", "Then the model at work:", "", *_fence(step["command"], "bash"), "", *_fence(step["output"])]
    lines += ["", f"One run with one seed, with options chosen to finish in minutes on a CPU: its figures are an "
                  f"illustration, not a measurement. The seeded figures, with their spread over seeds, are in "
                  f"[benchmarks.md](benchmarks.md#{example.benchmark}). Everything in the blocks above was "
                  f"written by `{command}` on {run['date']} "
                  f"({run['machine']}; load average {run['load_before']} when it started, shared with other "
                  f"jobs, so the times are upper bounds)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", default=",".join(EXAMPLES), help="comma list of: " + ", ".join(EXAMPLES))
    common.add_output_options(parser, "worked_examples")
    parser.set_defaults(doc=None)  # each example goes into its own guide; --doc FILE puts them all in FILE
    args = parser.parse_args(argv)
    domains = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = sorted(set(domains) - set(EXAMPLES))
    if unknown:
        parser.error(f"unknown domain(s) {unknown}: choose from {', '.join(EXAMPLES)}")
    command = common.command_line("worked_examples.py", argv)
    saved = json.loads(args.results.read_text(encoding="utf-8")) if args.results.is_file() else {"runs": {}}
    if not args.render_only:
        results = saved if args.reuse else {"runs": {}}
        for domain in domains:
            run = run_example(EXAMPLES[domain], args.work)
            results["runs"][domain] = {**run, "command": command}
            common.save_results(args.results, results)  # each example kept as soon as it is done
        saved = results
    for domain in domains:
        if domain not in saved["runs"]:
            print(f"no saved run for {domain} in {args.results}: run it first", file=sys.stderr)
            return 2
        run = saved["runs"][domain]
        example = EXAMPLES[domain]
        target = argparse.Namespace(**{**vars(args), "doc": args.doc or common.ROOT / example.doc})
        common.publish(target, example.heading, render(example, run, run["command"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
