"""The registered records (DomainSpec, ModelSource, DatasetSpec): plain dataclasses checked like the pydantic
models they replaced, each refusal one line naming the record, the field, the value and what is allowed."""
from __future__ import annotations

import dataclasses

import pytest

from transferkit.core.specs import DatasetSpec, DomainSpec, ModelSource, RecordError

DOMAIN = {"name": "audio", "description": "sounds", "factory": "tk_audio.domain:AudioDomain",
          "default_model": "audio/wav2vec2.base"}
MODEL = {"id": "audio/wav2vec2.base", "domain": "audio", "description": "d", "kind": "hub",
         "location": "facebook/wav2vec2-base"}
DATASET = {"name": "esc-50", "domain": "audio", "description": "d", "url": "https://x/esc50.zip",
           "license": "CC BY-NC 3.0", "citation": "Piczak 2015", "mirror_path": "esc-50"}


@pytest.mark.parametrize("record, fields, expected", [
    (DomainSpec, {"name": "Audio"}, "DomainSpec: name='Audio' is not valid: it must be lower-case letters"),
    (DomainSpec, {"name": "audio\n"}, "DomainSpec: name='audio\\\\n' is not valid"),  # `$` would let it by
    (DomainSpec, {"factory": "tk_audio.domain.AudioDomain"}, "factory='tk_audio.domain.AudioDomain' is not "
                                                             "valid: it must be a 'package.module:Class' path"),
    (ModelSource, {"id": "wav2vec2"}, "ModelSource: id='wav2vec2' is not valid: it must be 'domain/name'"),
    (ModelSource, {"id": "audio/wav 2"}, "id='audio/wav 2' is not valid"),
])
def test_a_name_that_breaks_its_pattern_is_refused(record, fields, expected):
    base = DOMAIN if record is DomainSpec else MODEL
    with pytest.raises(ValueError, match=expected):
        record(**{**base, **fields})


def test_a_kind_outside_its_values_is_refused_with_the_values():
    with pytest.raises(ValueError, match="ModelSource: kind='weights' is not valid: it must be one of 'package', "
                                         "'hub', 'local', 'bundle', 'scratch'"):
        ModelSource(**{**MODEL, "kind": "weights"})


def test_an_unknown_field_is_refused_with_a_close_match_and_the_fields():
    with pytest.raises(TypeError, match=r"DomainSpec: unknown field 'defualt_preset'; did you mean: "
                                        r"default_preset[,?].*\(fields: name, description, factory,"):
        DomainSpec(**DOMAIN, defualt_preset="audio/general")


def test_a_missing_field_is_named():
    with pytest.raises(TypeError, match="DatasetSpec: field 'mirror_path' is required: a text"):
        DatasetSpec(**{k: v for k, v in DATASET.items() if k != "mirror_path"})


@pytest.mark.parametrize("record, fields, expected", [
    (DomainSpec, {"requires": "torch"}, "requires='torch' is not valid: it must be a list of texts"),
    (DomainSpec, {"requires": ["torch", 3]}, "it must be a list of texts"),
    (DomainSpec, {"default_preset": 3}, "default_preset=3 is not valid: it must be a text or None"),
    (ModelSource, {"feature_dim": "768"}, "feature_dim='768' is not valid: it must be a whole number or None"),
    (ModelSource, {"feature_dim": True}, "feature_dim=True is not valid"),
    (ModelSource, {"options": {1: "a"}}, "options={1: 'a'} is not valid: it must be a table of text keys"),
    (DatasetSpec, {"files": {"a.zip": None}}, "it must be a table of text keys to texts"),
])
def test_a_value_of_the_wrong_type_is_refused(record, fields, expected):
    base = {DomainSpec: DOMAIN, ModelSource: MODEL, DatasetSpec: DATASET}[record]
    with pytest.raises(RecordError, match=expected):
        record(**{**base, **fields})


def test_a_record_error_is_both_a_value_error_and_a_type_error():
    # pydantic's ValidationError was a ValueError: callers that caught that keep working.
    with pytest.raises(ValueError):
        DomainSpec(**DOMAIN, nmae="x")
    with pytest.raises(TypeError):
        DomainSpec(**{**DOMAIN, "name": "Audio"})


def test_records_are_frozen_and_own_their_lists():
    requires = ["torch"]
    spec = DomainSpec(**DOMAIN, requires=requires)
    requires.append("monai")  # the caller's list is not the record's
    assert spec.requires == ["torch"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    assert DomainSpec(**DOMAIN, requires=("torch",)).requires == ["torch"]  # a tuple, as pydantic took it


def test_model_dump_and_model_copy_behave_as_plugins_expect():
    source = ModelSource(**MODEL, options={"arch": "base"})
    dumped = source.model_dump()
    assert dumped["kind"] == "hub" and dumped["options"] == {"arch": "base"} and dumped["plugin"] == ""
    dumped["options"]["arch"] = "large"  # a copy: the record is unchanged
    assert source.options == {"arch": "base"}
    copy = source.model_copy(update={"id": "spam/wav2vec2.base", "plugin": "tk-audio"})
    assert (copy.id, copy.plugin, source.id) == ("spam/wav2vec2.base", "tk-audio", "audio/wav2vec2.base")
    with pytest.raises(ValueError, match="id='Spam' is not valid"):  # an update is checked too
        source.model_copy(update={"id": "Spam"})


def test_the_preset_schema_is_still_importable_from_specs():
    from transferkit.core import preset_schema
    from transferkit.core.specs import HeadConfig, Preset, ThresholdPolicy, TrainConfig

    assert (Preset, TrainConfig, HeadConfig, ThresholdPolicy) == (
        preset_schema.Preset, preset_schema.TrainConfig, preset_schema.HeadConfig, preset_schema.ThresholdPolicy)
    with pytest.raises(ImportError, match="cannot import name 'Presets'"):
        from transferkit.core.specs import Presets  # noqa: F401
