"""Bring the quality runs of a lent GPU machine back in the few files its call returns, and unpack them here.

A call returns at most 8 files of 16 MiB, 64 MiB together, so what comes back is what the
scores need and no more, in tar files of at most ``CHUNK`` bytes:

- ``augment`` (benchmarks/quality/augment.py's cells): each cell's generator to sample from
  (the EMA one, the registry's own safetensors file, about 3 MB), its ``-train.json`` and its
  sample grid. Here, ``unpack`` draws the cell's samples from that generator exactly as the
  ``train`` phase draws them (10,000, from the seeds 10,000 onwards), on this machine's CPU:
  other latents than on the GPU (the seeded streams differ by device), the same network. Each
  ``-train.json`` records that.
- ``resnet`` (benchmarks/quality/resnet.py's runs): the samples themselves, xz-compressed, with
  their labels, ``-train.json`` and grid. ``unpack`` records each run in the folder's
  results.json as the ``train`` phase does.

Then the usual phases run here: ``augment.py fid|leak|report --work W`` or ``resnet.py fid|table
--work W``.

    there:  python3 benchmarks/gpu/pack.py pack augment WORK $OUT
            python3 benchmarks/gpu/pack.py pack resnet WORK1 [WORK2 ...] $OUT
    here:   python benchmarks/gpu/pack.py unpack augment W FILES...
            python benchmarks/gpu/pack.py unpack resnet W FILES...
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

CHUNK = 15 << 20  # under the 16 MiB a returned file may have
HERE = Path(__file__).resolve().parent


def _quality(name: str) -> Any:
    """A script of benchmarks/quality/ as a module (each is written to run as a script)."""
    sys.path[:0] = [str(HERE.parent / "quality"), str(HERE.parent)]
    return __import__(name)


def _chunks(members: list[tuple[str, bytes]], out: Path, stem: str, compress: bool) -> list[Path]:
    """``members`` in tar files ``out/stem-N.tar[.xz]`` of at most CHUNK bytes of members each (one member is
    never split; compressed files are smaller still)."""
    written: list[Path] = []
    batch: list[tuple[str, bytes]] = []

    def flush() -> None:
        if not batch:
            return
        path = out / f"{stem}-{len(written) + 1}.tar{'.xz' if compress else ''}"
        with tarfile.open(path, "w:xz") if compress else tarfile.open(path, "w") as tar:
            for name, data in batch:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        written.append(path)
        batch.clear()

    size = 0
    for name, data in members:
        if batch and size + len(data) > CHUNK:
            flush()
            size = 0
        batch.append((name, data))
        size += len(data)
    flush()
    return written


def pack_augment(work: Path, out: Path) -> list[Path]:
    from ganzoo.registry import Registry

    registry = Registry(work / "registry")
    members = []
    for meta in sorted(work.glob("n*-train.json")):
        tag = meta.name.removesuffix("-train.json")
        record = registry.resolve(f"fashion-{tag}")  # the name augment.py's Cell.model gives a cell
        stored = registry.read_manifest(record).files
        role = "generator_ema" if "generator_ema.safetensors" in stored else "generator"
        members.append((f"{tag}.safetensors", registry.read_verified(record, f"{role}.safetensors")[1]))
        members.append((meta.name, meta.read_bytes()))
        if (work / f"{tag}.png").is_file():
            members.append((f"{tag}.png", (work / f"{tag}.png").read_bytes()))
    return _chunks(members, out, "augment", compress=False)  # safetensors of floats: xz gains little


def pack_resnet(works: list[Path], out: Path) -> list[Path]:
    members = []
    for work in works:
        for path in sorted(work.glob("fashion-mnist-*")):
            if path.suffix in (".npy", ".json", ".png"):
                members.append((path.name, path.read_bytes()))
    return _chunks(members, out, "resnet", compress=True)


def _extract(files: list[Path], work: Path) -> list[str]:
    names = []
    for path in files:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise SystemExit(f"{path}: unexpected member {member.name!r}")
                data = tar.extractfile(member)
                assert data is not None
                (work / member.name).write_bytes(data.read())
                names.append(member.name)
    return names


def unpack_augment(work: Path, files: list[Path]) -> None:
    import numpy as np

    import ganzoo

    augment = _quality("augment")
    for name in _extract(files, work):
        if not name.endswith(".safetensors"):
            continue
        tag = name.removesuffix(".safetensors")
        g = ganzoo.load(work / name, device="cpu")
        np.save(work / f"{tag}-samples.npy", augment.draw_samples(g, augment.SAMPLES), allow_pickle=False)
        meta_path = work / f"{tag}-train.json"
        meta = json.loads(meta_path.read_text())
        meta["samples_drawn"] = "on the CPU here, from the generator trained there (benchmarks/gpu/pack.py)"
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"{tag}: {augment.SAMPLES:,} samples drawn", flush=True)


def unpack_resnet(work: Path, files: list[Path]) -> None:
    resnet = _quality("resnet")
    for name in _extract(files, work):
        if name.endswith("-train.json"):
            tag = name.removesuffix("-train.json")
            resnet.record(work, "runs", tag, json.loads((work / name).read_text()))
            print(f"{tag}: recorded", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    pk = sub.add_parser("pack")
    pk.add_argument("experiment", choices=("augment", "resnet"))
    pk.add_argument("paths", nargs="+", help="the work folder(s), then the output folder")
    up = sub.add_parser("unpack")
    up.add_argument("experiment", choices=("augment", "resnet"))
    up.add_argument("work")
    up.add_argument("files", nargs="+")
    args = p.parse_args()
    if args.action == "pack":
        *works, out = (Path(x) for x in args.paths)
        if not works:
            p.error("pack needs the work folder(s) and the output folder")
        written = pack_augment(works[0], out) if args.experiment == "augment" else pack_resnet(works, out)
        for path in written:
            print(f"{path} ({path.stat().st_size / 2**20:.1f} MiB)")
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (unpack_augment if args.experiment == "augment" else unpack_resnet)(work, [Path(f) for f in args.files])


if __name__ == "__main__":
    main()
