"""The one augmentation vocabulary: every ``[augment]`` key a domain may accept, with its type, range and meaning.

A name means one thing in every domain (``contrast`` is a contrast factor around the image mean for
vision and medical alike; a gamma curve is ``gamma``). A domain picks the names it implements with
:func:`augment_model`, which builds its pydantic model from this table, and validates a preset's table
with :func:`check_table`, which reports a bad value the way the preset loader does (file, key, what is
allowed). The help text of ``Domain.augment_keys`` comes from here too (:func:`table_keys`), so the
listing, docs/presets.md and the errors say the same thing.

No deep-learning import here: presets are validated by listing commands.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from transferkit.errors import UsageError, validation_error

M = TypeVar("M", bound=BaseModel)


def _bool_as(true: Any, false: Any) -> Any:
    """``true``/``false`` in a preset stand for a value (``hflip = true`` is probability 0.5)."""
    def convert(value: Any) -> Any:
        if value is True:
            return true
        if value is False:
            return false
        return value
    return convert


def _ordered(value: list[float] | None) -> list[float] | None:
    if value is not None and value[0] > value[1]:
        raise ValueError("the first value must not exceed the second")
    return value


def _axes(value: list[int]) -> list[int]:
    return sorted(set(value))


Probability = Annotated[float, BeforeValidator(_bool_as(0.5, 0.0)), Field(ge=0, le=1)]
Flag = bool  # strict: "yes" is not true


def amount(hi: float) -> Any:
    """A non-negative number up to ``hi``; ``false`` (or 0) turns the transform off."""
    return Annotated[float, BeforeValidator(_bool_as(True, 0.0)), Field(ge=0, le=hi)]


def span(lo: float, hi: float, default_if_true: list[float] | None) -> Any:
    """``[min, max]`` with ``lo <= min <= max <= hi``; ``false`` turns it off, ``true`` is ``default_if_true``."""
    pair = Annotated[list[Annotated[float, Field(ge=lo, le=hi)]], Field(min_length=2, max_length=2)]
    return Annotated[pair | None, BeforeValidator(_bool_as(default_if_true, None)), AfterValidator(_ordered)]


Axes = Annotated[list[Annotated[int, Field(ge=0, le=2)]], BeforeValidator(_bool_as([], [])), AfterValidator(_axes)]


@dataclass(frozen=True)
class Term:
    """One augmentation: its key, value type, default (off), meaning and what it accepts, in words."""

    name: str
    type: Any
    default: Any
    meaning: str
    allowed: str = ""

    def field(self) -> Any:
        """The pydantic field of this key, its meaning and accepted values attached."""
        return Field(self.default, description=self.meaning, json_schema_extra={"allowed": self.allowed})


def _probability(name: str, default: float, meaning: str) -> Term:
    return Term(name, Probability, default, meaning, "a probability in [0, 1], or true (0.5) / false (0)")


def _amount(name: str, hi: float, meaning: str) -> Term:
    return Term(name, amount(hi), 0.0, meaning, f"a number in [0, {hi:g}]; 0 or false turns it off")


def _flag(name: str, meaning: str) -> Term:
    return Term(name, Flag, False, meaning, "true or false")


def _span(name: str, lo: float, hi: float, if_true: list[float] | None, meaning: str) -> Term:
    return Term(name, span(lo, hi, if_true), None, meaning,
                f"[min, max] with {lo:g} <= min <= max <= {hi:g}" + (", or true / false" if if_true else ""))


TERMS: dict[str, Term] = {t.name: t for t in (
    # geometry
    _span("random_resized_crop", 0.01, 1.0, [0.08, 1.0], "[min_scale, max_scale] of the image area a random crop "
          "keeps, e.g. [0.08, 1.0] (true); false: resize and center-crop as at eval"),
    _span("ratio", 0.1, 10.0, None, "[min, max] aspect ratio of the random crop (default [0.75, 1.333])"),
    _probability("hflip", 0.0, "probability of a horizontal (left-right) flip (true = 0.5)"),
    _probability("vflip", 0.0, "probability of a vertical (up-down) flip (true = 0.5); off by default, for "
                 "top-down imagery"),
    Term("flip_axes", Axes, [], "spatial axes that may be flipped, each with probability flip_prob: [0] up-down, "
         "[1] left-right (2D); [] or absent for none. Leave out the left-right axis where anatomy has a side",
         "a list of spatial axes 0, 1 or 2, e.g. [0, 1]; [] for none"),
    _probability("flip_prob", 0.5, "probability of each flip of flip_axes (default 0.5)"),
    # rot90/rotate90 and rotation/rotate_degrees: one operation each, spelled as vision and medical presets
    # already spell it (renaming would break users' preset files); never one name with two meanings.
    _flag("rot90", "rotate by a random multiple of 90 degrees (true/false): parts and tiles with no canonical "
          "orientation"),
    _flag("rotate90", "rotate by a random multiple of 90 degrees in the image plane (true/false): tiles with no "
          "orientation"),
    _amount("rotation", 180, "maximum angle of a random rotation, in degrees"),
    _amount("rotate_degrees", 180, "maximum angle of a small random rotation, in degrees (in-plane; all planes "
            "for 3D)"),
    _amount("zoom", 0.9, "random zoom of up to this fraction in or out, e.g. 0.1 for 0.9..1.1"),
    # intensity and colour
    _amount("brightness", 1, "colour jitter: brightness factor drawn from [1 - v, 1 + v]"),
    _amount("contrast", 1, "contrast factor drawn from [1 - v, 1 + v]: values move away from (> 1) or toward "
            "(< 1) the image mean"),
    _amount("saturation", 1, "colour jitter: saturation factor drawn from [1 - v, 1 + v]"),
    _amount("gamma", 0.9, "random gamma in [1 - v, 1 + v] on 0..1 intensities (contrast change of ultrasound, "
            "X-ray exposure)"),
    _amount("intensity_shift", 1, "random intensity offset of up to this fraction of the 0..1 range"),
    _amount("intensity_scale", 1, "random intensity gain of up to this fraction, e.g. 0.1 for 0.9..1.1"),
    _amount("colour_jitter", 1, "per-channel gain of up to this fraction (stain and camera colour variation); "
            "2D colour"),
    _amount("noise_std", 1, "standard deviation of added Gaussian noise, on the 0..1 scale"),
    _probability("prob", 0.5, "probability of each random intensity / geometric transform other than flips "
                 "(default 0.5)"),
    # text
    Term("token_dropout", Annotated[float, BeforeValidator(_bool_as(True, 0.0)), Field(ge=0, lt=0.5)], 0.0,
         "probability of dropping each token of a training text (0 turns it off)", "a number in [0, 0.5), e.g. 0.1"),
)}


class Table(BaseModel):
    """A preset table: unknown keys refused, values checked without coercion (``"yes"`` is not ``true``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def augment_model(name: str, keys: Iterable[str]) -> type[Table]:
    """The pydantic model of a domain's ``[augment]`` table: the vocabulary's ``keys``, nothing else.

    Example:
        >>> Aug = augment_model("Aug", ["hflip", "rot90"])
        >>> Aug(hflip=True).hflip, Aug().rot90
        (0.5, False)
    """
    fields = {key: (TERMS[key].type, TERMS[key].field()) for key in keys}
    return create_model(name, __base__=Table, **fields)  # type: ignore[call-overload, no-any-return]


def table_keys(model: type[BaseModel]) -> dict[str, str]:
    """``{key: meaning}`` of an ``[augment]`` or ``[preprocess]`` table model: what ``Domain.augment_keys`` and
    ``Domain.preprocess_keys`` list.

    Example:
        >>> table_keys(augment_model("Aug", ["hflip"]))
        {'hflip': 'probability of a horizontal (left-right) flip (true = 0.5)'}
    """
    return {key: field.description or "" for key, field in model.model_fields.items()}


def check_table(model: type[M], table: Mapping[str, Any], *, section: str, source: str = "preset") -> M:
    """Validate a preset's ``[section]`` table with ``model``; a bad key or value is a one-line UsageError
    naming the file, ``section.key`` and what is allowed (the preset loader's style, see
    :func:`transferkit.errors.validation_error`).

    Example:
        >>> check_table(augment_model("Aug", ["rot90"]), {"rot90": "yes"}, section="augment", source="my.toml")
        Traceback (most recent call last):
        transferkit.errors.UsageError: my.toml: field 'augment.rot90': augment.rot90='yes' is not valid: input should be a valid boolean (fix: augment.rot90 must be true or false)
    """
    wrapper = create_model(f"{model.__name__}Section", __base__=Table, **{section: (model, ...)})
    try:
        return getattr(wrapper.model_validate({section: dict(table)}), section)  # type: ignore[no-any-return]
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first.get("loc") or ())
        field = model.model_fields.get(str(loc[1])) if len(loc) > 1 else None
        if first.get("type") == "extra_forbidden" or field is None:
            raise validation_error(err, model=wrapper, file=source) from None
        key = f"{section}.{loc[1]}"  # the key, not a list index inside its value
        msg = str(first.get("msg", "invalid value"))
        allowed = (field.json_schema_extra or {}).get("allowed") if isinstance(field.json_schema_extra, dict) else None
        raise UsageError(f"{key}={table.get(str(loc[1]))!r} is not valid: {msg[:1].lower() + msg[1:]}",
                         file=source, field=key, fix=f"{key} must be {allowed or 'see docs/presets.md'}") from None


def option(default: Any, meaning: str, allowed: str, **constraints: Any) -> Any:
    """A ``[preprocess]`` field: its default, meaning and accepted values in words (``ge``/``le``... as pydantic's).

    Example:
        >>> class Pre(Table):
        ...     resolution: int = option(224, "side in pixels", "an integer in [16, 4096]", ge=16, le=4096)
        >>> table_keys(Pre)
        {'resolution': 'side in pixels'}
    """
    return Field(default, description=meaning, json_schema_extra={"allowed": allowed}, **constraints)


def refuse(source: str, key: str, message: str, fix: str) -> UsageError:
    """The error for a check across keys (``intensity = 'range'`` without ``intensity_range``), in the same style."""
    return UsageError(message, file=source, field=key, fix=fix)
