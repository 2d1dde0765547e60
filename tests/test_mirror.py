"""The one fixture that finds the dataset mirror: through the registry; a missing mirror fails in CI, skips here."""
from __future__ import annotations

import pytest


@pytest.fixture
def find(request):
    # Fetched at run time, so that this test of the fixture is not itself marked real_data.
    return request.getfixturevalue("dataset_mirror")


def test_missing_mirror_skips_locally_with_the_path_and_the_fix(find, tmp_path, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TRANSFERKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(pytest.skip.Exception) as skipped:
        find("breastmnist", "breastmnist.npz")
    assert str(tmp_path / "breastmnist" / "breastmnist.npz") in str(skipped.value)
    assert "TRANSFERKIT_DATA_DIR" in str(skipped.value)


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_mirror_fails_under_ci(find, tmp_path, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    monkeypatch.setenv("TRANSFERKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        find("hymenoptera", "train")


def test_the_folder_comes_from_the_registry_spec(find, tmp_path, monkeypatch):
    (tmp_path / "ag-news").mkdir()
    (tmp_path / "ag-news" / "test.csv").write_text("1,a,b\n")
    monkeypatch.setenv("TRANSFERKIT_DATA_DIR", str(tmp_path))
    assert find("ag-news", "test.csv") == tmp_path / "ag-news"  # the spec's mirror_path
    with pytest.raises(pytest.fail.Exception, match="no registered dataset 'ag_news'"):
        find("ag_news")


def test_tests_that_read_the_mirror_are_marked_real_data():
    # The marker comes from the fixture, so `-m "not real_data"` deselects every mirror reader, marked by
    # hand or not (test_verify_catches_a_changed_byte carries no marker of its own).
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "-m", "real_data", str(tests / "datasets" / "test_checksums.py")],
                            capture_output=True, text=True, cwd=tests.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_verify_catches_a_changed_byte" in result.stdout
    assert "test_mirror_files_hash_to_the_pinned_sha256[sms-spam]" in result.stdout
    assert "test_the_built_in_datasets_pin_checksums" not in result.stdout
