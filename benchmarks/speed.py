"""Speed and memory of transferkit against the floor and hand-written baselines, side by side in one run.

Every figure is a ratio of two things measured in the same run, on the same machine, data and model,
with the repeats interleaved (A, B, C, A, B, C, ...) and the median taken, because the absolute times on
a shared CPU are noisy (the load average is printed with the results). What is compared:

1. frozen backbone, head trained 20 epochs (``--strategy freeze --set patience=0``, vision/general's
   EfficientNet-Lite0 on every hymenoptera training image, ``--frozen-scale``, and 40 of its validation
   images): in-process ``fit()`` against the floor (load the backbone,
   one forward pass over train + val with the same preprocessing) and against a plain loop that runs the
   backbone every epoch; ``transferkit train`` in a subprocess against the floor in a subprocess.
   The default strategy of vision/general (linear probe) is timed beside it.
2. full fine-tuning, one epoch: ``fit(strategy="full", epochs=1)`` against a minimal PyTorch loop doing as
   many AdamW steps on the same parameter groups and batch size (shuffled batches; ``fit`` batches texts of
   similar length together), then scoring val once; for nlp (MiniLM on an AG News slice) also against
   Hugging Face's ``Trainer`` with the same optimizer and its defaults otherwise. Beside the whole runs,
   the loop alone (the steps and the validation pass: ``fit``'s recorded ``elapsed_s``, the same span of
   the hand loop), and for vision ``fit`` with one DataLoader worker (what the CPU rule of
   ``core/devices.py`` ``loader_options`` saves).
3. ``predict`` throughput against the raw model's forward pass at the same batch size (both decode and
   preprocess the inputs with the domain's own dataset).
4. start-up of ``transferkit domains`` and ``transferkit --help``, and the deep-learning modules
   ``python -X importtime`` sees them import.
5. peak memory: ``ru_maxrss`` of every subprocess; inside a worker, the peak resident memory above the
   level before each measurement (sampled every 10 ms), and time and memory at 1x, 2x, 4x the training
   images (CLI and floor, each in its own subprocess, ``--repeats`` times).

Every training run in this script passes ``time_budget=None`` (``--time-budget none``): the budget's
timing steps are a separate cost (core/budget.py) and would blur the ratios.

    python benchmarks/speed.py                       # default slices, 3 repeats
    python benchmarks/speed.py --repeats 2 --loop-epochs 2 --growth 1,2   # a short run on a busy machine
    python benchmarks/speed.py --render-only         # rewrite the docs section from results/speed.json
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SECTION = "## Speed and memory (ratios)"
SECTIONS = (1, 2, 3, 4, 5)  # the numbered comparisons of the docstring; --sections picks some
DEEP = ("torch", "lightning", "transformers", "monai", "pytorch_lightning", "sklearn", "timm")
HEAD_EPOCHS = 20
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ---------------------------------------------------------------- data slices


def vision_slices(work: Path, per_class: int, val_per_class: int, scales: list[int],
                  name: str = "vision") -> dict[str, Path]:
    """Folders of links: ``train-Nx`` (N x per_class images a class, nested: 1x is inside 2x) and ``val``."""
    source = common.data_dir() / "hymenoptera"
    out = {}
    rng = random.Random(0)
    for class_dir in sorted(p for p in (source / "train").iterdir() if p.is_dir()):
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        rng.shuffle(files)
        for scale in scales:
            _links(files[:per_class * scale], work / f"{name}-train-{scale}x" / class_dir.name)
        val_files = sorted(p for p in (source / "val" / class_dir.name).iterdir() if p.suffix.lower() == ".jpg")
        _links(val_files[:val_per_class], work / f"{name}-val" / class_dir.name)
    for scale in scales:
        out[f"train-{scale}x"] = work / f"{name}-train-{scale}x"
    out["val"] = work / f"{name}-val"
    return out


def _count_images(folder: Path) -> int:
    """Image files under ``folder``, with the suffixes :func:`vision_slices` links."""
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _links(files: list[Path], folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name).symlink_to(f.resolve())


def text_slices(work: Path, per_class: int, val_per_class: int, prefix: str = "agnews") -> dict[str, Path]:
    """AG News rows (the mirror's test.csv), ``per_class`` a class for train and ``val_per_class`` for val."""
    with (common.data_dir() / "ag-news" / "test.csv").open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    random.Random(0).shuffle(rows)
    by_class: dict[str, list[list[str]]] = {}
    for row in rows:
        by_class.setdefault(row[0], []).append(row)
    out = {}
    for name, lo, hi in (("train", 0, per_class), ("val", per_class, per_class + val_per_class)):
        path = work / f"{prefix}-{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for label in sorted(by_class):
                writer.writerows(by_class[label][lo:hi])
        out[name] = path
    return out


# ---------------------------------------------------------------- measuring inside a worker


class PeakRSS:
    """Peak resident memory (MiB) of this process above its level at entry, sampled every 10 ms."""

    def __enter__(self) -> "PeakRSS":
        self.start = self.peak = _rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())
        self.delta = self.peak - self.start


def _release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc ``malloc_trim``): else the kind that runs first pays for heap
    growth that later kinds reuse unseen, and the peaks above the start level would favour them."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def interleaved(kinds: dict[str, Callable[[], Any]], repeats: int, warmup: int = 0) -> dict[str, dict[str, list[float]]]:
    """Run every kind once per round, rounds ``repeats`` times; seconds and peak memory above the start.

    ``warmup`` untimed rounds go first: the first call of a code path in a process pays one-off costs
    (lazy imports, first kernels) that would otherwise land on whichever kind runs first.
    """
    import gc

    for _ in range(warmup):
        for name, run in kinds.items():
            started = time.perf_counter()
            run()
            print(f"[speed] warm-up {name}: {time.perf_counter() - started:.2f} s", file=sys.stderr, flush=True)

    out: dict[str, dict[str, list[float]]] = {k: {"seconds": [], "peak_delta_mib": []} for k in kinds}
    for round_ in range(repeats):
        order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))  # no kind always runs first
        for name in order:
            gc.collect()
            _release_free_memory()
            with PeakRSS() as mem:
                started = time.perf_counter()
                kinds[name]()
                seconds = time.perf_counter() - started
            out[name]["seconds"].append(seconds)
            out[name]["peak_delta_mib"].append(mem.delta)
            print(f"[speed] {name}: {seconds:.2f} s, +{mem.delta:.0f} MiB", file=sys.stderr, flush=True)
    return out


