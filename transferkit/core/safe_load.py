"""Safe loading: paths named by a model folder stay inside it; weight files are read without running code.

A model folder may come from anyone (a colleague, a download, a shared drive). Loading it must never
read files elsewhere on the machine, nor run code: pickles are read only with ``weights_only=True``
(torch >= 2.10, the first release with no known bypass) and safetensors are checked before use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit.errors import ArtifactError


def inside(folder: str | Path, relative: str | Path, *, field: str | None = None) -> Path:
    """``folder / relative``, resolved (links followed); refused unless it stays inside ``folder``.

    Use it for every path read from a model folder's own files (``transferkit.json``, a bundle config).

    Example:
        >>> inside("/models/m", "tokenizer").as_posix().endswith("/models/m/tokenizer")
        True
        >>> inside("/models/m", "../elsewhere")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        transferkit.errors.ArtifactError: ...
    """
    base = Path(folder).resolve()
    if not isinstance(relative, (str, Path)) or not str(relative):
        raise ArtifactError(f"expected a relative path, got {relative!r}", file=Path(folder), field=field,
                            fix="re-train the model or restore its transferkit.json")
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise ArtifactError(
            f"the path {str(relative)!r} points outside the model folder",
            file=Path(folder),
            field=field,
            fix="a model folder may only name files inside itself; re-train it or restore its transferkit.json",
        )
    return target


def check_safetensors(path: str | Path) -> None:
    """Refuse a file that is not a complete safetensors file (truncated, empty, or a pickle in its place).

    ``safe_open`` reads only the JSON header and checks that the tensors cover the file exactly.
    """
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), "pt"):
            pass
    except Exception as err:  # noqa: BLE001 - SafetensorError, OSError: the file cannot be used either way
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ArtifactError(
            f"not a complete safetensors file ({reason})",
            file=path,
            fix="the file is truncated or was replaced: restore it from a backup or re-train",
        ) from None


def load_weights_only(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers, never pickled code.

    A file that needs code to unpickle (a ``__reduce__`` payload, a whole pickled model) is refused with
    a one-line :class:`ArtifactError`; nothing in it runs.

    Example:
        >>> state = load_weights_only("run/checkpoints/last.ckpt")  # doctest: +SKIP
    """
    import torch

    path = Path(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError, RuntimeError (truncated zip), EOFError...
        # torch's message is a paragraph; the line naming the refused global says what the file wanted to run.
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), lines[0] if lines else "")
        raise ArtifactError(
            f"cannot read as plain weights ({type(err).__name__}: {reason[:200]})",
            file=path,
            fix="the file holds pickled code or is damaged; it was not run. Delete it or restore it from a backup",
        ) from None

