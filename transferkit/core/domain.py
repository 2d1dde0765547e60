"""The contract a domain implementation fulfils. A plugin's ``DomainSpec.factory`` names a subclass.

The core calls these methods and nothing else, so that CNNs, transformers and 3D networks share one
protocol: read labelled data, load a pretrained backbone (an :class:`~transferkit.core.backbone.Backbone`),
turn items into tensors, and rebuild the architecture when an artifact is loaded.

This module imports no deep-learning framework: subclasses import torch inside their methods or in
their own modules, which are imported only when the domain is used.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.data import Examples
from transferkit.core.specs import DomainSpec, ModelSource, Preset
from transferkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from transferkit.core.backbone import Backbone


class Domain:
    """Base class of every domain implementation.

    Subclasses override the methods marked *required*. Everything else has a sensible default.

    Attributes:
        spec: the registered :class:`DomainSpec` (set by :func:`transferkit.core.select.get_domain`).
        preprocess_keys: the keys a preset's ``[preprocess]`` table may use, with a one-line help each.
        augment_keys: the same for ``[augment]``.
    """

    spec: DomainSpec
    preprocess_keys: dict[str, str] = {}
    augment_keys: dict[str, str] = {}

    def __init__(self, spec: DomainSpec):
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    # ---------------------------------------------------------------- data
    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        """*Required.* Read labelled examples from ``path``.

        ``split`` ("train", "val" or "test") picks a split from formats that hold several (a folder with
        ``train/`` and ``val/`` sub-folders, a MedMNIST ``.npz``); ``None`` means the format's natural
        default for the step (training data for ``train``, test data for ``evaluate``).
        ``options`` carries reader options from the CLI (``text_cols``, ``label_col``...).
        Bad input raises :class:`~transferkit.errors.DataError` naming the file, the field and the fix;
        unreadable items that can be skipped are listed in ``Examples.skipped``.
        """
        raise NotImplementedError

    def splits_in(self, path: str | Path) -> list[str]:
        """The splits ``path`` holds on its own (e.g. ``["train", "val"]``); [] when it is one set."""
        return []

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """Turn command-line inputs of ``transferkit predict`` into items (paths, texts...)."""
        return list(raw)

    # ---------------------------------------------------------------- models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> "Backbone":
        """*Required.* Load a pretrained backbone from a catalog entry or a local folder.

        Never downloads when the source is a package or a folder; never runs remote code.
        """
        raise NotImplementedError

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> "Backbone":
        """*Required.* Build the backbone architecture described by ``config`` (what
        :meth:`Backbone.config` returned at training time) for an artifact in ``folder``.

        The weights are then loaded by the core from ``model.safetensors``; this must not download.
        """
        raise NotImplementedError

    def save_backbone_files(self, backbone: "Backbone", folder: Path) -> None:
        """Write files the backbone needs besides its weights (a tokenizer, a config.json)."""

    # ---------------------------------------------------------------- preprocessing
    def dataset(
        self,
        backbone: "Backbone",
        items: list[Any],
        targets: list[int] | None,
        preset: Preset,
        *,
        train: bool,
    ) -> "Dataset":
        """*Required.* A torch Dataset yielding ``(inputs, target)`` for each item.

        ``train=True`` applies the preset's ``[augment]`` (random transforms); ``train=False`` is the
        deterministic preprocessing used for validation, prediction and the feature cache.
        ``targets`` is None at prediction time: yield ``-1`` as the target then.
        """
        raise NotImplementedError

    def collate(self, batch: list[Any]) -> Any:
        """Stack a list of dataset items into ``(inputs, targets)``. Default: torch's default_collate."""
        from torch.utils.data import default_collate

        return default_collate(batch)

    def fit_head(
        self, model: Any, splits: Any, targets: tuple[Any, Any], cfg: dict[str, Any], run_dir: Path
    ) -> "tuple[list[dict[str, Any]], Any, list[str]] | None":
        """Optionally fit the model yourself instead of the core (a sparse linear model, a warm-started head).

        Called by ``train`` with the run's :class:`~transferkit.core.train.Splits`, the label indices of the
        train and validation examples and the resolved ``[train]`` config. Return ``(history,
        validation probabilities, notes)`` after fitting ``model`` in place, or None (the default) to let
        the core train it.

        ``history`` rows are what the report's curves draw: ``epoch`` or ``C`` on the x axis,
        ``train_loss`` / ``val_loss``, ``val_<metric>`` and ``chosen``. Rows chosen by cross-validation
        instead carry ``cv_<metric>``, and a ``series`` name when several settings were each tried at
        several C (a line per series).
        """
        return None

    def auto_strategy(self, backbone: "Backbone", min_per_class: int | None) -> tuple[str, str] | None:
        """``auto``'s choice for this backbone, as ``(strategy, reason)``, where the domain knows better than the
        core's data-size rule (a sentence encoder with few labels: ``contrastive``); None (the default) keeps
        the core's rule.

        Example:
            >>> Domain.auto_strategy(None, backbone=None, min_per_class=8) is None
            True
        """
        return None

    def describe_head_fit(self, model: Any) -> str | None:
        """How :meth:`fit_head` will fit ``model`` itself, in a few words for the plan; None (the default)
        when the core trains it. Called by ``configure`` once ``model.plan`` holds the strategy.

        Example:
            >>> Domain.describe_head_fit(None, model=None) is None
            True
        """
        return None

    def baselines(self, model: Any, splits: Any) -> dict[str, Any]:
        """Metrics of baseline models fitted on the same split (name -> {"val": ..., "test": ...}).

        They go into the model card and ``transferkit.json`` beside the model's own figures. Default: none.
        """
        return {}

    def describe_preprocessing(self, backbone: "Backbone", preset: Preset) -> list[str]:
        """What happens to each item before the network sees it, one short line each, for the plan.

        Default: the preset's ``[preprocess]`` and ``[augment]`` tables as they are. Domains say it in
        their own words (resolution and normalisation, tokenizer and length, TF-IDF...).

        Example:
            >>> Domain.describe_preprocessing(None, None, Preset(id="d/p", domain="d", description="",
            ...                               preprocess={"scale": 2}))
            ['preprocess: scale=2']
        """
        lines = []
        for table in ("preprocess", "augment"):
            values = getattr(preset, table)
            if values:
                text = ", ".join(f"{key}={value}" for key, value in values.items())
                lines.append(f"{table}: {text}" + (" (training only)" if table == "augment" else ""))
        return lines

    def check_data(self, preset: Preset, splits: Any) -> None:
        """Refuse a preset that cannot take these data, before the network is loaded (a 3D preset on 2D images).

        Called by ``fit`` once the data are read and before the backbone is loaded, with the resolved preset
        and the run's :class:`~transferkit.core.train.Splits`: what the preset alone decides is refused here
        in seconds, where :meth:`check_plan` would wait for the network. Default: accept.

        Example:
            >>> domain.check_data(preset, splits)  # doctest: +SKIP
        """

    def check_plan(self, selection: Any, splits: Any) -> None:
        """Refuse, before any training (and in ``--dry-run``), a model that cannot take these data.

        Called by ``fit`` once the data are read, before anything is timed or trained, with the
        :class:`~transferkit.core.select.Selection` (``.backbone``, ``.preset``) and the run's
        :class:`~transferkit.core.train.Splits`. Raise a :class:`~transferkit.errors.UsageError` naming
        the file and the fix (a 3D network on 2D images). Default: accept.
        """

    def has_random_augmentation(self, preset: Preset) -> bool:
        """Whether ``dataset(train=True)`` differs from run to run (then features cannot be cached)."""
        return bool({k: v for k, v in preset.augment.items() if v not in (False, 0, 0.0, None, [], "")})

    def validate_preset(self, preset: Preset) -> None:
        """Refuse ``[preprocess]`` and ``[augment]`` keys this domain does not know, naming the allowed ones."""
        for table, allowed in (("preprocess", self.preprocess_keys), ("augment", self.augment_keys)):
            for key in getattr(preset, table):
                if key not in allowed:
                    raise UsageError(
                        f"unknown key '{table}.{key}' for domain '{self.name}'",
                        file=preset.source or preset.id,
                        field=f"{table}.{key}",
                        fix=f"allowed keys: {', '.join(sorted(allowed)) or 'none'}",
                    )
