"""``folder``: a directory of PNG/JPEG images given with ``--data-dir``, optionally in class sub-folders.

The rules, each recorded in ``Dataset.preprocessing["folder"]``:

- **Files.** ``.png``, ``.jpg`` and ``.jpeg`` files (any case) anywhere below the folder
  are images; hidden files and folders (``.name``) are ignored; other files are skipped
  and counted. An image file Pillow cannot decode refuses the whole folder, listing it.
- **Labels.** When every image lies inside a first-level sub-folder, the sub-folders are
  the classes: sorted names -> 0..K-1 (images deeper down belong to their first-level
  folder). Any image at the top level makes the dataset unlabelled.
- **Channels.** Every image becomes the majority kind: grey (``L``) or colour (``RGB``);
  a tie gives colour. Transparency (RGBA, LA, palette) is composited on white first;
  16-bit grey is scaled to 8 bits; EXIF orientation is applied.
- **Sizes.** Images of different sizes are refused (listing a few) unless an image size
  is given (``--image-size N``, ``DataOptions.image_size``): then each image is resized to
  NxN (antialiased bilinear, as :func:`~ganzoo.data.core.resize_images`) while loading.

The folder is decoded once into one uint8 tensor, so it must fit in memory.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from .core import RESIZE_MODE, DataOptions, Dataset, DatasetSpec, default_data_dir, resize_uint8

__all__ = ["IMAGE_SUFFIXES", "load_folder"]

NAME = "folder"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # more than 8 bits a pixel
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
EXIF_ORIENTATION = 0x0112  # values 5..8 swap width and height
MAX_LISTED = 5
MODE_RULE = ("every image converted to the majority of grey (L) or colour (RGB) images, a tie giving RGB; "
             "transparency composited on white; 16-bit grey scaled to 8 bits; EXIF orientation applied")


@dataclass
class _Entry:
    path: Path
    rel: str  # path relative to the folder, for messages
    group: str | None  # first-level sub-folder; None at the top level
    mode: str = ""  # Pillow mode as stored
    hw: tuple[int, int] = (0, 0)  # height, width once EXIF orientation is applied


def _listed(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    more = f" (and {total - MAX_LISTED} more)" if total > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _is_default(folder: Path) -> bool:
    try:
        return folder.expanduser().resolve() == default_data_dir().expanduser().resolve()
    except OSError:  # pragma: no cover - unresolvable paths are not the default
        return False


def _walk(folder: Path) -> tuple[list[_Entry], list[str], int]:
    """Image files (sorted, hidden ones left out), other files skipped, and the number of hidden entries."""
    entries: list[_Entry] = []
    skipped: list[str] = []
    hidden = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        hidden += sum(d.startswith(".") for d in dirnames)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                hidden += 1
                continue
            path = Path(dirpath, name)
            rel = path.relative_to(folder)
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(rel.as_posix())
                continue
            entries.append(_Entry(path, rel.as_posix(), rel.parts[0] if len(rel.parts) > 1 else None))
    return entries, skipped, hidden


def has_images(folder: Path) -> bool:
    """Whether ``folder`` (not the default data directory) holds at least one image file."""
    if _is_default(folder) or not folder.is_dir():
        return False
    for _, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES and not f.startswith(".") for f in filenames):
            return True
    return False


def _read_header(entry: _Entry) -> None:
    from PIL import Image

    with Image.open(entry.path) as im:
        width, height = im.size
        if im.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
            width, height = height, width
        entry.mode, entry.hw = im.mode, (height, width)


def _decode(entry: _Entry, target: str) -> np.ndarray:
    """The image as uint8 ``(H, W)`` (grey) or ``(H, W, 3)`` (colour), converted by :data:`MODE_RULE`."""
    from PIL import Image, ImageOps

    with Image.open(entry.path) as opened:
        im = ImageOps.exif_transpose(opened)
    if im.mode in WIDE_GREY_MODES:  # 0..65535 -> 0..255; float images are taken as 0..255 already
        scale = 1.0 if im.mode == "F" else 255.0 / 65535.0
        grey = np.asarray(im, dtype=np.float64) * scale
        im = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), mode="L")
    if im.mode in ALPHA_MODES or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if im.mode != target:
        im = im.convert(target)
    return np.array(im, dtype=np.uint8)  # a writable copy


def _unreadable(folder: Path, failures: list[str]) -> DataError:
    return DataError(f"folder {folder}: {len(failures)} image file(s) cannot be read: {_listed(failures)}. "
                     "Fix or remove them")


def load_folder(options: DataOptions) -> Dataset:
    """Every image below ``options.data_dir`` as one uint8 tensor (see the module docstring for the rules)."""
    from PIL import Image

    folder = options.data_dir
    if _is_default(folder):
        raise DataError(f"the 'folder' dataset reads the images in --data-dir DIR, and none was given ({folder} "
                        "is ganzoo's store of downloaded datasets). Pass --data-dir pointing at your image folder")
    if not folder.is_dir():
        raise DataError(f"folder {folder} does not exist or is not a directory; pass --data-dir pointing at a "
                        "folder of PNG/JPEG images")
    entries, skipped, hidden = _walk(folder)
    if not entries:
        other = f" ({len(skipped)} other file(s) skipped: {_listed(skipped)})" if skipped else ""
        raise DataError(f"folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}){other}")

    # 1. headers only: modes and sizes, so a folder that cannot load is refused before any decoding.
    failures = []
    for entry in entries:
        try:
            _read_header(entry)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            failures.append(f"{entry.rel} ({exc})")
    if failures:
        raise _unreadable(folder, failures)
    grey = sum(e.mode in GREY_MODES for e in entries)
    target = "L" if grey > len(entries) - grey else "RGB"
    sizes = Counter(e.hw for e in entries)
    (common_h, common_w), _ = sizes.most_common(1)[0]
    size = options.image_size
    if len(sizes) > 1 and size is None:
        odd = [f"{e.rel} ({e.hw[1]}x{e.hw[0]})" for e in entries if e.hw != (common_h, common_w)]
        raise DataError(f"folder {folder}: images differ in size (width x height); {len(odd)} of {len(entries)} "
                        f"are not {common_w}x{common_h} like the rest: {_listed(odd)}. Pass --image-size N to "
                        "resize every image to NxN while loading, or make the sizes equal")

    # 2. decode into one preallocated tensor.
    channels = 1 if target == "L" else 3
    height, width = (size, size) if len(sizes) > 1 and size is not None else (common_h, common_w)
    data = torch.empty((len(entries), channels, height, width), dtype=torch.uint8)
    for i, entry in enumerate(entries):
        try:
            pixels = torch.from_numpy(_decode(entry, target).reshape(*entry.hw, channels)).permute(2, 0, 1)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            failures.append(f"{entry.rel} ({exc})")
            continue
        if entry.hw != (height, width):
            pixels = resize_uint8(pixels.unsqueeze(0), height)[0]
        data[i] = pixels
    if failures:
        raise _unreadable(folder, failures)

    groups = [e.group for e in entries]
    labels = class_names = None
    if all(g is not None for g in groups):
        class_names = sorted({g for g in groups if g is not None})
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[g] for g in groups if g is not None], dtype=torch.long)
    record: dict[str, Any] = {
        "images": len(entries),
        "mode": {"rule": MODE_RULE, "target": target,
                 "converted": dict(sorted(Counter(e.mode for e in entries if e.mode != target).items()))},
        "labels": "sub-folders, sorted names -> 0..K-1" if labels is not None else
                  ("none: images at the top level" if any(g is not None for g in groups) else "none: flat folder"),
        "skipped_files": {"count": len(skipped), "examples": skipped[:MAX_LISTED]},
        "hidden_ignored": hidden,
    }
    preprocessing: dict[str, Any] = {"folder": record}
    if len(sizes) > 1:
        preprocessing["resize"] = {"from": "mixed", "sizes": len(sizes), "to": [height, width], "mode": RESIZE_MODE}
    return Dataset(name=NAME, data=data, labels=labels, num_classes=len(class_names or []),
                   class_names=class_names, preprocessing=preprocessing)


FOLDER_SPEC = DatasetSpec(
    name=NAME, load=load_folder,
    description="Your own PNG/JPEG images in --data-dir DIR; class sub-folders give labels",
    available=lambda options: has_images(options.data_dir),
    source="--data-dir",
)
