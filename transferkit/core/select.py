"""Step 1 of the protocol: select a pretrained backbone for a domain, with its preprocessing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transferkit.core.domain import Domain
from transferkit.core.presets import load_preset
from transferkit.core.registry import Registry, get_registry, load_object
from transferkit.core.specs import ModelSource, Preset, missing_modules
from transferkit.errors import MissingDependencyError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from transferkit.core.backbone import Backbone

_DOMAINS: dict[str, Domain] = {}


def get_domain(name: str, registry: Registry | None = None) -> Domain:
    """The domain implementation called ``name``, imported on first use.

    Missing optional dependencies raise :class:`MissingDependencyError` with the pip command.

    Example:
        >>> get_domain("vision").name
        'vision'
    """
    registry = registry or get_registry()
    spec = registry.domain(name)
    cached = _DOMAINS.get(name)
    if cached is not None and cached.spec == spec:
        return cached
    missing = spec.missing()
    if missing:
        raise MissingDependencyError(
            f"domain '{name}' needs {', '.join(missing)}, which is not installed",
            fix=spec.install or f"pip install {' '.join(missing)}",
        )
    factory = load_object(spec.factory)
    domain = factory(spec)
    _DOMAINS[name] = domain
    return domain


@dataclass
class Selection:
    """What :func:`select` returns: the backbone, its domain, the preset and where the weights came from."""

    domain: Domain
    backbone: "Backbone"
    preset: Preset
    source: str
    base_artifact: dict[str, Any] | None = None

    @property
    def feature_dim(self) -> int:
        return self.backbone.feature_dim


def _is_artifact(path: Path) -> bool:
    from transferkit.core.artifact import is_artifact

    return is_artifact(path)


def _check_artifact_domain(path: Path, domain: str) -> None:
    """A transferkit model of another domain is refused from its metadata alone, before data or weights load."""
    if not _is_artifact(path):
        return
    import json

    try:
        other = json.loads((path / "transferkit.json").read_text(encoding="utf-8")).get("domain")
    except (OSError, ValueError, AttributeError):
        return  # unreadable metadata: load_artifact says what is wrong with it, with the fix
    if isinstance(other, str) and other != domain:
        raise UsageError(f"this transferkit model is a '{other}' model, not '{domain}'", file=path,
                         fix=f"pass --domain {other}, or a {domain} model")


def resolve_model_source(domain: str, model: str | Path | None, preset: Preset, registry: Registry) -> ModelSource | Path:
    """Pick the backbone: explicit ``model`` (catalog id or folder), else the preset's, else the domain's."""
    choice = model or preset.model or registry.domain(domain).default_model
    if isinstance(choice, Path) or Path(str(choice)).exists():
        _check_artifact_domain(Path(choice), domain)
        return Path(choice)
    choice = str(choice)
    if "/" not in choice or choice.split("/", 1)[0] != domain:
        qualified = f"{domain}/{choice}"
        if qualified in registry.models:
            choice = qualified
    source = registry.model(choice)
    if source.domain != domain:
        raise UsageError(f"model '{choice}' belongs to domain '{source.domain}', not '{domain}'")
    ok, why = source.availability()
    path = source.local_path()
    if not ok and path is not None and not path.exists():  # a weights file the user puts in place
        raise UsageError(f"the weights of '{choice}' are not on this machine", file=path,
                         fix=source.install or "put the file there (or set TRANSFERKIT_WEIGHTS_DIR), or pass --model PATH")
    if not ok and (source.kind != "hub" or missing_modules(source.requires)):
        # (A hub model that is not cached offline is left to the domain: its message names the offline choices.)
        raise MissingDependencyError(f"model '{choice}' is not available here: {why}", fix=source.install or None)
    return source


def select(
    domain: str,
    model: str | Path | None = None,
    preset: str | Path | Preset | None = None,
    *,
    registry: Registry | None = None,
    from_scratch: bool = False,
) -> Selection:
    """Load a pretrained backbone for ``domain`` with the preprocessing it expects.

    ``model`` may be a catalog id (``vision/efficientnet-lite0.imagenet``), a local folder, or an earlier
    transferkit artifact (its fine-tuned backbone becomes the starting point: generic, then specific).
    ``from_scratch=True`` keeps the architecture and drops the weights: the same network randomly
    initialised (the baseline that ``transferkit compare`` measures transfer against).

    Example:
        >>> src = select("vision", preset="vision/wildlife")  # doctest: +SKIP
        >>> src.feature_dim  # doctest: +SKIP
        1280
    """
    registry = registry or get_registry()
    impl = get_domain(domain, registry)
    resolved = load_preset(preset, domain=domain, registry=registry)
    impl.validate_preset(resolved)
    source = resolve_model_source(domain, model, resolved, registry)
    if isinstance(source, Path) and _is_artifact(source):
        from transferkit.core.artifact import load_artifact

        parent = load_artifact(source)
        if parent.meta["domain"] != domain:
            raise UsageError(f"this transferkit model is a '{parent.meta['domain']}' model, not '{domain}'",
                             file=source, fix=f"pass --domain {parent.meta['domain']}, or a {domain} model")
        backbone = parent.backbone
        backbone.source_id = str(source)
        if from_scratch:
            return Selection(impl, reinitialised(impl, backbone), resolved, str(source))
        return Selection(impl, backbone, resolved, str(source), base_artifact=parent.meta)
    backbone = impl.load_backbone(source, resolved)
    backbone.source_id = str(source) if isinstance(source, Path) else source.id
    if from_scratch:
        backbone = reinitialised(impl, backbone)
    return Selection(impl, backbone, resolved, backbone.source_id)


def reinitialised(domain: Domain, backbone: "Backbone") -> "Backbone":
    """The same architecture as ``backbone`` with fresh random weights (its layers' own initialisation).

    Rebuilt the way a saved model is loaded (``save_backbone_files`` then ``rebuild_backbone``, which never
    read weights), so every domain that can save a model can also train its network from scratch. Draws
    from torch's global generator: seed it first (``fit`` does).

    Example:
        >>> from transferkit.plugins.vision.models import SmallCNNBackbone
        >>> fresh = reinitialised(get_domain("vision"), SmallCNNBackbone(channels=[4]))
        >>> fresh.from_scratch, fresh.channels
        (True, [4])
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="transferkit-scratch-") as folder:
        domain.save_backbone_files(backbone, Path(folder))
        fresh = domain.rebuild_backbone(backbone.config(), Path(folder))
    fresh.source_id = f"{backbone.source_id} (random initialisation)" if backbone.source_id else "random initialisation"
    fresh.from_scratch = True  # configure() then lets BatchNorm statistics train
    return fresh
