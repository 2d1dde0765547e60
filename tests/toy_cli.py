"""`transferkit` with only the toy plugin, in a process of its own: what the signal tests start and kill.

``TK_TEST_SIGNAL=WHERE:N:NAME`` makes the process send itself signal ``SIGNAME`` (KILL, TERM or INT) just
before the N-th event of kind WHERE: ``features`` (a pass of the frozen backbone over a split), ``step`` (a
training step) or ``move`` (a file renamed into place while the artifact is saved). It is a real signal,
delivered by the kernel like one from ``kill``, at a point the test chooses instead of a point a timer hits.

Usage: python tests/toy_cli.py train --domain toy ...
"""
from __future__ import annotations

import os
import signal
import sys
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def _arm(spec: str) -> None:
    where, nth, name = spec.split(":")
    signum, count = getattr(signal, f"SIG{name}"), [0]

    def hit() -> None:
        count[0] += 1
        if count[0] == int(nth):
            os.kill(os.getpid(), signum)

    def before(owner: Any, attr: str) -> None:
        original = getattr(owner, attr)

        def patched(*args: Any, **kwargs: Any) -> Any:
            hit()
            return original(*args, **kwargs)

        setattr(owner, attr, patched)

    if where == "features":
        from transferkit.core import features

        before(features, "extract_features")
    elif where == "step":
        from transferkit.core.lightning_module import TransferModule

        before(TransferModule, "training_step")
    elif where == "move":
        from transferkit.core import artifact

        proxy = types.ModuleType("os")  # artifact.py's own view of `os`: only its renames are counted
        proxy.__dict__.update(os.__dict__)
        before(proxy, "replace")
        artifact.os = proxy
    else:  # pragma: no cover - a typo in a test
        raise SystemExit(f"unknown TK_TEST_SIGNAL place {where!r}")


if __name__ == "__main__":
    import toy_plugin

    from transferkit.core import registry as reg

    registry = reg.Registry.empty()
    registry.add_plugin(toy_plugin, name="toy")
    reg.set_registry(registry)
    if os.environ.get("TK_TEST_SIGNAL"):
        _arm(os.environ["TK_TEST_SIGNAL"])
    from transferkit.cli import main

    main(sys.argv[1:])
