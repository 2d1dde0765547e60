"""Presets: TOML reading, validation errors that name file, key and allowed values; extends."""
from __future__ import annotations

import pytest

from transferkit.core.presets import read_preset_file
from transferkit.errors import UsageError


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_key_names_file_key_and_allowed(tmp_path):
    path = write(tmp_path, 'id = "toy/x"\ndomain = "toy"\ndescription = "d"\n[train]\nlearning_rate = 0.1\n')
    with pytest.raises(UsageError) as info:
        read_preset_file(path)
    text = str(info.value)
    assert str(path) in text and "train.learning_rate" in text and "lr" in text


def test_bad_value_names_allowed_values(tmp_path):
    path = write(tmp_path, 'id = "toy/x"\ndomain = "toy"\ndescription = "d"\nstrategy = "yolo"\n')
    with pytest.raises(UsageError, match="strategy") as info:
        read_preset_file(path)
    assert "linear-probe" in str(info.value)


def test_broken_toml_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="not valid TOML"):
        read_preset_file(write(tmp_path, "id = \n"))


def test_user_file_extends_a_registered_preset(toy_registry, tmp_path):
    from transferkit.core.presets import load_preset

    path = write(tmp_path, 'id = "toy/mine"\ndomain = "toy"\ndescription = "d"\nextends = "toy/default"\n'
                           '[train]\nlr = 0.5\n')
    preset = load_preset(str(path), domain="toy", registry=toy_registry)
    assert preset.train.lr == 0.5 and preset.train.epochs == 3  # epochs comes from toy/default


def test_preset_for_another_domain_is_refused(toy_registry, tmp_path):
    from transferkit.core.presets import load_preset

    path = write(tmp_path, 'id = "vision/x"\ndomain = "vision"\ndescription = "d"\n')
    with pytest.raises(UsageError, match="is for domain 'vision', not 'toy'"):
        load_preset(str(path), domain="toy", registry=toy_registry)


def test_domain_refuses_unknown_preprocess_keys(toy_registry):
    from transferkit.core.select import select
    from transferkit.core.specs import Preset

    preset = Preset(id="toy/bad", domain="toy", description="d", preprocess={"sclae": 2})
    with pytest.raises(UsageError, match="preprocess.sclae") as info:
        select("toy", preset=preset)
    assert "scale" in str(info.value)
