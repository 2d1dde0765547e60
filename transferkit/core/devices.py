"""Where the work runs: the device, its number format, DataLoader settings and the rank of this process.

One place decides, so that feature extraction, ``evaluate``, ``predict`` and training agree: a CUDA GPU
when torch sees one (``TRANSFERKIT_DEVICE`` overrides, e.g. ``cpu`` or ``cuda:1``), else the CPU.
On a GPU inference runs under autocast in bfloat16 where the card supports it (Ampere and later), else
float16, and training uses Lightning's matching ``bf16-mixed`` / ``16-mixed``; the CPU stays float32,
so CPU results are exact and repeatable. Imports torch only inside functions (the core rule).
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEVICE_ENV = "TRANSFERKIT_DEVICE"
WORKERS_ENV = "TRANSFERKIT_NUM_WORKERS"
MAX_WORKERS = 4  # more rarely helps one GPU, and each worker holds a copy of the dataset's state


def pick_device() -> "torch.device":
    """The device models and batches go to: ``$TRANSFERKIT_DEVICE``, else CUDA when available, else CPU.

    Under several processes per machine (DDP) each takes the GPU of its ``LOCAL_RANK``.

    Example:
        >>> import os; os.environ["TRANSFERKIT_DEVICE"] = "cpu"
        >>> pick_device()
        device(type='cpu')
        >>> del os.environ["TRANSFERKIT_DEVICE"]
    """
    import torch

    chosen = os.environ.get(DEVICE_ENV, "").strip()
    if chosen:
        return torch.device(chosen)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def half_dtype() -> "torch.dtype":
    """bfloat16 on GPUs that support it (same range as float32: no loss scaling), else float16.

    Example:
        >>> half_dtype() in (__import__("torch").bfloat16, __import__("torch").float16)  # doctest: +SKIP
        True
    """
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: "torch.device") -> Any:
    """Mixed precision for inference on a GPU; a no-op elsewhere (the CPU stays float32).

    Example:
        >>> import torch
        >>> with autocast(torch.device("cpu")):
        ...     (torch.ones(2) * 2).dtype
        torch.float32
    """
    import torch

    if device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=half_dtype())


def training_precision(requested: str | None, accelerator: str = "auto") -> str:
    """Lightning's ``precision`` for training: ``auto`` means mixed on a GPU, float32 on the CPU.

    Any other value (``32-true``, ``bf16-mixed``, ``16-mixed``...) is the user's choice and is kept.

    Example:
        >>> training_precision("auto", "cpu")
        '32-true'
        >>> training_precision("16-mixed", "cpu")
        '16-mixed'
    """
    if requested not in (None, "auto"):
        return str(requested)
    if accelerator not in ("auto", "gpu", "cuda") or pick_device().type != "cuda":
        return "32-true"
    return "bf16-mixed" if half_dtype_name() == "bfloat16" else "16-mixed"


def lightning_accelerator() -> str:
    """Lightning's ``accelerator``: ``auto`` unless ``$TRANSFERKIT_DEVICE`` names one (``cpu`` keeps a GPU
    machine's training on the CPU, as it does inference).

    Example:
        >>> import os; os.environ["TRANSFERKIT_DEVICE"] = "cpu"; lightning_accelerator()
        'cpu'
        >>> del os.environ["TRANSFERKIT_DEVICE"]
    """
    if not os.environ.get(DEVICE_ENV, "").strip():
        return "auto"
    kind = pick_device().type
    return "gpu" if kind == "cuda" else kind


def half_dtype_name() -> str:
    """``"bfloat16"`` or ``"float16"``: what :func:`half_dtype` gives, as a name."""
    return str(half_dtype()).removeprefix("torch.")


def to_device(batch: Any, device: "torch.device", non_blocking: bool = False) -> Any:
    """Move the tensors of ``batch`` (a tensor, dict, list or tuple of them) to ``device``.

    Example:
        >>> import torch
        >>> to_device({"x": torch.ones(1), "n": 3}, torch.device("cpu"))["n"]
        3
    """
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def loader_workers(dataset: Any, batch_size: int) -> int:
    """Worker processes for a DataLoader over ``dataset``: ``$TRANSFERKIT_NUM_WORKERS``, else some only
    when each item costs real work and there is more than one batch.

    A dataset says it does real per-item work (decoding and resizing an image file) with a true
    ``per_item_work`` attribute; tensors already in memory (tokenized texts, cached volumes, features)
    load faster in the main process than through a worker's pipe. Wrappers exposing ``.dataset`` are
    looked through (core/seeding.py's :class:`SeededItems`).

    Example:
        >>> class Decoded(list): per_item_work = True
        >>> loader_workers(Decoded(range(100)), batch_size=8) == min(MAX_WORKERS, _usable_cpus() - 1)
        True
        >>> loader_workers(list(range(100)), batch_size=8)  # in memory already: the main process loads it
        0
    """
    forced = os.environ.get(WORKERS_ENV, "").strip()
    if forced:
        return max(0, int(forced))
    inner = dataset
    while not getattr(inner, "per_item_work", False) and hasattr(inner, "dataset"):
        inner = inner.dataset
    if not getattr(inner, "per_item_work", False) or len(dataset) <= batch_size:
        return 0
    return max(0, min(MAX_WORKERS, _usable_cpus() - 1))


def loader_options(dataset: Any, batch_size: int, device: "torch.device | None" = None) -> dict[str, Any]:
    """``num_workers``, ``pin_memory`` and ``persistent_workers`` for a DataLoader feeding ``device``.

    Pinned (page-locked) host memory makes copies to a GPU asynchronous; it is pointless on the CPU.
    Workers persist across epochs so that each epoch does not fork them again.

    On the CPU the model's forward and backward passes run on every core torch has threads on, so a
    decoding worker there only competes with them: workers go only to the cores torch leaves free
    (``$TRANSFERKIT_NUM_WORKERS`` still decides when set). ``benchmarks/speed.py`` section 2 measures a
    full fine-tuning epoch with and without one worker.

    Example:
        >>> import torch
        >>> loader_options([0] * 10, 4, torch.device("cpu"))
        {'num_workers': 0, 'pin_memory': False}
    """
    import torch

    device = device if device is not None else pick_device()
    workers = loader_workers(dataset, batch_size)
    if device.type == "cpu" and not os.environ.get(WORKERS_ENV, "").strip():
        workers = min(workers, max(0, _usable_cpus() - torch.get_num_threads()))
    options: dict[str, Any] = {"num_workers": workers, "pin_memory": device.type == "cuda"}
    if workers:
        options["persistent_workers"] = True
    return options


@contextlib.contextmanager
def on_device(model: Any) -> Iterator["torch.device"]:
    """Run a block with ``model`` on :func:`pick_device`, in eval mode, then put it back where and as it was.

    Example:
        >>> with on_device(model) as device:  # doctest: +SKIP
        ...     logits = model(batch.to(device))
    """
    import torch

    first = next(iter(model.parameters()), None)
    home = first.device if first is not None else torch.device("cpu")
    device = pick_device()
    was_training = model.training
    model.to(device).eval()
    try:
        yield device
    finally:
        model.to(home).train(was_training)


def is_rank_zero() -> bool:
    """Whether this is the first (or only) process of a run: the one that prints and writes.

    Unlike :func:`global_rank` it also knows the processes Lightning starts itself for ``--devices N``
    before their process group exists (they carry ``LOCAL_RANK`` / ``NODE_RANK``).

    Example:
        >>> is_rank_zero()
        True
    """
    return global_rank() == 0 and all(os.environ.get(name, "0").strip() in ("", "0")
                                      for name in ("LOCAL_RANK", "NODE_RANK"))


def global_rank() -> int:
    """This process's rank among all training processes (0 when there is only one).

    Read from ``torch.distributed`` once a process group exists, else from the launcher's environment
    (``RANK`` from torchrun, ``SLURM_PROCID`` from srun). Only rank 0 writes the model folder.

    Example:
        >>> global_rank()
        0
    """
    import sys

    torch = sys.modules.get("torch")  # no process group can exist unless torch was imported already
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        return int(torch.distributed.get_rank())
    for name in ("RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


DISTRIBUTED_STRATEGIES = ("auto", "ddp", "fsdp")


def distributed_settings(devices: "int | str" = 1, num_nodes: int = 1,
                         distributed_strategy: str = "auto") -> dict[str, Any]:
    """Check ``--devices``, ``--num-nodes`` and ``--distributed-strategy``; returns them for Lightning's Trainer.

    ``devices``: processes (one per GPU, or CPU processes) per machine, or ``auto`` (every GPU).
    ``distributed_strategy``: ``ddp`` (a full copy per device, gradients averaged), ``fsdp`` (weights,
    gradients and optimizer state sharded across GPUs, for models that do not fit one), or ``auto``
    (Lightning's choice: DDP on several devices).

    Example:
        >>> distributed_settings("2", 1, "ddp")
        {'devices': 2, 'num_nodes': 1, 'distributed_strategy': 'ddp'}
    """
    from transferkit.errors import UsageError

    raw = str(devices).strip().lower()
    if raw == "auto":
        parsed: int | str = "auto"
    elif raw.isdigit() and int(raw) >= 1:
        parsed = int(raw)
    else:
        raise UsageError(f"--devices must be a whole number of at least 1 or 'auto', got {devices!r}",
                         field="devices", fix="e.g. --devices 4 (four GPUs), or --devices auto (every GPU)")
    if int(num_nodes) < 1:
        raise UsageError(f"--num-nodes must be at least 1, got {num_nodes}", field="num_nodes",
                         fix="the number of machines, e.g. --num-nodes 2")
    if distributed_strategy not in DISTRIBUTED_STRATEGIES:
        raise UsageError(f"unknown distributed strategy {distributed_strategy!r}", field="distributed_strategy",
                         fix=f"one of {', '.join(DISTRIBUTED_STRATEGIES)}")
    if distributed_strategy == "fsdp":
        import torch

        if not torch.cuda.is_available():  # else Lightning refuses it only once the trainer is built
            raise UsageError("--distributed-strategy fsdp shards the model across GPUs, and torch sees none here",
                             field="distributed_strategy",
                             fix="--distributed-strategy ddp (CPU processes or GPUs), or run where GPUs are")
    if int(num_nodes) > 1 and not launched_on_several_machines():
        # Otherwise the process waits for the other machines inside torch's rendezvous, where no signal
        # reaches Python: Ctrl-C does nothing for the half hour of torch's timeout.
        raise UsageError(f"--num-nodes {num_nodes}: no launcher started this command on several machines, so it "
                         "would wait for the others forever", field="num_nodes",
                         fix="start it with srun (SLURM) or torchrun --nnodes on every machine, or set MASTER_ADDR "
                         "and NODE_RANK on each (docs/scaling.md); or --num-nodes 1")
    return {"devices": parsed, "num_nodes": int(num_nodes), "distributed_strategy": distributed_strategy}


def launched_on_several_machines() -> bool:
    """Whether a launcher Lightning recognises started this process as part of a multi-machine run: SLURM's
    ``srun``, ``torchrun``, LSF's ``jsrun``, MPI, or ``MASTER_ADDR`` and ``NODE_RANK`` set by hand (what
    Lightning's own environment reads).

    Example:
        >>> launched_on_several_machines()  # doctest: +SKIP
        False
    """
    if os.environ.get("MASTER_ADDR", "").strip() and os.environ.get("NODE_RANK", "").strip():
        return True
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        MPIEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    return any(env.detect() for env in (SLURMEnvironment, TorchElasticEnvironment, LSFEnvironment, MPIEnvironment))


def is_distributed(settings: dict[str, Any]) -> bool:
    """Whether ``settings`` (from :func:`distributed_settings`) may start more than one training process.

    Example:
        >>> is_distributed({"devices": 2, "num_nodes": 1}), is_distributed({"devices": 1, "num_nodes": 1})
        (True, False)
    """
    devices = settings.get("devices", 1)
    if devices == "auto":  # every GPU: several only where torch sees several
        import torch

        devices = torch.cuda.device_count() if torch.cuda.is_available() else 1
    return int(devices) > 1 or settings.get("num_nodes", 1) > 1
