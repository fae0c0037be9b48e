"""The name of the machine a benchmark ran on, as its result rows give it."""

from __future__ import annotations

import platform
import sys

import torch


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    if sys.platform == "linux":
        try:
            with open("/proc/cpuinfo") as info:
                name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), None)
            if name:
                return name
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_name(device: torch.device | str = "cpu") -> str:
    """``NVIDIA H200`` for a CUDA device; for the CPU its model and the torch threads in use."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()}, {torch.get_num_threads()} threads"
