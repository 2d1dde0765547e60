"""report.html as a person sees it: a real run's report and the compare page, rendered in headless Chromium.

Each page must load with no console message and no request leaving file:// (Chromium's net log records
every request the page makes), and show its figures (inline <svg>, base64 <img> thumbnails). Chromium is
Debian's ``chromium`` package, which ``make test`` installs where missing; without it these tests skip
locally and fail under CI.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ci_env import in_ci

pytest.importorskip("transferkit.core.train")

CHROMIUM_FLAGS = [
    "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0",
    "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
    "--disable-component-update", "--disable-default-apps",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = ("Debian's chromium is not installed (make test installs it: apt-get install -y chromium); "
              "report.html cannot be rendered")
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so this is an error, not a skip")
    pytest.skip(reason)


def render(page: Path, tmp: Path) -> tuple[str, list[str], list[str]]:
    """Load ``page`` in headless Chromium: (the DOM after loading, console messages, URLs the page requested)."""
    net_log = tmp / "net.json"
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--log-net-log={net_log}",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp)})
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    # The page's own requests are those in the file:// network partition (the browser's background ones are not).
    events = json.loads(net_log.read_text()).get("events", [])
    requested = sorted({e["params"]["url"] for e in events if "url" in (e.get("params") or {})
                        and str(e["params"].get("network_isolation_key", "")).startswith("file://")})
    return result.stdout, console, requested


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href", "srcset")]


def elements(dom: str) -> _Elements:
    parser = _Elements()
    parser.feed(dom)
    return parser


def assert_self_contained(page: Path, tmp: Path) -> _Elements:
    dom, console, requested = render(page, tmp)
    assert console == [], console
    assert requested == [], f"the page fetched {requested}"
    found = elements(dom)
    external = [u for u in found.urls if not (u.startswith("data:") or u.startswith("#"))]
    assert external == [], f"links out of the page: {external}"
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", dom), "a style sheet fetches something"
    return found


def test_the_checker_catches_console_errors_and_outside_requests(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="http://example.invalid/x.png"><script>console.error("boom")</script>'
                    "</body></html>")
    dom, console, requested = render(page, tmp_path)
    assert any('"boom"' in line for line in console)
    assert requested == ["http://example.invalid/x.png"]


# ---------------------------------------------------------------- a real run


COLOURS = {"ants": (200, 60, 40), "bees": (40, 90, 210)}


def _image(path: Path, colour: tuple[int, int, int], seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    # Noisy colour, sometimes the other class's colour: the tiny model makes mistakes for the gallery.
    array = np.clip(np.array(colour, np.float32)[None, None] + rng.normal(0, 60, (24, 24, 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8), "RGB").save(path)


def _folder(root: Path, per_class: dict[str, int], seed: int) -> None:
    for c, (name, n) in enumerate(per_class.items()):
        for i in range(n):
            colour = COLOURS[name] if i % 3 else COLOURS["bees" if name == "ants" else "ants"]
            _image(root / name / f"{name}_{seed}_{i}.png", colour, seed * 1000 + c * 100 + i)


@pytest.fixture(scope="module")
def vision_run(tmp_path_factory):
    """A real vision run (a tiny CNN from scratch, 2 epochs on 24-pixel images), with a test split that
    shares one image with the training data and an imbalanced, tiny training set."""
    import transferkit as tk
    import transferkit.plugins.vision as plugin
    from transferkit.core.specs import Preset
    from transferkit.testing import isolated_registry

    root = tmp_path_factory.mktemp("run")
    _folder(root / "train", {"ants": 12, "bees": 4}, seed=1)
    _folder(root / "val", {"ants": 4, "bees": 4}, seed=2)
    _folder(root / "test", {"ants": 6, "bees": 6}, seed=3)
    shutil.copy(root / "train" / "bees" / "bees_1_1.png", root / "test" / "bees" / "copied.png")
    preset = Preset(id="vision/test", domain="vision", description="test", strategy="full",
                    preprocess={"resolution": 24}, train={"epochs": 2, "batch_size": 8, "patience": 0})
    with isolated_registry(vision=plugin):
        tk.fit("vision", root / "train", val=root / "val", test=root / "test", model="vision/small-cnn.scratch",
               preset=preset, out=root / "model")
    return root / "model"


def test_a_real_runs_report_is_self_contained_and_shows_its_figures(vision_run, tmp_path):
    page = vision_run / "report.html"
    meta = json.loads((vision_run / "transferkit.json").read_text())
    assert "report.html" in meta["files"]  # written in the artifact's staging, listed as its own
    found = assert_self_contained(page, tmp_path)
    text = page.read_text()
    # curves, confusion, calibration (the run's PNGs, embedded) and ROC + precision-recall (inline SVG)
    figures = re.findall(r'<div class="figure">(<svg|<img src="data:image/png;base64,[^"]+" alt="(\w+)")', text)
    assert sorted(alt for _, alt in figures) == ["", "calibration", "confusion", "curves"], figures
    assert found.tags.get("svg", 0) >= 1
    for heading in ("Key figures", "Data", "Learning curves", "Confusion matrix", "ROC and precision-recall",
                    "Calibration", "Per-class figures", "Worst mistakes", "Plan", "Resolved preset"):
        assert f"<h2>{heading}</h2>" in text, heading
    assert re.search(r"the dashed line marks the epoch kept \(chosen epoch = [12]\)", text)  # 2 epochs, from 1
    assert "majority-class baseline (always &#x27;ants&#x27;)" in text
    # The data warnings: imbalance, tiny class, tiny validation set, the copied image found by content.
    warnings = meta["data"]["warnings"]
    assert any(w.startswith("duplicates: 1 of 13 test examples") for w in warnings), warnings
    assert any(w.startswith("class imbalance") for w in warnings) and any("tiny validation" in w for w in warnings)
    for warning in warnings:
        assert warning.replace("'", "&#x27;") in text
    # The gallery: one decodable PNG thumbnail per mistake shown.
    thumbnails = re.findall(r'<figure><img src="data:image/png;base64,([^"]+)"', text)
    assert 1 <= len(thumbnails) == found.tags.get("img", 0) - 3
    from PIL import Image
    import base64
    import io

    assert Image.open(io.BytesIO(base64.b64decode(thumbnails[0]))).size[0] > 0
    card = (vision_run / "README.md").read_text()
    assert "[report.html](report.html)" in card and "## Data warnings" in card
    assert "majority-class baseline (always `ants`)" in card and "accuracy 95% CI" in card


def test_the_curves_mark_the_kept_epoch_and_the_kept_c():
    from transferkit.core.report import curves_figure

    epochs = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 0.5, "val_f1_macro": f}
              for e, f in enumerate([0.5, 0.8, 0.8, 0.7])]
    probe = [{"C": c, "val_f1_macro": 0.6, "val_loss": 0.4, "chosen": c == 0.1} for c in (0.01, 0.1, 1.0)]
    # The stored epoch 1 (0-based) is the console's "epoch 2": the figure numbers epochs from 1 like it.
    for history, label, x in ((epochs, "chosen epoch = 2", 2), (probe, "chosen C = 0.1", 0.1)):
        fig = curves_figure(history, "f1_macro")
        for ax in fig.axes:
            marks = [line for line in ax.get_lines() if line.get_label() == label]
            assert len(marks) == 1 and list(marks[0].get_xdata()) == [x, x], label


def test_curves_of_cross_validated_rows_draw_without_a_singular_axis(tmp_path):
    # spam's carry-over choice: cross-validated rows, no validation figures, so the chosen mark was the only
    # line on either panel and matplotlib warned that the axis spanned one value (seen in the spam CLI test).
    import warnings

    from transferkit.core.report import plot_curves

    history = [{"carry": "alone", "strength": 0.0, "C": c, "cv_roc_auc": 0.9, "train_loss": None,
                "chosen": c == 100.0} for c in (1.0, 10.0, 100.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_curves(history, "f1_macro", tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_curves_of_cross_validated_rows_show_the_score_that_chose():
    # spam's carry-over rows hold a cross-validated score, no validation one: the panel draws that score,
    # a line per way of carrying the earlier model over, instead of staying empty.
    from transferkit.core.report import curves_figure

    history = [{"carry": way, "C": c, "cv_roc_auc": score, "cv_sd": 0.01, "train_loss": None, "series": series,
                "chosen": (way, c) == ("prior", 10.0)}
               for way, series, scores in (("alone", "alone", (0.90, 0.92)), ("prior", "prior 1", (0.95, 0.97)))
               for c, score in zip((1.0, 10.0), scores)]
    metric_panel = curves_figure(history, "f1_macro").axes[1]
    lines = {line.get_label(): list(line.get_ydata()) for line in metric_panel.get_lines()}
    assert lines["alone"] == [0.90, 0.92] and lines["prior 1"] == [0.95, 0.97]
    assert "chosen prior 1, C = 10" in lines  # the way and the C that cross-validation kept
    assert metric_panel.get_ylabel() == "cross-validated roc_auc (used for selection)"


def test_a_tiny_validation_set_gets_an_honest_accuracy_interval(vision_run):
    val = json.loads((vision_run / "transferkit.json").read_text())["metrics"]["val"]
    low, high = val["accuracy_ci95"]
    assert low < val["accuracy"] <= high and high - low > 0.3  # 8 examples cannot pin accuracy down


# ---------------------------------------------------------------- the compare page


def _compare_data() -> dict:
    rng = np.random.default_rng(0)
    rows = []
    for budget, n_train in ((4, 8), (16, 32), ("all", 200)):
        for seed in range(3):
            for method, level in (("transfer", 0.85), ("scratch", 0.6), ("classic", 0.7), ("majority", 0.5)):
                lift = 0.0 if method == "majority" else (0.1 if budget == "all" else 0.0)
                test = level + lift + rng.normal(0, 0.02)
                epochs = [] if method in ("classic", "majority") else [
                    {"epoch": e, "val_metric": test - 0.2 / (e + 1), "train_metric": test + 0.05,
                     "elapsed_s": 1.5 * (e + 1)} for e in range(4)]
                rows.append({"method": method, "per_class": budget, "seed": seed, "n_train": n_train,
                             "test_metric": test, "val_metric": test - 0.01,
                             "train_metric": None if method == "majority" else min(1.0, test + 0.1),
                             "wall_s": 6.0 if epochs else 0.3, "epochs": epochs})
    return {"domain": "vision", "data": "hymenoptera", "preset": "vision/general", "metric": "accuracy",
            "per_class": [4, 16, "all"], "seeds": 3, "rows": rows, "notes": ["a hand-made example"]}


def test_the_compare_page_is_self_contained_and_shows_the_five_benefits(tmp_path):
    from transferkit.core.html_report import write_compare_report

    page = tmp_path / "out" / "compare.html"
    write_compare_report(_compare_data(), page)
    found = assert_self_contained(page, tmp_path)
    # data needs, one speed figure per budget (3), overfitting
    assert found.tags.get("svg", 0) == 5, found.tags
    text = page.read_text()
    for heading in ("Verdict per budget", "Data needs", "Performance", "Learning speed and compute", "Overfitting"):
        assert f"<h2>{heading}</h2>" in text, heading
    verdicts = re.findall(r'<span class="verdict">([^<]+)</span>', text)
    assert len(verdicts) == 3 and all(v.startswith("transfer better by") for v in verdicts), verdicts
    assert "a hand-made example" in text


def test_a_verdict_within_the_seed_spread_is_no_clear_difference():
    from transferkit.core.html_report import verdict

    assert verdict([0.80, 0.70, 0.90], [0.78, 0.68, 0.88]).startswith("no clear difference")
    assert verdict([0.60, 0.61], [0.80, 0.81]).startswith("scratch better by 0.200")
    assert verdict([], [0.5]).startswith("no verdict")


# ---------------------------------------------------------------- honest figures without a browser


def test_a_perfect_12_example_validation_set_is_not_a_certain_1():
    from transferkit.core.metrics import classification_metrics
    from transferkit.core.report import model_card

    y = np.array([0] * 9 + [1] * 3)
    probs = np.stack([1.0 - y * 0.9 - 0.05, y * 0.9 + 0.05], axis=1)
    metrics = classification_metrics(y, probs, ["ham", "spam"], confidence=True)
    assert metrics["accuracy"] == 1.0 and metrics["accuracy_ci95"][0] == pytest.approx(0.7575, abs=1e-4)
    card = model_card({"domain": "spam", "transferkit_version": "0", "labels": ["ham", "spam"],
                       "metrics": {"val": metrics},
                       "data": {"train": {"counts": {"ham": 30, "spam": 10}}, "warnings": ["tiny validation set"]}})
    assert "| validation (used for selection) | 12 | 1.0000 | [0.76, 1.00] |" in card
    assert "| majority-class baseline (always `ham`), validation (used for selection) | 12 | 0.7500 |" in card
    assert "## Data warnings\n\n- tiny validation set" in card


def test_the_model_card_says_the_run_stopped_at_the_budget_and_which_epoch_it_kept():
    """Only report.html and transferkit.json said so: a card reader could not tell the model was cut short."""
    from transferkit.core.report import model_card

    notes = ["stopped at the time budget after 13 epochs (of 15)", "restored the best epoch (epoch 12, val_score 0.9457)"]
    card = model_card({"domain": "toy", "transferkit_version": "0", "labels": ["a", "b"], "metrics": {},
                       "notes": notes})
    assert "## Training notes\n\n- stopped at the time budget after 13 epochs (of 15)\n- restored the best epoch" in card
    assert "## Training notes" not in model_card({"domain": "toy", "transferkit_version": "0", "labels": ["a"],
                                                  "metrics": {}})


def test_duplicates_are_found_by_content_and_skipped_files_counted_once():
    from transferkit.core.data import Examples, Skipped
    from transferkit.core.data_checks import data_warnings

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (8, 8), dtype=np.uint8) for _ in range(40)]
    skipped = [Skipped(item="broken.png", reason="not an image")]
    train = Examples(items=arrays[:30], labels=["a", "b"] * 15, source="t", skipped=skipped)
    val = Examples(items=arrays[30:] + [arrays[0].copy(), arrays[1].copy()] * 10, labels=["a", "b"] * 15,
                   source="t", skipped=skipped)
    warnings = data_warnings(train, val)
    duplicates = [w for w in warnings if w.startswith("duplicates")]
    assert len(duplicates) == 1 and duplicates[0].startswith("duplicates: 20 of 30 validation examples"), warnings
    assert len([w for w in warnings if w.startswith("skipped 1 unreadable file")]) == 1
    clean = Examples(items=arrays[30:] + [a + 1 for a in arrays[:20]], labels=["a", "b"] * 15, source="t")
    assert not any(w.startswith("duplicates") for w in data_warnings(train, clean))
