"""Presets as TOML files: reading, `extends` resolution, validation with errors that name file and key."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from transferkit.core.specs import Preset
from transferkit.errors import UsageError, validation_error

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _describe_validation_error(err: ValidationError, file: str) -> UsageError:
    # One line naming the file, the key, the value given and what the key accepts (or the valid keys).
    return validation_error(err, model=Preset, file=file)


def preset_from_dict(data: dict[str, Any], *, source: str) -> Preset:
    """Validate a preset mapping; errors name ``source`` and the key.

    Example:
        >>> preset_from_dict({"id": "vision/x", "domain": "vision", "description": "d"}, source="x.toml").id
        'vision/x'
    """
    try:
        return Preset.model_validate({**data, "source": source})
    except ValidationError as err:
        raise _describe_validation_error(err, source) from None


def read_preset_file(path: Path) -> Preset:
    """Read one preset TOML file (without resolving ``extends``)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("preset file not found", file=path, fix="check the path, or use a preset id") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"not valid TOML: {err}", file=path, fix="check the syntax of the file (UTF-8 TOML)") from None
    except RecursionError:  # arrays or tables nested deeper than Python's stack
        raise UsageError("not valid TOML: nested too deeply", file=path, fix="check the syntax of the file") from None
    except OSError as err:  # a folder named *.toml, no permission...
        raise UsageError(f"cannot read the preset file: {err.strerror or err}", file=path,
                         fix="pass a readable .toml file, or a preset id") from None
    return preset_from_dict(data, source=str(path))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_preset(preset: Preset, lookup: Any) -> Preset:
    """Apply ``extends`` chains: the child's keys override the parent's, tables merge key by key.

    ``lookup`` maps a preset id to a :class:`Preset` (the registry's ``preset`` method).
    """
    chain = [preset]
    seen = {preset.id}
    while chain[-1].extends:
        parent = lookup(chain[-1].extends)
        if parent.id in seen:
            raise UsageError(f"preset 'extends' forms a cycle through '{parent.id}'", file=preset.source)
        seen.add(parent.id)
        chain.append(parent)
    merged: dict[str, Any] = {}
    for item in reversed(chain):
        merged = _merge(merged, item.model_dump(exclude_unset=True, exclude={"source", "plugin"}))
    merged["extends"] = preset.extends
    resolved = preset_from_dict(merged, source=preset.source)
    return resolved.model_copy(update={"plugin": preset.plugin})


def load_preset(ref: str | Path | Preset | None, *, domain: str, registry: Any) -> Preset:
    """Resolve a preset given as an id, a TOML path, a Preset, or ``None`` (the domain's default).

    A preset for another domain is refused with a message naming both.
    """
    if isinstance(ref, Preset):
        preset = ref
    elif ref is None:
        spec = registry.domain(domain)
        if spec.default_preset:
            preset = registry.preset(spec.default_preset)
        else:
            preset = Preset(id=f"{domain}/default", domain=domain, description=f"{domain} defaults")
    elif str(ref).endswith(".toml") or Path(str(ref)).is_file():
        preset = read_preset_file(Path(ref))
    else:
        preset = registry.preset(str(ref))
    if preset.domain != domain:
        raise UsageError(
            f"preset '{preset.id}' is for domain '{preset.domain}', not '{domain}'",
            file=preset.source or None,
            fix=f"choose a preset from `transferkit presets --domain {domain}`",
        )
    return resolve_preset(preset, registry.preset)
