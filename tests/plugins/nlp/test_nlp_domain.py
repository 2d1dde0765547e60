"""The nlp domain: registration, catalog, presets, reading through the domain, loading errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import transferkit as tk
from transferkit.core.select import get_domain
from transferkit.core.specs import Preset
from transferkit.errors import DataError, MissingDependencyError, UsageError

PRESETS = ["nlp/general", "nlp/news-topics", "nlp/support-tickets", "nlp/sentiment", "nlp/legal-clauses",
           "nlp/biomedical-text"]


def test_registration_imports_no_deep_learning_framework():
    code = (
        "import sys, transferkit.plugins.nlp as p\n"
        "from transferkit.core.registry import Registry\n"
        "r = Registry.empty(); info = r.add_plugin(p, name='nlp'); assert info.status == 'ok', info.error\n"
        "print(sorted(m for m in ('torch', 'transformers', 'lightning', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_domain_spec_models_and_datasets(nlp_registry):
    spec = nlp_registry.domain("nlp")
    assert spec.default_model == "nlp/all-minilm-l6-v2" and spec.default_preset == "nlp/general"
    models = {m.id: m for m in nlp_registry.models_for("nlp")}
    assert models["nlp/all-minilm-l6-v2"].kind == "package"
    for hub_id in ("nlp/bert-base-uncased", "nlp/distilbert-base-uncased", "nlp/roberta-base",
                   "nlp/deberta-v3-base", "nlp/biomedbert-base-uncased"):
        assert models[hub_id].kind == "hub"
    assert models["nlp/biomedbert-base-uncased"].location.startswith("microsoft/BiomedNLP-BiomedBERT")
    datasets = nlp_registry.datasets
    assert datasets["ag-news"].files["test.csv"].startswith("1b1b6c5f")
    assert "sms-spam" not in datasets  # registered by the spam plugin
    assert all(d.url.startswith("https://") and d.citation and d.license for d in datasets.values())


@pytest.mark.parametrize("preset_id", PRESETS)
def test_every_preset_resolves_and_passes_the_domain_checks(nlp_registry, preset_id):
    from transferkit.core.presets import load_preset

    preset = load_preset(preset_id, domain="nlp", registry=nlp_registry)
    get_domain("nlp").validate_preset(preset)
    assert len(preset.description) > 60 and preset.industry


def test_presets_really_differ(nlp_registry):
    presets = [nlp_registry.preset(p) for p in PRESETS]
    assert len({p.strategy for p in presets}) >= 4
    assert len({p.preprocess.get("max_length") for p in presets}) >= 4
    assert {p.train.metric for p in presets} == {"accuracy", "f1_macro"}
    assert {p.train.class_weights for p in presets} == {"none", "balanced"}
    assert len({(p.train.lr, p.train.backbone_lr) for p in presets}) >= 4


@pytest.mark.parametrize(
    ("table", "values", "field"),
    [
        ("preprocess", {"max_lenght": 128}, "preprocess.max_lenght"),
        ("preprocess", {"truncation": "middle"}, "preprocess.truncation"),
        ("preprocess", {"max_length": 4}, "preprocess.max_length"),
        ("augment", {"token_dropout": 0.9}, "augment.token_dropout"),
        ("augment", {"mixup": 0.2}, "augment.mixup"),
    ],
)
def test_bad_preset_values_name_the_key(nlp_registry, table, values, field):
    preset = Preset(id="nlp/bad", domain="nlp", description="bad", source="bad.toml", **{table: values})
    with pytest.raises(UsageError) as err:
        get_domain("nlp").validate_preset(preset)
    assert err.value.field == field and err.value.file == "bad.toml"


def test_read_through_the_domain_with_options_and_split_folders(nlp_registry, tmp_path):
    domain = get_domain("nlp")
    (tmp_path / "train.csv").write_text("headline,topic\nstocks fall,biz\ngoal scored,sport\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("headline,topic\nshares up,biz\n", encoding="utf-8")
    assert domain.splits_in(tmp_path) == ["test", "train"]
    train = domain.read(tmp_path, options={"text_cols": ["headline"], "label_col": "topic"})
    assert train.items == ["stocks fall", "goal scored"] and train.labels == ["biz", "sport"]
    test = domain.read(tmp_path, split="test", options={"text_cols": ["headline"], "label_col": "topic"})
    assert test.labels == ["biz"]  # one class is fine for data that is only scored
    with pytest.raises(DataError, match="no 'val' split"):
        domain.read(tmp_path, split="val")
    with pytest.raises(UsageError, match="unknown read option"):
        domain.read(tmp_path / "train.csv", options={"text_column": "headline"})


def test_read_class_folders(nlp_registry, tmp_path):
    for label in ("neg", "pos"):
        (tmp_path / "train" / label).mkdir(parents=True)
        (tmp_path / "train" / label / "1.txt").write_text(f"a {label} review", encoding="utf-8")
    domain = get_domain("nlp")
    assert domain.splits_in(tmp_path) == ["train"]
    assert domain.read(tmp_path, split="train").counts() == {"neg": 1, "pos": 1}


def test_parse_inputs(nlp_registry):
    domain = get_domain("nlp")
    assert domain.parse_inputs(["WIN a prize now", "see you"]) == ["WIN a prize now", "see you"]
    with pytest.raises(UsageError, match="empty"):
        domain.parse_inputs(["  "])


def test_a_folder_without_config_is_refused(nlp_registry, tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(UsageError, match="no config.json"):
        tk.select("nlp", model=tmp_path)


def test_remote_code_is_never_run(nlp_registry, tiny_bert, tmp_path):
    import shutil

    folder = tmp_path / "custom"
    shutil.copytree(tiny_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UsageError, match="trust_remote_code") as err:
        tk.select("nlp", model=folder)
    assert err.value.field == "auto_map"


def test_unreachable_hub_model_says_what_to_do(nlp_registry, monkeypatch):
    # The hub is unreachable here; HF_HUB_OFFLINE makes that fast and certain on any machine.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pytest.importorskip("transformers")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-transferkit-test-cache")
    try:
        tk.select("nlp", model="nlp/distilbert-base-uncased")
    except MissingDependencyError as err:
        message = str(err)
        assert "nlp/distilbert-base-uncased" in message and "hub" in message
        assert "nlp/all-minilm-l6-v2" in err.fix and "--model" in err.fix
    else:  # pragma: no cover - a machine with the model in its hub cache
        pytest.skip("distilbert-base-uncased is in the local hub cache")


def test_tokenization_runs_once_per_set(nlp_registry, tiny_bert):
    sel = tk.select("nlp", model=tiny_bert)
    domain = sel.domain
    texts = ["good film", "bad film", "the movie was great"]
    hits = domain.tokens.hits
    first = domain.dataset(sel.backbone, texts, [1, 0, 1], sel.preset, train=True)
    second = domain.dataset(sel.backbone, texts, [1, 0, 1], sel.preset, train=False)
    assert domain.tokens.hits == hits + 1 and first.ids is second.ids
    domain.dataset(sel.backbone, texts[:2], None, sel.preset, train=False)
    assert domain.tokens.hits == hits + 1  # another set is tokenized on its own


def test_dry_run_plan_on_few_labels_is_contrastive(nlp_registry, tiny_bert, tmp_path):
    path = Path(tmp_path) / "d.csv"
    path.write_text("text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(10)))
    plan = tk.fit("nlp", path, model=tiny_bert, dry_run=True)
    # A sentence encoder with few labels a class: SetFit-style pair fine-tuning (core/contrastive.py).
    assert plan.strategy == "contrastive" and [g.name for g in plan.groups][0] == "embeddings"
