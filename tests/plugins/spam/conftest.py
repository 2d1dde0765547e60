"""Fixtures for the spam plugin: an isolated registry, small slices of the real SMS and Enron-Spam data,
and the nlp tests' tiny BERT (2 layers, 32 features) for the transformer family."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture()
def spam_registry():
    """A registry holding only the spam plugin, installed as the process-wide one for the test."""
    import transferkit.plugins.spam as plugin
    from transferkit.testing import isolated_registry

    with isolated_registry(spam=plugin) as registry:
        yield registry


@pytest.fixture(scope="session")
def sms_rows(dataset_mirror) -> list[tuple[str, str]]:
    """All (label, text) rows of the SMS Spam Collection (the mirror, found through the dataset registry)."""
    sms = dataset_mirror("sms-spam", "SMSSpamCollection") / "SMSSpamCollection"
    rows = [line.rstrip("\n").split("\t", 1) for line in sms.read_text(encoding="utf-8").splitlines()]
    return [(label, text) for label, text in rows]


def write_sms(path: Path, rows: list[tuple[str, str]]) -> Path:
    """Write rows in the collection's own format: ``label<TAB>text``, no header."""
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    return path


def sms_slice(rows: list[tuple[str, str]], ham: int, spam: int, offset: int = 0) -> list[tuple[str, str]]:
    """The first ``ham`` ham and ``spam`` spam messages after skipping ``offset`` of each: a stratified slice."""
    hams = [r for r in rows if r[0] == "ham"][offset: offset + ham]
    spams = [r for r in rows if r[0] == "spam"][offset: offset + spam]
    return hams + spams


@pytest.fixture(scope="session")
def enron(dataset_mirror) -> Path:
    return dataset_mirror("enron-spam", "enron1") / "enron1"


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nlp tests' tiny random BERT, saved as a local Hugging Face folder."""
    pytest.importorskip("transformers")
    spec = importlib.util.spec_from_file_location("nlp_conftest", Path(__file__).parents[1] / "nlp" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def _examples(rows: list[tuple[str, str]], source: str):
    from transferkit.core.data import Examples

    return Examples([text for _, text in rows], [label for label, _ in rows], source)


@pytest.fixture(scope="session")
def sms_small(sms_rows):
    """Train (240 ham + 60 spam) and test (400 ham + 80 spam) slices of the SMS collection, disjoint."""
    return _examples(sms_slice(sms_rows, 240, 60), "sms-train"), _examples(sms_slice(sms_rows, 400, 80, 300), "sms-test")


@pytest.fixture(scope="session")
def sms_tools():
    """``(sms_slice, write_sms)`` for tests that write their own slices."""
    return sms_slice, write_sms
