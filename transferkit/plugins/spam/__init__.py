"""The built-in spam plugin: e-mail and SMS spam filtering, from a generic filter to an industry's own.

Registered through the ``transferkit`` entry-point group like any third-party plugin. This module only
registers records: it imports no torch, transformers or scikit-learn (the domain class is named by a string
and imported when the domain is used), so listing domains, models and presets stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transferkit import hookimpl
from transferkit.core.specs import DatasetSpec, DomainSpec

PRESETS_DIR = Path(__file__).parent / "presets"


@hookimpl
def register_domains(register: Any) -> None:
    register(
        DomainSpec(
            name="spam",
            description="spam filtering of e-mail and SMS: transformer encoders or TF-IDF + a calibrated linear "
            "model, thresholds that bound the legitimate mail flagged, generic to industry-specific",
            factory="transferkit.plugins.spam.domain:SpamDomain",
            default_model="spam/tfidf-linear",  # what spam/generic, the default preset, runs
            default_preset="spam/generic",
            requires=["torch", "sklearn", "scipy", "transformers"],
            install="pip install 'transferkit[spam]'",
            data_help="ham/ and spam/ folders of messages (.eml, .txt as in Enron-Spam, mbox, Maildir), or an "
            "SMS-style CSV/TSV with a label and a text column",
        )
    )


@hookimpl
def register_models(register: Any) -> None:
    from transferkit.plugins.spam.models import catalog

    for source in catalog():
        register(source)


@hookimpl
def register_presets(register: Any) -> None:
    for path in sorted(PRESETS_DIR.glob("*.toml")):
        register(path)


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        DatasetSpec(
            name="sms-spam",
            domain="spam",
            description="UCI SMS Spam Collection v.1: 5,574 SMS (4,827 ham, 747 spam), TSV 'label<TAB>text' "
            "without a header, UTF-8",
            url="https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
            files={"SMSSpamCollection": "7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d"},
            license="CC BY 4.0 (UCI Machine Learning Repository)",
            citation="Tiago A. Almeida, José María Gómez Hidalgo, Akebo Yamakami. Contributions to the Study of "
            "SMS Spam Filtering: New Collection and Results. ACM DocEng 2011.",
            mirror_path="sms-spam",
        )
    )
    register(
        DatasetSpec(
            name="enron-spam",
            domain="spam",
            description="Enron-Spam, mailbox 1 (farmer-d): 5,172 e-mails (3,672 ham, 1,500 spam), one per file "
            "in ham/ and spam/, latin-1, first line 'Subject: ...'",
            url="https://www2.aueb.gr/users/ion/data/enron-spam/preprocessed/enron1.tar.gz",
            files={},
            license="research use (see the Enron-Spam corpus page)",
            citation="Vangelis Metsis, Ion Androutsopoulos, Georgios Paliouras. Spam Filtering with Naive Bayes - "
            "Which Naive Bayes? CEAS 2006.",
            mirror_path="enron-spam",
        )
    )