def _labels_of(folder_or_file: Path, domain: Any) -> Any:
    return domain.read(folder_or_file, split=None, options={})


def _loader(model: Any, items: list[Any], targets: list[int] | None, batch_size: int, train: bool,
            shuffle: bool = False, drop_last: bool = False) -> Any:
    """A plain DataLoader over the domain's own dataset (same decoding and preprocessing as transferkit)."""
    from torch.utils.data import DataLoader

    dataset = model.domain.dataset(model.backbone, items, targets, model.preset, train=train)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      collate_fn=model.domain.collate)


def _build(domain: str, labels: list[str], strategy: str, **overrides: Any) -> Any:
    from transferkit.core.configure import configure
    from transferkit.core.seeding import seed_all
    from transferkit.core.select import select

    seed_all(0)
    selection = select(domain)
    return configure(selection, labels, strategy=strategy, min_per_class=100, **overrides)


def hand_full_epoch(domain: str, train: Any, val: Any, batch_size: int, loop_seconds: list[float] | None = None) -> Any:
    """The minimal loop: build the model, one epoch of AdamW steps on transferkit's groups, score val once.

    ``loop_seconds`` gets the seconds of the loop alone (the steps and the validation pass), the span
    ``fit()`` records as its epoch's ``elapsed_s``.
    """
    import torch

    from transferkit.core.evaluate import targets_for
    from transferkit.core.train import _param_groups

    model = _build(domain, train.classes, "full", epochs=1)
    cfg = model.plan.train
    y = targets_for(train, model.labels).tolist()
    groups = [{"params": p, "lr": lr} for _, p, lr in _param_groups(model) if p]
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg["weight_decay"])
    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    for inputs, targets in _loader(model, train.items, y, batch_size, True, shuffle=True,
                                   drop_last=len(y) > batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    model.eval()
    with torch.inference_mode():
        probs = [torch.softmax(model(x), -1) for x, _ in _loader(model, val.items, None, batch_size, False)]
    if loop_seconds is not None:
        loop_seconds.append(time.perf_counter() - started)
    return torch.cat(probs)


def worker_vision(opts: dict[str, Any]) -> dict[str, Any]:
    """Frozen-head, full fine-tuning and predict comparisons for vision, interleaved in this process."""
    import tempfile

    import torch

    from transferkit.core.evaluate import targets_for
    from transferkit.core.select import get_domain
    from transferkit.core.train import fit

    train_dir, val_dir, bs = Path(opts["train"]), Path(opts["val"]), opts["batch_size"]
    domain = get_domain("vision")
    train, val = _labels_of(train_dir, domain), _labels_of(val_dir, domain)
    both = train.items + val.items
    # Section 3 predicts on a slice of its own (--predict-scale): the frozen comparisons train on every
    # training image, and predicting those 5 times twice would double the run.
    predict_items = _labels_of(Path(opts.get("predict_train") or train_dir), domain).items + val.items
    scratch = Path(tempfile.mkdtemp(prefix="tk-speed-"))
    counter = iter(range(10**6))
    trained: dict[str, Any] = {}

    def floor() -> None:
        model = _build("vision", train.classes, "freeze")
        with torch.inference_mode():
            for inputs, _ in _loader(model, both, None, bs, False):
                model.backbone(inputs)

    loop_setup: list[float] = []

    def per_epoch_loop() -> None:
        # What a hand-written frozen fine-tune does without a feature cache: the backbone every epoch.
        started = time.perf_counter()
        model = _build("vision", train.classes, "freeze")
        y = targets_for(train, model.labels).tolist()
        opt = torch.optim.AdamW(model.head.parameters(), lr=model.plan.head_lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        # Set-up apart: a loop run for fewer epochs is scaled to HEAD_EPOCHS without scaling the set-up.
        loop_setup.append(time.perf_counter() - started)
        for _ in range(opts["loop_epochs"]):
            for inputs, targets in _loader(model, train.items, y, bs, False, shuffle=True):
                with torch.no_grad():
                    feats = model.backbone(inputs)
                opt.zero_grad()
                loss_fn(model.head(feats), targets).backward()
                opt.step()
            with torch.no_grad():
                for inputs, _ in _loader(model, val.items, None, bs, False):
                    model.head(model.backbone(inputs))

    # Section 2 times one epoch of full fine-tuning on a slice of its own (--full-images-per-class): an
    # epoch long enough that the per-step cost, not the one-off set-up, decides the ratio.
    full_dir = Path(opts.get("full_train") or train_dir)
    full_val_dir = Path(opts.get("full_val") or val_dir)
    full_train, full_val = _labels_of(full_dir, domain), _labels_of(full_val_dir, domain)

    def fit_run(data: Path = train_dir, val_data: Path = val_dir, loop_seconds: list[float] | None = None,
                **kw: Any) -> Callable[[], None]:
        def run() -> None:
            result = fit("vision", data, val=val_data, out=scratch / f"run{next(counter)}", seed=0,
                         time_budget=None, batch_size=bs, **kw)
            trained.setdefault("model", result.model)
            if loop_seconds is not None:  # Lightning's loop alone: the epoch's steps and its validation pass
                loop_seconds.append(result.history[-1]["elapsed_s"])
        return run

    sections = set(opts.get("sections", SECTIONS))
    frozen = full = pred = {}
    if 1 in sections:
        kinds = {"floor": floor, "fit_freeze": fit_run(strategy="freeze", epochs=HEAD_EPOCHS, patience=0),
                 "fit_linear_probe": fit_run(), "loop": per_epoch_loop}
        frozen = interleaved(kinds, opts["repeats"], opts.get("warmup", 0))
        frozen["loop"]["setup_seconds"] = loop_setup[-len(frozen["loop"]["seconds"]):]  # the timed rounds
    if 2 in sections:
        loops: dict[str, list[float]] = {"fit_full": [], "hand_full": [], "fit_full_one_worker": []}
        full_fit = fit_run(full_dir, full_val_dir, loops["fit_full"], strategy="full", epochs=1, patience=0)
        one_worker = fit_run(full_dir, full_val_dir, loops["fit_full_one_worker"], strategy="full", epochs=1,
                             patience=0)

        def fit_full_one_worker() -> None:
            # The same run with one decoding worker, as training had on 2 cores before its loaders kept to
            # the cores torch leaves free (core/devices.py loader_options): what that rule saves.
            from unittest import mock

            from transferkit.core.devices import WORKERS_ENV

            with mock.patch.dict(os.environ, {WORKERS_ENV: "1"}):
                one_worker()

        full = interleaved({"fit_full": full_fit,
                            "hand_full": lambda: hand_full_epoch("vision", full_train, full_val, bs,
                                                                 loops["hand_full"]),
                            "fit_full_one_worker": fit_full_one_worker},
                           opts["repeats"], opts.get("warmup", 0))
        for name, seconds in loops.items():
            full[name]["loop_seconds"] = seconds[-opts["repeats"]:]  # the timed rounds
        full = {**full, "n_train_full": len(full_train), "n_val_full": len(full_val)}
    # What each figure was measured with, only for the sections run: a --reuse run of other sections merges
    # its result over the saved one and must not relabel figures it did not measure.
    settings: dict[str, Any] = {"n_train": len(train), "n_val": len(val), "batch_size": bs,
                                "threads": torch.get_num_threads(), "malloc_trim": True}
    if 1 in sections:
        settings["loop_epochs"] = opts["loop_epochs"]
    if 3 not in sections:
        shutil.rmtree(scratch, ignore_errors=True)
        return {**settings, **frozen, **full}
    if "model" not in trained:  # section 3 alone: a model to predict with (the default linear probe, untimed)
        fit_run(strategy="linear-probe")()
    model = trained["model"]

    pred = predict_against_raw(model, predict_items, bs, opts)
    shutil.rmtree(scratch, ignore_errors=True)
    return {**settings, "n_predict": len(predict_items), **frozen, **full, **pred}


def worker_nlp(opts: dict[str, Any]) -> dict[str, Any]:
    """Full fine-tuning (against a hand loop and HF Trainer) and predict for nlp, interleaved."""
    import tempfile

    import torch

    from transferkit.core.evaluate import targets_for
    from transferkit.core.select import get_domain
    from transferkit.core.train import _param_groups, fit

    train_file, val_file, bs = Path(opts["train"]), Path(opts["val"]), opts["batch_size"]
    domain = get_domain("nlp")
    train, val = _labels_of(train_file, domain), _labels_of(val_file, domain)
    # Section 2 on a slice of its own (--full-texts-per-class), as in worker_vision.
    full_file = Path(opts.get("full_train") or train_file)
    full_val_file = Path(opts.get("full_val") or val_file)
    full_train, full_val = _labels_of(full_file, domain), _labels_of(full_val_file, domain)
    scratch = Path(tempfile.mkdtemp(prefix="tk-speed-"))
    counter = iter(range(10**6))
    trained: dict[str, Any] = {}

    loops: dict[str, list[float]] = {"fit_full": [], "hand_full": []}

    def fit_full() -> None:
        result = fit("nlp", full_file, val=full_val_file, out=scratch / f"run{next(counter)}", seed=0,
                     time_budget=None, strategy="full", epochs=1, patience=0, batch_size=bs)
        trained.setdefault("model", result.model)
        loops["fit_full"].append(result.history[-1]["elapsed_s"])  # as in worker_vision

    def hf_trainer() -> None:
        import transformers

        model = _build("nlp", full_train.classes, "full", epochs=1)
        cfg = model.plan.train
        y = targets_for(full_train, model.labels).tolist()
        dataset = model.domain.dataset(model.backbone, full_train.items, y, model.preset, train=True)
        val_set = model.domain.dataset(model.backbone, full_val.items, [0] * len(full_val), model.preset,
                                       train=False)

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = model

            def forward(self, input_ids: Any, attention_mask: Any, labels: Any = None) -> dict[str, Any]:
                logits = self.inner({"input_ids": input_ids, "attention_mask": attention_mask})
                out = {"logits": logits}
                if labels is not None:
                    out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
                return out

        def collate(batch: list[Any]) -> dict[str, Any]:
            inputs, targets = model.domain.collate(batch)
            return {**inputs, "labels": targets}

        groups = [{"params": p, "lr": lr} for _, p, lr in _param_groups(model) if p]
        optimizer = torch.optim.AdamW(groups, weight_decay=cfg["weight_decay"])
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        args = transformers.TrainingArguments(
            output_dir=str(scratch / f"hf{next(counter)}"), per_device_train_batch_size=bs,
            per_device_eval_batch_size=bs, num_train_epochs=1, save_strategy="no", eval_strategy="no",
            logging_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, remove_unused_columns=False,
            dataloader_num_workers=0, seed=0)
        trainer = transformers.Trainer(model=Wrapped(), args=args, train_dataset=dataset,
                                       data_collator=collate, optimizers=(optimizer, schedule))
        trainer.train()
        trainer.predict(val_set)

    sections = set(opts.get("sections", SECTIONS))
    full: dict[str, Any] = {}
    if 2 in sections:
        full = interleaved({"fit_full": fit_full,
                            "hand_full": lambda: hand_full_epoch("nlp", full_train, full_val, bs, loops["hand_full"]),
                            "hf_trainer": hf_trainer}, opts["repeats"], opts.get("warmup", 0))
        for name, seconds in loops.items():
            full[name]["loop_seconds"] = seconds[-opts["repeats"]:]
        full = {**full, "n_train_full": len(full_train), "n_val_full": len(full_val)}
    if 3 not in sections:
        shutil.rmtree(scratch, ignore_errors=True)
        return {"n_train": len(train), "n_val": len(val), "batch_size": bs,  # n_predict: section 3's alone
                "threads": torch.get_num_threads(), "malloc_trim": True, **full}
    if "model" not in trained:  # section 3 alone: a model to predict with (a linear probe, untimed; nlp's
        # default at few labels is the contrastive fit, which costs many minutes here)
        trained["model"] = fit("nlp", train_file, val=val_file, out=scratch / "predict-model", seed=0,
                               time_budget=None, batch_size=bs, strategy="linear-probe").model
    model = trained["model"]
    texts = train.items + val.items

    pred = predict_against_raw(model, texts, bs, opts)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"n_train": len(train), "n_val": len(val), "n_predict": len(texts), "batch_size": bs,
            "threads": torch.get_num_threads(), "malloc_trim": True, **full, **pred}


def worker_floor(opts: dict[str, Any]) -> dict[str, Any]:
    """The floor as its own process: imports, backbone, one forward pass over train + val (vision)."""
    started = time.perf_counter()
    import torch

    from transferkit.core.select import get_domain

    domain = get_domain("vision")
    train, val = _labels_of(Path(opts["train"]), domain), _labels_of(Path(opts["val"]), domain)
    model = _build("vision", train.classes, "freeze")
    with torch.inference_mode():
        for inputs, _ in _loader(model, train.items + val.items, None, opts["batch_size"], False):
            model.backbone(inputs)
    return {"seconds": time.perf_counter() - started}


WORKERS = {"vision": worker_vision, "nlp": worker_nlp, "floor": worker_floor}


def run_worker(kind: str, opts: dict[str, Any], log: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run a worker in a fresh interpreter: its JSON result and its own wall time and ru_maxrss."""
    return common.run_json([sys.executable, str(Path(__file__).resolve()), "--worker", kind,
                            "--worker-options", json.dumps(opts)], log)


# ---------------------------------------------------------------- start-up


def startup(repeats: int, log: Path) -> dict[str, Any]:
    """Wall time and peak memory of the listing commands (interleaved), and which heavy modules they import."""
    # The bare interpreter is the baseline: on a loaded machine even `python -c pass` is slow.
    commands = {"python": [sys.executable, "-c", "pass"], "domains": [*common.cli(), "domains"],
                "help": [*common.cli(), "--help"]}
    out: dict[str, Any] = {k: {"seconds": [], "peak_rss_mib": []} for k in commands}
    # What a user's start-up costs: bytecode written (pip does it at install; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile transferkit's sources on every run, ~10% more) and files cached.
    import compileall

    import transferkit

    compileall.compile_dir(Path(transferkit.__file__).parent, quiet=1)
    for args in commands.values():
        common.run_command(args, log)
    for _ in range(repeats):
        for name, args in commands.items():
            usage = common.run_command(args, log)
            if usage["returncode"] != 0:
                raise RuntimeError(f"{args} exited with {usage['returncode']}; see {log}")
            out[name]["seconds"].append(usage["seconds"])
            out[name]["peak_rss_mib"].append(usage["peak_rss_mib"])
    for name, argv in (("domains", ["domains"]), ("help", ["--help"])):
        code = f"import sys; sys.argv = ['transferkit', *{argv!r}]\nfrom transferkit.cli import main\nmain()"
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True)
        heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                        if line.startswith("import time:") and
                        line.split("|")[-1].strip().split(".")[0] in DEEP})
        out[name]["deep_imports"] = heavy
    out["lightning_import"] = lightning_import_ms(repeats)
    return out


# What `import lightning` costs a process that has torch already (the training engine of every strategy but the
# linear probe), and the packages it pulls in: cumulative import time, from Python's own -X importtime.
LIGHTNING_PARTS = ("lightning", "torchmetrics.functional", "torch._dynamo", "transformers", "scipy.signal", "matplotlib")


def lightning_import_ms(repeats: int) -> dict[str, list[float]]:
    """Milliseconds (cumulative, per repeat) of ``import lightning`` after ``import torch``, and of the
    packages in ``LIGHTNING_PARTS`` it imports."""
    out: dict[str, list[float]] = {name: [] for name in LIGHTNING_PARTS}
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import torch\nimport lightning"],
                              capture_output=True, text=True)
        after_torch = proc.stderr.split("| torch\n", 1)[-1]  # the lines after torch's own import ends
        seen: dict[str, float] = {}
        for line in after_torch.splitlines():
            if line.startswith("import time:"):
                _, cumulative, name = line.split("|")
                name = name.strip()
                if name in LIGHTNING_PARTS and name not in seen:
                    seen[name] = int(cumulative) / 1e3
        for name in LIGHTNING_PARTS:
            out[name].append(seen.get(name, 0.0))
    return out


# ---------------------------------------------------------------- rendering


def med(values: list[float]) -> float:
    return statistics.median(values)


def ratio(a: list[float], b: list[float]) -> float:
    return med(a) / med(b)


def verdict(value: float, target: float, most: bool) -> str:
    ok = value <= target if most else value >= target
    return "met" if ok else "**not met**"


def shown(value: float, target: float) -> str:
    """A ratio as the table prints it: two decimals, three where two would round onto the target and hide
    which side of it the ratio is (1.053 against <= 1.05)."""
    return f"{value:.3f}x" if f"{value:.2f}" == f"{target:.2f}" and value != target else f"{value:.2f}x"


def predict_against_raw(model: Any, items: list[Any], bs: int, opts: dict[str, Any]) -> dict[str, Any]:
    """Section 3: ``predict`` against the raw forward pass over the same batches (the domain's own loader)."""
    import torch

    from transferkit.core.evaluate import predict

    def raw() -> None:
        model.eval()
        with torch.inference_mode():
            for inputs, _ in _loader(model, items, None, bs, False):
                torch.softmax(model(inputs), -1)

    return interleaved({"predict": lambda: predict(model, items, bs), "raw_forward": raw}, opts["repeats"],
                       opts.get("warmup", 0))


def loop_alone_row(domain: str, r: dict[str, Any]) -> list[str]:
    """Section 2's epoch without the fixed costs of a run: the steps and the validation pass alone, as
    ``fit()`` records them (``elapsed_s``) and as the hand loop times them; none when not measured."""
    if "loop_seconds" not in r["fit_full"] or "loop_seconds" not in r["hand_full"]:
        return []
    a, b = r["fit_full"]["loop_seconds"], r["hand_full"]["loop_seconds"]
    x = ratio(a, b)
    return [f"| {domain}, same epoch, the loop alone (the training steps and the validation pass; loading the "
            f"model, reading the data, the final scoring, the report and the saved files excluded on both "
            f"sides) | {med(a):.1f} s | {med(b):.1f} s | {shown(x, 1.05)} | <= 1.05x, {verdict(x, 1.05, True)} |"]


def round_spread(workers: dict[str, dict[str, Any] | None]) -> str:
    """Section 2's ratio in each round (``fit()`` and the hand loop ran in the same round, one after the
    other), lowest to highest: how far the host's noise moves the ratio the table gives as a median.

    Example:
        >>> r = {"fit_full": {"seconds": [70.0, 59.4]}, "hand_full": {"seconds": [64.8, 65.1]}}
        >>> round_spread({"vision": {"result": r}, "nlp": None})
        "Section 2's ratio in each round (the same round's `fit()` over its hand loop), lowest to highest: vision, whole run: 0.91x to 1.08x (2 rounds)."
    """
    parts = []
    for domain, worker in workers.items():
        r = (worker or {}).get("result", {})
        if "fit_full" not in r or "hand_full" not in r:
            continue
        for what, key in (("whole run", "seconds"), ("loop alone", "loop_seconds")):
            a, b = r["fit_full"].get(key), r["hand_full"].get(key)
            if a and b and len(a) == len(b):
                each = sorted(x / y for x, y in zip(a, b))
                parts.append(f"{domain}, {what}: {each[0]:.2f}x to {each[-1]:.2f}x ({len(each)} rounds)")
    if not parts:
        return ""
    return ("Section 2's ratio in each round (the same round's `fit()` over its hand loop), lowest to highest: "
            + "; ".join(parts) + ".")


def repeats_text(runs: dict[str, Any]) -> str:
    """How many timed repeats the medians are of: sections are re-run in parts (--reuse), with different counts.

    Example:
        >>> repeats_text({"vision": {"result": {"floor": {"seconds": [1, 2, 3]}, "fit_full": {"seconds": [1] * 5}}}})
        '3 to 5 repeats (section 2: each round below)'
        >>> repeats_text({"nlp": {"result": {"fit_full": {"seconds": [1, 2, 3]}}}})
        '3 repeats'
    """
    counts = {len(v["seconds"]) for run in runs.values() if isinstance(run, dict)
              for v in (run.get("result") or {}).values() if isinstance(v, dict) and v.get("seconds")}
    if not counts:
        return "the repeats"
    if len(counts) == 1:
        return f"{counts.pop()} repeats"
    return f"{min(counts)} to {max(counts)} repeats (section 2: each round below)"


def render(results: dict[str, Any]) -> str:
    meta, runs = results["meta"], results["runs"]
    warm = ", ".join(f"{d} {runs[d].get('warmup', 0)}" for d in ("vision", "nlp") if d in runs) or "none"
    lines = [SECTION, "",
             f"Measured on {meta['machine']}, load average {meta['load_before']} before and {meta.get('load_after', '?')} "
             f"after the run (the CPU is shared: absolute times are noisy, so every figure is a ratio of two things "
             f"measured in the same run, repeats interleaved, medians of {repeats_text(runs)}; untimed warm-up "
             f"rounds first: {warm}). "
             "Seconds include loading the backbone from disk and exclude the Python imports, except in rows "
             "marked *subprocess*.", ""]
    v, n = runs.get("vision"), runs.get("nlp")
    rows = ["| comparison | transferkit | baseline | ratio | target |", "|---|---|---|---|---|"]
    if v and "fit_freeze" in v["result"]:  # section 1
        r = v["result"]
        setup = r["loop"].get("setup_seconds") or [0.0] * len(r["loop"]["seconds"])  # older results: none
        loop_scaled = [b + (s - b) * HEAD_EPOCHS / r["loop_epochs"] for s, b in zip(r["loop"]["seconds"], setup)]
        scaled = "" if r["loop_epochs"] == HEAD_EPOCHS else (
            f" (measured over {r['loop_epochs']} epochs, scaled to {HEAD_EPOCHS}, set-up not scaled)")
        x = ratio(r["fit_freeze"]["seconds"], r["floor"]["seconds"])
        rows.append(f"| vision, frozen backbone, head {HEAD_EPOCHS} epochs: `fit(strategy='freeze')` vs the floor "
                    f"(one backbone pass over {r['n_train']}+{r['n_val']} images) | {med(r['fit_freeze']['seconds']):.1f} s "
                    f"| {med(r['floor']['seconds']):.1f} s | {x:.2f}x | <= 1.2x, {verdict(x, 1.2, True)} |")
        x = ratio(r["fit_linear_probe"]["seconds"], r["floor"]["seconds"])
        rows.append(f"| vision, default strategy (linear probe) `fit()` vs the floor | "
                    f"{med(r['fit_linear_probe']['seconds']):.1f} s | {med(r['floor']['seconds']):.1f} s | {x:.2f}x "
                    f"| <= 1.2x, {verdict(x, 1.2, True)} |")
        x = med(loop_scaled) / med(r["fit_freeze"]["seconds"])
        rows.append(f"| vision, plain loop running the backbone every epoch{scaled} vs `fit(strategy='freeze')` | "
                    f"{med(r['fit_freeze']['seconds']):.1f} s | {med(loop_scaled):.1f} s | {x:.1f}x faster "
                    f"| >= 10x, {verdict(x, 10, False)} |")
    if v and "fit_full" in v["result"]:  # section 2
        r = v["result"]
        x = ratio(r["fit_full"]["seconds"], r["hand_full"]["seconds"])
        rows.append(f"| vision, full fine-tuning, 1 epoch, {r.get('n_train_full', r['n_train'])} images (val "
                    f"{r.get('n_val_full', r['n_val'])}), batch {r['batch_size']}: `fit()` vs a hand-written "
                    f"PyTorch loop | {med(r['fit_full']['seconds']):.1f} s | {med(r['hand_full']['seconds']):.1f} s "
                    f"| {shown(x, 1.05)} | <= 1.05x, {verdict(x, 1.05, True)} |")
        rows += loop_alone_row("vision", r)
        if "fit_full_one_worker" in r:
            x = ratio(r["fit_full_one_worker"]["seconds"], r["fit_full"]["seconds"])
            rows.append(f"| vision, same: `fit()` with one DataLoader worker (`TRANSFERKIT_NUM_WORKERS=1`, what "
                        f"training used on 2 cores before its loaders kept to the cores torch leaves free) vs "
                        f"`fit()` as it is (no worker on this CPU) | {med(r['fit_full_one_worker']['seconds']):.1f} s "
                        f"| {med(r['fit_full']['seconds']):.1f} s | {x:.2f}x | none: why the CPU decodes in the "
                        f"main process |")
    if v and "predict" in v["result"]:  # section 3
        r = v["result"]
        x = ratio(r["raw_forward"]["seconds"], r["predict"]["seconds"])
        rows.append(f"| vision, `predict` throughput vs the raw forward pass ({r['n_predict']} images, batch "
                    f"{r['batch_size']}) | {r['n_predict'] / med(r['predict']['seconds']):.1f}/s | "
                    f"{r['n_predict'] / med(r['raw_forward']['seconds']):.1f}/s | {x:.2f}x | >= 0.95x, "
                    f"{verdict(x, 0.95, False)} |")
    if n and "fit_full" in n["result"]:
        r = n["result"]
        x = ratio(r["fit_full"]["seconds"], r["hand_full"]["seconds"])
        rows.append(f"| nlp, full fine-tuning, 1 epoch, {r.get('n_train_full', r['n_train'])} texts (val "
                    f"{r.get('n_val_full', r['n_val'])}), batch {r['batch_size']}: `fit()` (texts of similar "
                    f"length batched together, as the `Trainer`'s `group_by_length`, off by default, does) vs a "
                    f"hand-written PyTorch loop (shuffled batches) | {med(r['fit_full']['seconds']):.1f} s | "
                    f"{med(r['hand_full']['seconds']):.1f} s | {shown(x, 1.05)} | <= 1.05x, {verdict(x, 1.05, True)} |")
        rows += loop_alone_row("nlp", r)
        x = ratio(r["fit_full"]["seconds"], r["hf_trainer"]["seconds"])
        rows.append(f"| nlp, same: `fit()` vs Hugging Face `Trainer` (same AdamW groups, its defaults otherwise) | "
                    f"{med(r['fit_full']['seconds']):.1f} s | {med(r['hf_trainer']['seconds']):.1f} s | {shown(x, 1.0)} | "
                    f"<= 1.0x, {verdict(x, 1.0, True)} |")
    if n and "predict" in n["result"]:
        r = n["result"]
        x = ratio(r["raw_forward"]["seconds"], r["predict"]["seconds"])
        rows.append(f"| nlp, `predict` throughput vs the raw forward pass ({r['n_predict']} texts, batch "
                    f"{r['batch_size']}; `predict` batches texts of similar length together, the raw pass takes "
                    f"them in the order given) | {r['n_predict'] / med(r['predict']['seconds']):.1f}/s | "
                    f"{r['n_predict'] / med(r['raw_forward']['seconds']):.1f}/s | {x:.2f}x | >= 0.95x, "
                    f"{verdict(x, 0.95, False)} |")
    g = runs.get("growth")
    for scale in sorted(g or {}, key=int):  # every size measured: the fixed cost of imports weighs less with more data
        one = g[scale]
        x = ratio(one["cli"]["seconds"], one["floor"]["seconds"])
        rows.append(f"| vision, `transferkit train --strategy freeze --epochs {HEAD_EPOCHS}` vs the floor, each a "
                    f"*subprocess* (imports included), {one['n_train']} training images | "
                    f"{med(one['cli']['seconds']):.1f} s | {med(one['floor']['seconds']):.1f} s | {x:.2f}x | "
                    f"<= 1.2x, {verdict(x, 1.2, True)} |")
    s = runs.get("startup")
    if s:
        for name, label in (("domains", "transferkit domains"), ("help", "transferkit --help")):
            x = med(s[name]["seconds"])
            deep = ", ".join(s[name]["deep_imports"]) or "none"
            bare = f"{med(s['python']['seconds']):.2f} s" if "python" in s else "-"
            times = f"{ratio(s[name]['seconds'], s['python']['seconds']):.1f}x" if "python" in s else "-"
            rows.append(f"| `{label}` start-up, *subprocess* (deep-learning imports: {deep}), against a bare "
                        f"`python -c pass` | {x:.2f} s | {bare} | {times} | < 0.3 s, {verdict(x, 0.3, True)} |")
    imports = (s or {}).get("lightning_import")
    if imports:
        parts = ", ".join(f"{name} {med(imports[name]) / 1e3:.1f} s" for name in LIGHTNING_PARTS[1:]
                          if med(imports[name]))
        notes_after = [f"Where the *subprocess* row's extra time goes: `import lightning` (Lightning runs the "
                       f"training of every strategy but the linear probe) takes {med(imports['lightning']) / 1e3:.1f} s "
                       f"after torch (median of {len(imports['lightning'])}, `python -X importtime`), pulling in, "
                       f"cumulatively and partly nested: {parts}. Lightning imports torchmetrics only to read its "
                       "version; torchmetrics then imports what its text, audio and plotting metrics use when "
                       "installed. The linear probe (the default strategy) does not import Lightning. The "
                       "`fit()` rows above are measured inside one process, after the imports.", ""]
    else:
        notes_after = []
    missing = [n for n in SECTIONS if n not in meta.get("sections", SECTIONS)]
    if missing:  # a run of some sections: say what this page does not show, rather than leave it out silently
        rows.append(f"| comparisons {', '.join(map(str, missing))} of `benchmarks/speed.py` (see its docstring) "
                    "| not measured in this run | | | |")
    lines += rows + [""]
    if v and "fit_freeze" in v["result"]:
        lines += [f"Section 1 trains on {v['result']['n_train']} images (`--frozen-scale`; every ants/bees training image "
                  "at the default, the size of the case in issue #12). Its fixed costs (the report's figures, the "
                  "probe's choice of C, Lightning's start) weigh more on fewer images: the *subprocess* rows and "
                  "the growth table below give the ratio at each size measured.", ""]
    lines += notes_after
    spread = round_spread({"vision": v, "nlp": n})
    if spread:
        lines += [spread, ""]
    before = runs.get("vision_before")
    if before and v and "fit_freeze" in v["result"]:
        old, new = before["result"], v["result"]
        pairs = [(k, ratio(old[k]["seconds"], old["floor"]["seconds"]), ratio(new[k]["seconds"], new["floor"]["seconds"]))
                 for k in ("fit_freeze", "fit_linear_probe")]
        lines += [f"Before the change that counts the per-epoch and per-C figures with NumPy (core/metrics.py "
                  f"`epoch_metrics`; {before.get('note', 'an earlier run of this script')}): "
                  + "; ".join(f"`{k}` / floor {o:.2f}x then, {w:.2f}x now" for k, o, w in pairs) + ".", ""]
    mem = ["Peak memory. Inside a worker: the most resident memory above the level before each measurement "
           "(median over repeats); per process: `ru_maxrss` (imports included).", "",
           "| what | peak above start (MiB) |", "|---|---|"]
    for dom, res in (("vision", v), ("nlp", n)):
        if not res:
            continue
        for kind, values in res["result"].items():
            if isinstance(values, dict) and "peak_delta_mib" in values:
                mem.append(f"| {dom}: {kind} | {med(values['peak_delta_mib']):.0f} |")
        mem.append(f"| {dom}: the whole worker process (`ru_maxrss`) | {res['usage']['peak_rss_mib']:.0f} (total) |")
    lines += mem + [""]
    untrimmed = [dom for dom, res in (("vision", v), ("nlp", n)) if res and not res["result"].get("malloc_trim")]
    if untrimmed:
        lines += [f"The {', '.join(untrimmed)} peaks were measured without handing freed heap back first "
                  "(`malloc_trim`): whichever kind ran first in a round paid heap growth the others reused, "
                  "so those in-process peaks are indicative only; `ru_maxrss` of subprocesses is not affected.", ""]
    if g:
        lines += ["Growth with the training data (vision, frozen head 20 epochs, *subprocesses*: wall seconds and "
                  "`ru_maxrss`, medians):", "",
                  "| training images | `transferkit train` | floor | ratio |", "|---|---|---|---|"]
        for scale, row in sorted(g.items(), key=lambda kv: int(kv[0])):
            c, f = row["cli"], row["floor"]
            lines.append(f"| {row['n_train']} ({scale}x) | {med(c['seconds']):.1f} s, {max(c['peak_rss_mib']):.0f} MiB "
                         f"| {med(f['seconds']):.1f} s, {max(f['peak_rss_mib']):.0f} MiB | "
                         f"{ratio(c['seconds'], f['seconds']):.2f}x |")
        lines.append("")
    if s:
        lines.append("Start-up peak memory: " + ", ".join(
            f"`{k}` {max(s[k]['peak_rss_mib']):.0f} MiB" for k in ("domains", "help")) + ".")
        lines.append("")
    lines.append(f"Command: {common.commands_text(meta)}.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_output_options(parser, "speed")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians (default: %(default)s)")
    parser.add_argument("--images-per-class", type=int, default=30,
                        help="vision training images a class at 1x (default %(default)s: 4x is 240 images, every "
                             "hymenoptera training image)")
    parser.add_argument("--val-per-class", type=int, default=20)
    parser.add_argument("--frozen-scale", type=int, default=4,
                        help="section 1: the scale of --growth whose images the in-process frozen comparisons train "
                             "on (default %(default)s: every training image, the size of the issue's case)")
    parser.add_argument("--predict-scale", type=int, default=1,
                        help="section 3: the scale whose training images (with val) predict is timed on")
    parser.add_argument("--texts-per-class", type=int, default=16, help="AG News training texts a class")
    parser.add_argument("--full-images-per-class", type=int, default=128,
                        help="section 2: vision training images a class for the one-epoch full fine-tuning "
                             "(default %(default)s: all 244 hymenoptera training images)")
    parser.add_argument("--full-texts-per-class", type=int, default=256,
                        help="section 2: AG News training texts a class (default %(default)s: 64 steps at batch 16)")
    parser.add_argument("--full-val-per-class", type=int, default=16, help="section 2: validation items a class")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default: %(default)s)")
    parser.add_argument("--loop-epochs", type=int, default=HEAD_EPOCHS,
                        help="epochs the per-epoch backbone loop really runs (scaled to 20 when fewer)")
    parser.add_argument("--growth", default="1,2,4", help="training-data scales for the subprocess runs")
    parser.add_argument("--only", default="startup,vision,nlp,growth", help="parts to run")
    parser.add_argument("--sections", default=",".join(map(str, SECTIONS)),
                        help="numbered comparisons to run (see above), e.g. 1,3 (default: %(default)s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-options", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.worker_options))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({**result, "ru_maxrss_mib": usage.ru_maxrss / 1024}))
        return 0
    if args.render_only:
        return common.publish(args, SECTION, render(json.loads(args.results.read_text(encoding="utf-8"))))
    os.environ.setdefault("TRANSFERKIT_DATA_DIR", str(common.data_dir()))
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    log = work / "speed.log"
    sections = sorted({int(x) for x in args.sections.split(",") if x.strip()})
    # Which parts each section needs: the workers time only the comparisons of the sections asked for.
    needs = {"startup": {4}, "vision": {1, 2, 3, 5}, "nlp": {2, 3, 5}, "growth": {1, 5}}
    parts = {part for part in args.only.split(",") if needs.get(part, set()) & set(sections)}
    scales = [int(s) for s in args.growth.split(",")]
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    meta = {"machine": common.machine(), "repeats": args.repeats, "warmup": args.warmup, "load_before": load_before,
            "sections": sections,
            "commands": [common.command_line("speed.py", argv if argv is not None else sys.argv[1:])]}
    previous = json.loads(args.results.read_text(encoding="utf-8"))["meta"] if args.reuse and args.results.is_file() \
        else {}
    results = common.start_results(args.results, args.reuse, meta)
    if previous:  # the page shows the sections of every run it reuses, and the load before the first
        results["meta"]["sections"] = sorted(set(previous.get("sections", [])) | set(sections))
        results["meta"]["load_before"] = previous.get("load_before", load_before)
    vis = vision_slices(work, args.images_per_class, args.val_per_class,
                        sorted(set(scales) | {1, args.frozen_scale, args.predict_scale}))
    base = {"val": str(vis["val"]), "batch_size": args.batch_size, "repeats": args.repeats,
            "loop_epochs": args.loop_epochs, "warmup": args.warmup, "sections": sections}
    if "startup" in parts:
        results["runs"]["startup"] = startup(args.repeats, log)
        common.save_results(args.results, results)
    if "vision" in parts:
        extra = {}
        if 2 in sections:  # one realistic epoch, not section 1's handful of images (see worker_vision)
            big = vision_slices(work, args.full_images_per_class, args.full_val_per_class, [1], name="vision-full")
            extra = {"full_train": str(big["train-1x"]), "full_val": str(big["val"])}
        result, usage = run_worker("vision", {**base, "train": str(vis[f"train-{args.frozen_scale}x"]),
                                              "predict_train": str(vis[f"train-{args.predict_scale}x"]), **extra},
                                   log)
        kept = results["runs"].get("vision", {}).get("result", {}) if args.reuse else {}  # other sections' figures
        results["runs"]["vision"] = {"result": {**kept, **result, "frozen_scale": args.frozen_scale},
                                     "usage": usage, "warmup": args.warmup}
        common.save_results(args.results, results)
    if "nlp" in parts:
        texts = text_slices(work, args.texts_per_class, args.val_per_class)
        extra = {}
        if 2 in sections:
            big = text_slices(work, args.full_texts_per_class, args.full_val_per_class, prefix="agnews-full")
            extra = {"full_train": str(big["train"]), "full_val": str(big["val"])}
        result, usage = run_worker("nlp", {**base, "train": str(texts["train"]), "val": str(texts["val"]), **extra},
                                   log)
        kept = results["runs"].get("nlp", {}).get("result", {}) if args.reuse else {}
        results["runs"]["nlp"] = {"result": {**kept, **result}, "usage": usage, "warmup": args.warmup}
        common.save_results(args.results, results)
    if "growth" in parts:
        growth: dict[str, Any] = {}
        for scale in [scale for _ in range(args.repeats) for scale in scales]:  # floor and CLI alternate, per scale
            train_dir = vis[f"train-{scale}x"]
            row = growth.setdefault(str(scale), {"n_train": _count_images(train_dir),
                                                 "cli": {"seconds": [], "peak_rss_mib": []},
                                                 "floor": {"seconds": [], "peak_rss_mib": []}})
            _, usage = run_worker("floor", {**base, "train": str(train_dir)}, log)
            row["floor"]["seconds"].append(usage["seconds"])
            row["floor"]["peak_rss_mib"].append(usage["peak_rss_mib"])
            out = work / f"cli-run-{scale}x"
            shutil.rmtree(out, ignore_errors=True)
            usage = common.run_command([*common.cli(), "-q", "train", "--domain", "vision", "--data", str(train_dir),
                                        "--val", str(vis["val"]), "--strategy", "freeze", "--epochs",
                                        str(HEAD_EPOCHS), "--set", "patience=0", "--batch-size",
                                        str(args.batch_size), "--time-budget", "none", "--seed", "0", "--out",
                                        str(out)], log)
            if usage["returncode"] != 0:
                raise RuntimeError(f"transferkit train exited with {usage['returncode']}; see {log}")
            row["cli"]["seconds"].append(usage["seconds"])
            row["cli"]["peak_rss_mib"].append(usage["peak_rss_mib"])
            results["runs"]["growth"] = growth
            common.save_results(args.results, results)
    results["meta"]["load_after"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    common.save_results(args.results, results)
    return common.publish(args, SECTION, render(results))


if __name__ == "__main__":
    raise SystemExit(main())
