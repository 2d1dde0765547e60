"""Progress a person can follow: Rich bars on a terminal, plain lines in a log file or a pipe, or nothing.

Plain lines go to stderr (stdout stays for results and ``--json``), one short line each, never wrapped:
what step, how far, and the time left. Within an epoch a line is written at most every ``interval``
seconds; every epoch ends with one line of its validation figures.

Example:
    >>> reporter = Reporter("plain")
    >>> reporter.step("reading data")  # doctest: +SKIP
    [transferkit 12:00:01] reading data
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

MODES = ("rich", "plain", "none")


def mode_for(stream: TextIO, quiet: bool = False) -> str:
    """``none`` when quiet, ``rich`` on a terminal, ``plain`` for a file or a pipe.

    Example:
        >>> import io; mode_for(io.StringIO())
        'plain'
    """
    if quiet:
        return "none"
    isatty = getattr(stream, "isatty", None)
    return "rich" if isatty is not None and isatty() else "plain"


def duration(seconds: float) -> str:
    """Seconds in words a log reader takes in at a glance.

    Example:
        >>> duration(42), duration(150), duration(4000)
        ('42 s', '2 min 30 s', '1 h 06 min')
    """
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min"


def time_left(estimate: float, budget_left: float | None = None) -> str:
    """The time-left part of a progress line: ``estimate`` seconds of training left at this pace, capped
    by the ``budget_left`` seconds before the time budget stops training (None: no budget). Once the
    budget is spent no time is left to claim: the line says training stops.

    Example:
        >>> time_left(150), time_left(150, 600), time_left(150, 40)
        ('about 2 min 30 s left', 'about 2 min 30 s left', 'about 40 s left: the time budget stops training then')
        >>> time_left(150, -3)
        'time budget spent: training stops now'
    """
    if budget_left is not None and budget_left <= 0:
        return "time budget spent: training stops now"
    if budget_left is None or estimate <= budget_left:
        return f"about {duration(estimate)} left"
    return f"about {duration(budget_left)} left: the time budget stops training then"


def budget_left() -> float | None:
    """Seconds before the time budget stops training (core/budget.py's deadline, on its clock); None
    without a budget. Read in the thread that trains: the deadline is a context variable.

    Example:
        >>> budget_left() is None  # outside a run with a time budget
        True
    """
    from transferkit.core import budget

    at = budget.current_deadline()
    return None if at is None else at - budget.clock()


class Reporter:
    """Writes the run's progress in one of :data:`MODES`; ``plain`` lines go to ``stream`` (stderr)."""

    def __init__(self, mode: str | bool = "none", stream: TextIO | None = None, interval: float = 15.0):
        if isinstance(mode, bool):  # the API's progress=True/False
            mode = "rich" if mode else "none"
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r} is not one of {MODES}")
        self.mode = mode
        self.stream = stream
        self.interval = interval

    def line(self, text: str) -> None:
        """One plain line (also on a terminal: the steps outside the training loop have no bar)."""
        if self.mode == "none":
            return
        stream = self.stream or sys.stderr
        stream.write(f"[transferkit {time.strftime('%H:%M:%S')}] {text}\n")
        stream.flush()

    step = line

    @contextmanager
    def working(self, what: str, *, total: int | None = None, announce: bool = True) -> Iterator["Task"]:
        """A long step outside the training loop: ``what`` as a line, then one line every ``interval`` seconds.

        Feature extraction, scoring and a single scikit-learn fit can each take minutes with nothing to show:
        meanwhile a daemon thread writes how far the step is (``total`` items, counted by :func:`advance`,
        which batched inference calls) or how long it has run, so that a log or a pipe is never silent for
        longer than ``interval``. A terminal gets the same few lines, not a line per batch. ``announce=False``
        writes nothing for a step that ends within ``interval`` (a domain hook that may have nothing to do).

        Example:
            >>> with Reporter("plain").working("scoring the test data (278 examples)", total=278):  # doctest: +SKIP
            ...     probs = predict_proba(model, items)
            [transferkit 12:00:01] scoring the test data (278 examples)
            [transferkit 12:00:16] scoring the test data (278 examples): 64 of 278 done in 15 s, about 50 s left
        """
        task = Task(what, total)
        if self.mode == "none":
            yield task
            return
        if announce:
            self.line(what)
        stop = threading.Event()

        def beat() -> None:
            # (A floor: interval=0, which tests use for a line per batch, must not spin a line per microsecond.)
            while not stop.wait(max(self.interval, 0.01)):
                self.line(task.status())

        _ACTIVE.append(task)
        thread = threading.Thread(target=beat, name="transferkit-progress", daemon=True)
        thread.start()
        try:
            yield task
        finally:
            stop.set()
            thread.join()
            _ACTIVE.remove(task)

    def callbacks(self) -> list[Any]:
        """The Lightning callbacks that show the training loop in this mode."""
        if self.mode == "rich":
            from lightning.pytorch.callbacks import RichProgressBar

            return [RichProgressBar(leave=True)]
        if self.mode == "plain":
            return [plain_progress(self)]
        return []


