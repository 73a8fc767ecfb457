"""The device a run computes on (``runtime.device``): ``cpu``, ``cuda`` or ``cuda:N``.

``check_device_name`` validates the spelling (config resolution, no torch import); ``require_device``
checks, before a run writes anything, that this machine has that device; ``process_device`` gives each
process of a multi-GPU launch its own GPU.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from xrec_bench.errors import UserError

DEVICE_NAME = re.compile(r"cpu|cuda(:[0-9]+)?")


def check_device_name(device: object) -> None:
    if not isinstance(device, str) or not DEVICE_NAME.fullmatch(device):
        raise UserError(f"runtime.device must be cpu, cuda or cuda:N (a GPU index), not {device!r}; "
                        f"fix it with --device or --set runtime.device=...")


def require_device(device: str) -> None:
    """Refuse a CUDA device this machine (or this torch build) does not have, in one sentence."""
    check_device_name(device)
    if device == "cpu":
        return
    import torch

    if torch.version.cuda is None:
        raise UserError(f"--device {device} needs a CUDA build of torch, and torch {torch.__version__} here "
                        f"has no CUDA support; install a CUDA torch wheel or pass --device cpu.")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise UserError(f"--device {device} needs an NVIDIA GPU, and torch sees none on this machine "
                        f"(torch.cuda.is_available() is False); run it on a GPU machine or pass --device cpu.")
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        raise UserError(f"--device {device}: this machine has {count} GPU{'s' if count > 1 else ''} "
                        f"(cuda:0 to cuda:{count - 1}); pick one of them.")


def process_device(device: str, environ: Mapping[str, str] = os.environ) -> str:
    """The device of this process: under ``accelerate launch`` / torchrun (``LOCAL_RANK`` set), a bare
    ``cuda`` means this process's own GPU, ``cuda:<LOCAL_RANK>``, as accelerate places the trained
    modules; an explicit ``cuda:N`` or ``cpu`` is kept."""
    if device == "cuda" and environ.get("LOCAL_RANK") is not None:
        return f"cuda:{int(environ['LOCAL_RANK'])}"
    return device
