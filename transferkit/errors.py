"""Errors that users see. Each one names what was wrong, where, and how to fix it."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


class TransferkitError(Exception):
    """Base class for every error transferkit raises on purpose.

    The CLI prints these as one clear message (no traceback) and exits with ``exit_code``. Every error
    raised on purpose is something the user can fix (a name, a value, a file), so the code is 2 (DESIGN.md
    section 10: 0 done, 1 internal error, 2 bad usage or bad data, 130/143 interrupted); exit code 1 is
    left to unexpected exceptions, which the CLI reports as internal errors.

    Example:
        >>> TransferkitError("no images found", file="data/", fix="put images in data/<class>/*.jpg").render()
        'data/: no images found (fix: put images in data/<class>/*.jpg)'
    """

    exit_code = 2

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
        # One line, always: messages quote third-party errors (PIL, nibabel, csv) that hold newlines.
        return re.sub(r"\s*\n\s*", " ", text.strip())


class UsageError(TransferkitError):
    """A name or value the user gave is not known (domain, preset, model, strategy...). Exit code 2."""


class DataError(TransferkitError):
    """Input data that cannot be used: unreadable files, missing columns, a single class... Exit code 2."""


class PluginError(TransferkitError):
    """A plugin that is broken, conflicting, or whose dependencies are missing. Exit code 2: the fix (install,
    upgrade or remove a package) is the user's to make."""


class ArtifactError(TransferkitError):
    """A model folder that cannot be loaded (format version, missing files, unknown plugin). Exit code 2."""


class MissingDependencyError(PluginError):
    """An optional dependency is not installed; the message carries the exact pip command."""


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``choices`` that look like ``word``.

    Example:
        >>> close_matches("visoin", ["vision", "nlp"])
        ['vision']
    """
    import difflib  # here, not at the top: only an unknown name needs it, and every command imports this module

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


def _field_of(model: Any, loc: tuple[Any, ...]) -> Any:
    """The pydantic FieldInfo at ``loc`` inside ``model`` (nested models followed), or None."""
    field = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not isinstance(fields, dict) or str(part) not in fields:
            return None
        field = fields[str(part)]
        model = field.annotation
    return field


def _allowed(field: Any, ctx: dict[str, Any]) -> str:
    """What a field accepts, in words: ``a number > 0``, ``one of 'a', 'b'``, ``an integer >= 1``..."""
    if "expected" in ctx:
        return f"one of {ctx['expected']}"
    bounds = {k: ctx[k] for k in ("gt", "ge", "lt", "le") if k in ctx}
    kind = ""
    if field is not None:
        for item in getattr(field, "metadata", []):
            for name in ("gt", "ge", "lt", "le"):
                if getattr(item, name, None) is not None:
                    bounds.setdefault(name, getattr(item, name))
        annotation = getattr(field.annotation, "__name__", str(field.annotation))
        kind = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a text"}.get(
            annotation, annotation.replace("typing.", ""))
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    range_text = " and ".join(f"{signs[k]} {v}" for k, v in bounds.items())
    return " ".join(part for part in (kind, range_text) if part)


def validation_error(err: Any, *, model: Any = None, file: object = None, flag: str | None = None,
                     fix: str | None = None) -> UsageError:
    """Turn a pydantic ``ValidationError`` into one line: the key, the value given, what is allowed.

    ``model`` (the pydantic class validated) lets an unknown key list the valid ones and a value of the
    wrong type show the field's range. ``flag`` names where the value came from (``--set``).

    Example:
        >>> from pydantic import BaseModel, ConfigDict, Field, ValidationError
        >>> class Cfg(BaseModel):
        ...     model_config = ConfigDict(extra="forbid")
        ...     lr: float = Field(1e-3, gt=0)
        >>> try:
        ...     Cfg(lr="abc")
        ... except ValidationError as e:
        ...     print(validation_error(e, model=Cfg, flag="--set"))
        field 'lr': --set lr='abc' is not valid: input should be a valid number, unable to parse string as a number (fix: lr must be a number > 0)
    """
    problems = err.errors()
    first = problems[0]
    loc = tuple(first.get("loc") or ())
    key = ".".join(str(part) for part in loc) or "value"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    if first.get("type") == "extra_forbidden":
        parent = _field_of(model, loc[:-1]).annotation if len(loc) > 1 and _field_of(model, loc[:-1]) else model
        names = sorted(getattr(parent, "model_fields", {}) or {})
        hint = close_matches(str(loc[-1]), names) if loc else []
        guess = f"; did you mean: {', '.join(hint)}?" if hint else ""
        return UsageError(f"unknown key '{key}'{guess}{more}", file=file, field=key,
                          fix=fix or (f"valid keys here: {', '.join(names)}" if names else None))
    msg = str(first.get("msg", "invalid value"))
    msg = msg[:1].lower() + msg[1:]
    given = first.get("input")
    where = f"{flag} {key}={given!r}" if flag else f"{key}={given!r}"
    allowed = _allowed(_field_of(model, loc), first.get("ctx") or {})
    return UsageError(f"{where} is not valid: {msg}{more}", file=file, field=key,
                      fix=fix or (f"{key} must be {allowed}" if allowed else "see docs/presets.md"))