class Task:
    """A step :meth:`Reporter.working` follows: what it is, how many items it has and has done, since when."""

    def __init__(self, what: str, total: int | None = None):
        self.what, self.total, self.done = what, total, 0
        self.started = time.monotonic()

    def status(self) -> str:
        """How far the step is, in one line.

        Example:
            >>> task = Task("scoring", total=100); task.done = 25; task.status()  # doctest: +ELLIPSIS
            'scoring: 25 of 100 done in 0 s, about 0 s left'
        """
        elapsed = time.monotonic() - self.started
        if self.total and self.done:
            left = elapsed * (self.total - self.done) / self.done
            return (f"{self.what}: {self.done:,} of {self.total:,} done in {duration(elapsed)}, "
                    f"about {duration(left)} left")
        return f"{self.what}: still running, {duration(elapsed)} so far"


# The steps :meth:`Reporter.working` follows, innermost last: what :func:`advance` counts into.
_ACTIVE: list[Task] = []


def advance(count: int) -> None:
    """Count ``count`` more items done by the innermost step a reporter follows (nothing outside one).

    Called by batched inference (core/evaluate.py ``batches``) after each batch, so that feature extraction
    and scoring report how far they are without knowing about reporters.

    Example:
        >>> advance(64)  # outside a step: nothing happens
    """
    if _ACTIVE:
        _ACTIVE[-1].done += count


def _format_metrics(metrics: dict[str, Any]) -> str:
    shown = []
    for name in ("train_loss", "val_loss", "val_accuracy", "val_f1_macro", "val_auroc"):
        value = metrics.get(name)
        if value is not None:
            value = float(value)
            if value == value:  # not NaN
                shown.append(f"{name} {value:.4f}")
    return ", ".join(shown)


def plain_progress(reporter: Reporter) -> Any:
    """A Lightning callback writing plain progress lines through ``reporter``."""
    import lightning.pytorch as pl

    class PlainProgress(pl.Callback):
        def __init__(self) -> None:
            self.started = self.epoch_started = self.last_line = 0.0
            self.first_epoch = 0
            self.epoch_seconds: list[float] = []

        def _left(self, trainer: Any, fraction_of_epoch: float) -> str:
            now = time.monotonic()
            elapsed_epoch = now - self.epoch_started
            per_epoch = (sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds
                         else elapsed_epoch / fraction_of_epoch if fraction_of_epoch > 0 else 0.0)
            remaining_epochs = max(0, trainer.max_epochs - trainer.current_epoch - 1)
            this_epoch = per_epoch * (1 - fraction_of_epoch) if self.epoch_seconds or fraction_of_epoch > 0 else 0
            left = budget_left()
            if left is not None and left <= 0:
                return time_left(0.0, left)  # whatever the pace: training stops at the budget
            if per_epoch <= 0:
                return "time left unknown yet"
            return time_left(this_epoch + remaining_epochs * per_epoch, left)

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.started = self.last_line = time.monotonic()
            self.first_epoch = trainer.current_epoch
            resumed = f", resuming at epoch {trainer.current_epoch + 1}" if trainer.current_epoch else ""
            reporter.line(f"training: {trainer.max_epochs} epochs of {trainer.num_training_batches} batches{resumed}")

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.epoch_started = time.monotonic()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            now = time.monotonic()
            if now - self.last_line < reporter.interval:
                return
            self.last_line = now
            total = trainer.num_training_batches
            done = batch_idx + 1
            fraction = done / total if total else 0.0
            reporter.line(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: batch {done}/{total} "
                          f"({fraction:.0%}), {self._left(trainer, fraction)}")

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            now = time.monotonic()
            self.epoch_seconds.append(now - self.epoch_started)
            self.last_line = now
            figures = _format_metrics(trainer.callback_metrics)
            reporter.line(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done in "
                          f"{duration(self.epoch_seconds[-1])}: {figures or 'no metrics'}; "
                          f"{self._left(trainer, 1.0) if trainer.current_epoch + 1 < trainer.max_epochs else 'training done'}")

    return PlainProgress()
