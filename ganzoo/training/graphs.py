"""CUDA graphs (``cuda_graphs``, ``ganzoo train --cuda-graphs``): each update captured once, then replayed.

A small GAN's step on a large GPU is bound by the host launching a hundred small kernels,
not by arithmetic. A CUDA graph records the kernels of one update (forward, loss, backward,
the device-side NaN check, Adam's fused step and the buffer copy of
:class:`~ganzoo.training.guard.DeferredGuard`) and replays them with one launch.

How it is done here, following PyTorch's "whole network capture":

- Two updates are captured: a discriminator update (``d``) and a generator update (``g``);
  with ``reuse_fake`` the last discriminator update and the generator update that reuses
  its batch are one graph (``dg``), since G's step backpropagates through that batch.
- Their inputs live in static buffers: the real batch, its labels and the noise are drawn
  as in eager execution, in the same order from the same random streams, and copied in
  before each replay; so a run with graphs draws the same numbers as one without.
- The first ``warmup`` calls of each update run eagerly on a side stream (lazy
  initialization, Adam's state, cuDNN's choices happen outside the capture); they are real
  training steps. The next call captures and replays.
- What the host changes between steps reaches the graphs through device tensors: the
  learning rates (a tensor in each Adam group, so ``lr_decay`` works) and the guard's step
  counter. A loss that follows a schedule (``Loss.set_progress``) changes Python numbers a
  graph has baked in: when its attributes change, the updates are captured again. A capture
  waits for the device and instantiates a graph, so a number that changes at every step
  (``non-saturating-r1`` with ``decay``, in its decay window) makes those steps slower than
  eager ones; a loss written for graphs keeps such a number in a device tensor that
  ``set_progress`` updates with ``fill_``, as the learning rates are. The outputs of a replay
  live in the graph's memory: the loop copies the two losses it hands to callbacks.
- The EMA of G is updated right after each step, outside the graphs (its decay follows the step).

Refused: devices other than CUDA and several processes (:func:`check_graph_options`, before
any data is loaded), and in :class:`~ganzoo.training.config.TrainConfig` ``augment`` (an
augmentation keeps its state in Python between steps: ADA's p), ``compile`` (whose
``mode="reduce-overhead"`` is the other way to the same end) and ``nan_check="eager"`` (which
reads values on the host in the middle of each update).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..errors import ConfigError

if TYPE_CHECKING:
    from .config import TrainConfig
    from .distributed import World

__all__ = ["GraphedUpdates", "check_graph_options", "device_learning_rates"]

Update = Callable[..., tuple[torch.Tensor, ...]]


def check_graph_options(config: TrainConfig, device: torch.device, world: World) -> None:
    """Refuse ``cuda_graphs`` where it cannot work, before any data is loaded."""
    if not config.cuda_graphs:
        return
    if device.type != "cuda":
        raise ConfigError(f"--cuda-graphs needs a CUDA device, but this run trains on {device.type}; drop "
                          "--cuda-graphs (it speeds up kernel launches on GPUs only)")
    if world.distributed:
        raise ConfigError(f"--cuda-graphs trains in one process, but this run has {world.size}; drop "
                          "--cuda-graphs or --nproc")


class GraphedUpdates:
    """The loop's two update functions, replayed as CUDA graphs; called exactly as the eager ones.

    ``discriminator_update(real, labels, z, keep, step)`` and ``generator_update(labels, z, fake,
    step)`` are the loop's; their first ``warmup`` calls of each kind run eagerly on a side
    stream, the next one is captured. ``loss`` is watched for schedule changes.
    """

    def __init__(self, discriminator_update: Callable[..., tuple[Any, ...]],
                 generator_update: Callable[..., torch.Tensor], *, reuse_fake: bool, device: torch.device,
                 loss: Any, warmup: int = 3) -> None:
        def d(real: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(discriminator_update(real, labels, z, False, 0)[1:])

        def g(labels: torch.Tensor | None, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return (generator_update(labels, z, None, 0),)

        def dg(real: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
            fake, *outputs = discriminator_update(real, labels, z, True, 0)
            return (*outputs, generator_update(labels, None, fake, 0))

        self.updates: dict[str, Update] = {"d": d, "g": g, "dg": dg}
        self.reuse_fake = reuse_fake
        self.device = device
        self.loss = loss
        self.warmup = warmup
        self.calls = dict.fromkeys(self.updates, 0)
        self.inputs: dict[str, list[torch.Tensor | None]] = {}
        self.graphs: dict[str, tuple[Any, tuple[torch.Tensor, ...]]] = {}
        self.side = torch.cuda.Stream(device)
        self._loss_state = _capture_state(loss)
        self._g_loss: torch.Tensor | None = None  # with reuse_fake: G's loss, from the "dg" graph
        self.captures = 0  # graphs captured so far (again after a schedule change)

    def discriminator(self, real: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor, keep: bool,
                      step: int) -> tuple[None, torch.Tensor, torch.Tensor, torch.Tensor]:
        if keep:  # the last D update of a reuse_fake step: one graph with G's update
            d_loss, real_logits, fake_logits, self._g_loss = self._run("dg", real, labels, z)
        else:
            d_loss, real_logits, fake_logits = self._run("d", real, labels, z)
        return None, d_loss, real_logits, fake_logits

    def generator(self, labels: torch.Tensor | None, z: torch.Tensor | None, fake: torch.Tensor | None,
                  step: int) -> torch.Tensor:
        if self.reuse_fake:
            assert self._g_loss is not None, "the last discriminator update ran G's too"
            return self._g_loss
        (g_loss,) = self._run("g", labels, z)
        return g_loss

    def _run(self, name: str, *inputs: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        state = _capture_state(self.loss)
        if state != self._loss_state:  # set_progress changed numbers the graphs hold: capture again
            self._loss_state = state
            self.graphs.clear()
        static = self._static(name, inputs)
        self.calls[name] += 1
        if name in self.graphs:
            graph, outputs = self.graphs[name]
            graph.replay()
            return outputs
        if self.calls[name] <= self.warmup:
            return self._eager(name, static)
        graph = torch.cuda.CUDAGraph()
        # On the warm-up stream: autograd's gradient-accumulation nodes remember the stream of their first
        # backward, and a capture on another stream would fail on them. On this run's device, which need not
        # be the current one (cuda:1). thread_local: the prefetching sampler's thread may copy the next batch
        # meanwhile, on its own stream.
        with torch.cuda.device(self.device), \
                torch.cuda.graph(graph, stream=self.side, capture_error_mode="thread_local"):
            outputs = _detached(self.updates[name](*static))
        self.graphs[name] = (graph, outputs)
        self.captures += 1
        graph.replay()  # capturing runs nothing: this is the update of this step
        return outputs

    def _static(self, name: str, inputs: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
        """Copy ``inputs`` into the update's static buffers (made, in the same layout, at the first call)."""
        held = self.inputs.get(name)
        if held is None:
            held = self.inputs[name] = [None if x is None else x.detach().clone() for x in inputs]
            return held
        for buffer, x in zip(held, inputs, strict=True):
            if buffer is not None and x is not None:
                buffer.copy_(x)
        return held

    def _eager(self, name: str, static: list[torch.Tensor | None]) -> tuple[torch.Tensor, ...]:
        current = torch.cuda.current_stream(self.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side), warnings.catch_warnings():
            # Adam is built capturable for the capture; uncaptured, it warns that this is slower
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            outputs = _detached(self.updates[name](*static))
        current.wait_stream(self.side)
        return outputs


def device_learning_rates(optimizers: Sequence[torch.optim.Optimizer], device: torch.device) -> None:
    """Hold each Adam group's learning rate in a device tensor, which a captured update reads at each
    replay (the loop then sets it with ``fill_``)."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)


def _detached(outputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """An update's losses and logits without their autograd graph, which must not outlive the update."""
    return tuple(t.detach() for t in outputs)


def _capture_state(obj: Any) -> dict[str, Any]:
    """The numbers, strings and flags an object holds, and which tensors: what a captured graph may have baked
    in. A tensor updated in place is read by the graph at each replay; one rebound to a new tensor is not."""
    state: dict[str, Any] = {}
    for k, v in vars(obj).items():
        if isinstance(v, (bool, int, float, str, type(None))):
            state[k] = v
        elif isinstance(v, torch.Tensor):
            state[k] = ("tensor", id(v), v.data_ptr())
    return state
