"""The presets load through the installed entry point and are valid for the nlp domain."""
from transferkit.core.presets import load_preset
from transferkit.core.select import get_domain


def test_presets_resolve_and_pass_the_domain_checks(transferkit_registry):
    registry = transferkit_registry("nlp", "insurance")
    assert registry.plugins["insurance"].provides["presets"] == ["nlp/insurance-claims", "nlp/insurance-fraud-referral"]
    for preset_id in registry.plugins["insurance"].provides["presets"]:
        preset = load_preset(preset_id, domain="nlp", registry=registry)
        get_domain("nlp").validate_preset(preset)
    fraud = load_preset("nlp/insurance-fraud-referral", domain="nlp", registry=registry)
    assert fraud.train.class_weights == "balanced"  # inherited from nlp/insurance-claims
    assert (fraud.threshold.policy, fraud.threshold.positive) == ("min_sensitivity", "refer")
