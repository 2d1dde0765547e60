"""SIGINT (Ctrl-C) and SIGTERM (``kill``, ``timeout``, batch schedulers, container stops) during a run.

A run must never report success when it was stopped, and must stop where its state is consistent:

* while data are read, features extracted or the model evaluated, a signal raises :class:`Interrupted`
  at once (nothing half-written survives: every file transferkit writes goes through a rename);
* while Lightning trains, the signal is recorded and the run stops at the end of the current batch
  (:func:`stop_callback`); the checkpoint of the last complete epoch stays as written, so ``--resume``
  repeats exactly what the uninterrupted run would have done (see core/seeding.py);
* while the artifact's files are moved into place (:func:`deferred`), the signal waits until the move
  is done.

A second signal while the first one waits stops the run at once: the user insists.
The CLI turns :class:`Interrupted` into one line with the resume command and exit code 128 + signal
(130 for SIGINT, 143 for SIGTERM), as shells expect.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A run stopped by SIGINT or SIGTERM.

    A ``BaseException``, like ``KeyboardInterrupt``: the ``except Exception`` of a reader or a library must
    not turn it into a data error. ``exit_code`` is 128 + the signal number.

    Example:
        >>> Interrupted(signal.SIGTERM).exit_code
        143
    """

    def __init__(self, signum: int, *, out: Any = None, epochs_done: int | None = None, epochs: int | None = None):
        self.signum = int(signum)
        self.out = out
        self.epochs_done = epochs_done
        self.epochs = epochs
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def saved(self) -> str:
        """What the stopped run left, in words: ``2 of 5 epochs saved in models/x/run``."""
        if self.out is None:
            return "nothing was saved (no output folder)"
        where = f"{self.out}/run"
        if self.epochs_done is None:
            return f"the run is kept in {where}"
        if self.epochs_done == 0:
            return f"no epoch was complete; the data read so far is kept in {where}"
        return f"{self.epochs_done} of {self.epochs} epochs are saved in {where}"


class _Guard:
    """The handlers of one run; ``mode`` says what a signal does now: raise, wait for a check, or defer."""

    def __init__(self) -> None:
        self.mode = "raise"
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        insist = self.pending is not None and self.mode == "flag"
        if self.pending is None:
            self.pending = signum
        if self.mode == "raise" or insist:
            raise Interrupted(self.pending)

    def check(self) -> None:
        """Raise :class:`Interrupted` if a signal arrived while it waited."""
        if self.pending is not None:
            raise Interrupted(self.pending)

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False  # Python only delivers signals to the main thread; a caller's thread keeps its own
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)
        return True

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()


_ACTIVE: list[_Guard] = []


@contextmanager
def signal_guard() -> Iterator[_Guard]:
    """Install the run's SIGINT/SIGTERM handlers for the block (re-entrant: an inner call reuses them).

    Example:
        >>> with signal_guard() as guard:  # doctest: +SKIP
        ...     train(...)
    """
    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    guard = _Guard()
    installed = guard.install()
    _ACTIVE.append(guard)
    try:
        yield guard
    finally:
        _ACTIVE.pop()
        if installed:
            guard.uninstall()


@contextmanager
def _mode(mode: str) -> Iterator[None]:
    guard = _ACTIVE[-1] if _ACTIVE else None
    if guard is None:
        yield
        return
    before = guard.mode
    guard.mode = mode
    try:
        yield
    finally:
        guard.mode = before
    guard.check()


def cooperative() -> Any:
    """A block (Lightning's loop) in which a signal is only recorded; :func:`stop_callback` acts on it."""
    return _mode("flag")


def deferred() -> Any:
    """A block that must not be cut (files moved into place): a signal is acted on when it ends."""
    return _mode("defer")


def check() -> None:
    """Raise :class:`Interrupted` now if a signal is waiting."""
    if _ACTIVE:
        _ACTIVE[-1].check()


def stop_callback() -> Any:
    """A Lightning callback that raises :class:`Interrupted` after the batch during which a signal came."""
    import lightning.pytorch as pl

    class StopOnSignal(pl.Callback):
        def on_train_batch_end(self, *args: Any) -> None:
            check()

        def on_validation_batch_end(self, *args: Any) -> None:
            check()

    return StopOnSignal()
