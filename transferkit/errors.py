"""Errors that users see. Each one names what was wrong, where, and how to fix it."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class TransferkitError(Exception):
    """Base class for every error transferkit raises on purpose.

    The CLI prints these as one clear message (no traceback) and exits with ``exit_code``.

    Example:
        >>> raise TransferkitError("no images found", file="data/", fix="put images in data/<class>/*.jpg")
    """

    exit_code = 1

    def __init__(self, message: str, *, file: object = None, field: str | None = None, fix: str | None = None):
        self.message = message
        self.file = None if file is None else str(file)
        self.field = field
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(f"field '{self.field}'")
        text = f"{': '.join(where)}: {self.message}" if where else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class UsageError(TransferkitError):
    """A name or value the user gave is not known (domain, preset, model, strategy...). Exit code 2."""

    exit_code = 2


class DataError(TransferkitError):
    """Input data that cannot be used: unreadable files, missing columns, a single class..."""


class PluginError(TransferkitError):
    """A plugin that is broken, conflicting, or whose dependencies are missing."""


class ArtifactError(TransferkitError):
    """A model folder that cannot be loaded (format version, missing files, unknown plugin)."""


class MissingDependencyError(PluginError):
    """An optional dependency is not installed; the message carries the exact pip command."""


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``choices`` that look like ``word``.

    Example:
        >>> close_matches("visoin", ["vision", "nlp"])
        ['vision']
    """
    choices = list(choices)
    found = difflib.get_close_matches(word, choices, n=n, cutoff=0.5)
    # A prefix or a substring is a good hint too ("chest" -> "medical/chest-xray").
    for choice in choices:
        if len(found) >= n:
            break
        if choice not in found and (word and (word in choice or choice.endswith(word))):
            found.append(choice)
    return found


def unknown_name(kind: str, name: str, choices: Iterable[str], fix: str | None = None) -> UsageError:
    """Build the error for an unknown name, listing the close matches.

    Example:
        >>> str(unknown_name("domain", "visoin", ["vision", "nlp"]))
        "unknown domain 'visoin'; did you mean: vision? (known: nlp, vision)"
    """
    choices = sorted(choices)
    matches = close_matches(name, choices)
    text = f"unknown {kind} '{name}'"
    if matches:
        text += f"; did you mean: {', '.join(matches)}?"
    text += f" (known: {', '.join(choices) if choices else 'none'})"
    return UsageError(text, fix=fix)
