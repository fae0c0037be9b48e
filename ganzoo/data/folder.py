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

The first load decodes the folder (in worker processes when it is large) into one uint8
tensor written to a cache file (:mod:`ganzoo.data.cache`, keyed by the image files, their
sizes and times, and ``--image-size``); later loads memory-map that file and decode nothing,
so a folder need not fit in memory, only on disk. When the cache cannot be written, the
images are decoded into memory, with a note saying why.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ..errors import DataError, StorageError
from ..progress import progress
from .cache import Unusable, entry_path, folder_key, open_pixels, read_header, write_cache
from .core import RESIZE_MODE, DataOptions, Dataset, DatasetSpec, default_data_dir, resize_uint8

__all__ = ["CACHED", "DECODED", "IMAGE_SUFFIXES", "MEMORY", "FolderDataset", "load_folder"]

_T = TypeVar("_T")

NAME = "folder"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # more than 8 bits a pixel
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
EXIF_ORIENTATION = 0x0112  # values 5..8 swap width and height
MAX_LISTED = 5
MODE_RULE = ("every image converted to the majority of grey (L) or colour (RGB) images, a tie giving RGB; "
             "transparency composited on white; 16-bit grey scaled to 8 bits; EXIF orientation applied")
RULES = {"mode": MODE_RULE, "resize": RESIZE_MODE}  # part of the cache key: new rules mean new pixels

# Where the pixels came from (FolderDataset.source).
CACHED = "cache"  # memory-mapped from the cache file
DECODED = "decoded"  # decoded now, written to the cache file and memory-mapped from it
MEMORY = "memory"  # decoded now into memory: the cache could not be written

PARALLEL_MIN = 512  # smaller folders are decoded in this process: starting workers would cost more
WORKERS: int | None = None  # worker processes for larger ones; None: one per available core
MAX_WORKERS = 32
SCAN_CHUNK = 256  # files per header-reading task
DECODE_CHUNK = 512  # images per decoding task, at most ...
CHUNK_BYTES = 32 << 20  # ... and at most this many bytes of decoded pixels


@dataclass
class _Entry:
    path: str  # as os.walk gives it (strings: a Path per file costs seconds for 100,000 files)
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
    top = os.fspath(folder)
    for dirpath, dirnames, filenames in os.walk(top):
        hidden += sum(d.startswith(".") for d in dirnames)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        inner = os.path.relpath(dirpath, top)
        prefix = "" if inner == os.curdir else inner.replace(os.sep, "/") + "/"
        group = prefix.split("/", 1)[0] if prefix else None
        for name in sorted(filenames):
            if name.startswith("."):
                hidden += 1
                continue
            if os.path.splitext(name)[1].lower() not in IMAGE_SUFFIXES:
                skipped.append(prefix + name)
                continue
            entries.append(_Entry(os.path.join(dirpath, name), prefix + name, group))
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


def _read_header(path: Path) -> tuple[str, int, int]:
    """Pillow's mode and the ``(height, width)`` once EXIF orientation is applied, from the file's header."""
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        if im.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
            width, height = height, width
        return im.mode, height, width


def _decode(path: Path, target: str) -> np.ndarray:
    """The image as uint8 ``(H, W)`` (grey) or ``(H, W, 3)`` (colour), converted by :data:`MODE_RULE`."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
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


def _failed(exc: BaseException) -> bool:
    from PIL import Image

    return isinstance(exc, (OSError, SyntaxError, ValueError, Image.DecompressionBombError))


# -- the work, in chunks: run here for small folders, in worker processes for large ones ------------------


def _scan_chunk(paths: list[str]) -> list[tuple[str, int, int] | str]:
    """Each file's ``(mode, height, width)``, or the reason it cannot be read."""
    out: list[tuple[str, int, int] | str] = []
    for path in paths:
        try:
            out.append(_read_header(Path(path)))
        except Exception as exc:
            if not _failed(exc):
                raise
            out.append(str(exc))
    return out


def _decode_chunk(paths: list[str], sizes: list[tuple[int, int]], target: str,
                  shape: tuple[int, int, int]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The images as uint8 ``(n, C, H, W)`` rows (resized to H x W where they differ), and the
    ``(row, reason)`` of each that cannot be decoded."""
    channels, height, width = shape
    out = np.zeros((len(paths), channels, height, width), dtype=np.uint8)
    failures = []
    for i, (path, hw) in enumerate(zip(paths, sizes, strict=True)):
        try:
            pixels = _decode(Path(path), target).reshape(*hw, channels)
        except Exception as exc:
            if not _failed(exc):
                raise
            failures.append((i, str(exc)))
            continue
        if hw != (height, width):
            chw = torch.from_numpy(pixels).permute(2, 0, 1)
            out[i] = resize_uint8(chw.unsqueeze(0), height)[0].numpy()
        else:
            out[i] = pixels.transpose(2, 0, 1)
    return out, failures


def _worker_start() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the pool
    torch.set_num_threads(1)  # one process per core already


def _worker_count(chunks: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(WORKERS or cores, MAX_WORKERS, chunks))


@contextlib.contextmanager
def _pool(images: int, chunks: int) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for a folder of ``images`` split in ``chunks``; None (work here) for a small one."""
    workers = _worker_count(chunks)
    if images < PARALLEL_MIN or workers < 2:
        yield None
        return
    # Forked workers start at once and share the parent's imports; elsewhere the platform's default.
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run(pool: ProcessPoolExecutor | None, fn: Callable[..., _T], tasks: list[tuple[Any, ...]],
         crashed: Callable[[int], DataError]) -> Iterator[tuple[int, _T]]:
    """``(i, fn(*tasks[i]))`` in the order they finish, at most two per worker in flight."""
    if pool is None:
        for i, args in enumerate(tasks):
            yield i, fn(*args)
        return
    todo = iter(enumerate(tasks))
    pending: dict[Future[_T], int] = {}

    def submit(n: int) -> None:
        for i, args in itertools.islice(todo, n):
            pending[pool.submit(fn, *args)] = i

    submit(2 * _worker_count(len(tasks)))
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            i = pending.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool:
                raise crashed(i) from None
            yield i, result
            submit(1)


def _unreadable(folder: Path, failures: list[str]) -> DataError:
    return DataError(f"folder {folder}: {len(failures)} image file(s) cannot be read: {_listed(failures)}. "
                     "Fix or remove them")


@dataclass
class FolderDataset(Dataset):
    """A folder's images (a :class:`~ganzoo.data.core.Dataset`), and where they came from this time."""

    source: str = MEMORY  # CACHED: memory-mapped from the cache; DECODED: decoded now and cached; MEMORY: not cached
    cache_path: Path | None = None  # the cache file read or written
    seconds: float = 0.0  # how long loading took
    notes: list[str] = field(default_factory=list)  # one line each: why the cache was decoded again, or not written


def load_folder(options: DataOptions) -> FolderDataset:
    """Every image below ``options.data_dir`` as one uint8 tensor (see the module docstring for the rules):
    memory-mapped from the cache when it is current, else decoded (in parallel for large folders) and cached."""
    started = time.perf_counter()
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
    size = options.image_size
    groups = [e.group for e in entries]
    labels = class_names = None
    if all(g is not None for g in groups):
        class_names = sorted({g for g in groups if g is not None})
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[g] for g in groups if g is not None], dtype=torch.long)
    walked = {"labels": "sub-folders, sorted names -> 0..K-1" if labels is not None else
              ("none: images at the top level" if any(g is not None for g in groups) else "none: flat folder"),
              "skipped_files": {"count": len(skipped), "examples": skipped[:MAX_LISTED]},
              "hidden_ignored": hidden}
    notes: list[str] = []

    def dataset(data: torch.Tensor, record: dict[str, Any], source: str, path: Path | None) -> FolderDataset:
        preprocessing: dict[str, Any] = {"folder": {"images": len(entries), "mode": record["folder"]["mode"],
                                                    **walked}}
        if "resize" in record:
            preprocessing["resize"] = record["resize"]
        return FolderDataset(name=NAME, data=data, labels=labels, num_classes=len(class_names or []),
                             class_names=class_names, preprocessing=preprocessing, source=source, cache_path=path,
                             seconds=time.perf_counter() - started, notes=notes)

    # 0. the cache, when it was written for exactly these files and options.
    root = folder.expanduser().resolve()
    path = entry_path(root, size)
    try:
        key: str | None = folder_key(root, [(e.rel, *_stat(e.path)) for e in entries], size, RULES)
    except OSError:  # a file vanished or cannot be examined: decoding names it
        key = None
    cached = _open_cached(path, key, root, size, len(entries), class_names, notes) if key is not None else None
    if cached is not None:
        return dataset(*cached, CACHED, path)

    # 1. headers only: modes and sizes, so a folder that cannot load is refused before any decoding.
    scan_chunks = [entries[i : i + SCAN_CHUNK] for i in range(0, len(entries), SCAN_CHUNK)]
    with _pool(len(entries), len(scan_chunks)) as pool:
        failures: list[tuple[int, str]] = []  # (index, message): listed in file order
        with progress(f"reading {len(entries):,} image headers in {folder}", len(entries)) as advance:
            for i, results in _run(pool, _scan_chunk, [([e.path for e in c],) for c in scan_chunks],
                                   lambda i: _crashed(folder, scan_chunks[i])):
                for j, (entry, result) in enumerate(zip(scan_chunks[i], results, strict=True)):
                    if isinstance(result, str):
                        failures.append((i * SCAN_CHUNK + j, f"{entry.rel} ({result})"))
                    else:
                        entry.mode, entry.hw = result[0], (result[1], result[2])
                advance(len(results))
        if failures:
            raise _unreadable(folder, [message for _, message in sorted(failures)])
        grey = sum(e.mode in GREY_MODES for e in entries)
        target = "L" if grey > len(entries) - grey else "RGB"
        sizes = Counter(e.hw for e in entries)
        (common_h, common_w), _ = sizes.most_common(1)[0]
        if len(sizes) > 1 and size is None:
            odd = [f"{e.rel} ({e.hw[1]}x{e.hw[0]})" for e in entries if e.hw != (common_h, common_w)]
            raise DataError(f"folder {folder}: images differ in size (width x height); {len(odd)} of "
                            f"{len(entries)} are not {common_w}x{common_h} like the rest: {_listed(odd)}. Pass "
                            "--image-size N to resize every image to NxN while loading, or make the sizes equal")

        # 2. decode (and resize to --image-size where it differs) into the cache file, or into memory.
        channels = 1 if target == "L" else 3
        height, width = (size, size) if size is not None else (common_h, common_w)
        record: dict[str, Any] = {"folder": {"mode": {
            "rule": MODE_RULE, "target": target,
            "converted": dict(sorted(Counter(e.mode for e in entries if e.mode != target).items()))}}}
        if len(sizes) > 1:
            record["resize"] = {"from": "mixed", "sizes": len(sizes), "to": [height, width], "mode": RESIZE_MODE}
        elif (height, width) != (common_h, common_w):  # as resize_images records it
            record["resize"] = {"from": [common_h, common_w], "to": [height, width], "mode": RESIZE_MODE}
        shape = (len(entries), channels, height, width)
        per_chunk = max(1, min(DECODE_CHUNK, CHUNK_BYTES // (channels * height * width)))
        chunks = [entries[i : i + per_chunk] for i in range(0, len(entries), per_chunk)]
        tasks = [([e.path for e in c], [e.hw for e in c], target, shape[1:]) for c in chunks]

        def fill(put: Callable[[int, Any], None]) -> None:
            failed: list[tuple[int, str]] = []
            with progress(f"decoding {len(entries):,} images of {folder}", len(entries)) as advance:
                for i, (pixels, bad) in _run(pool, _decode_chunk, tasks, lambda i: _crashed(folder, chunks[i])):
                    put(i * per_chunk, pixels)
                    failed += [(i * per_chunk + row, f"{chunks[i][row].rel} ({reason})") for row, reason in bad]
                    advance(len(pixels))
            if failed:
                raise _unreadable(folder, [message for _, message in sorted(failed)])

        if key is not None:
            versions = {"pillow": _pillow_version(), **({"torch": torch.__version__} if "resize" in record else {})}
            try:
                header = write_cache(path, key, root, size, shape, class_names, record, versions, fill)
                return dataset(open_pixels(path, header), record, DECODED, path)
            except StorageError as exc:
                notes.append(f"the decoded images could not be cached ({exc}); they are kept in memory for this run")
        data = torch.empty(shape, dtype=torch.uint8)
        rows = data.numpy()

        def into_memory(first: int, pixels: Any) -> None:
            rows[first : first + len(pixels)] = pixels

        fill(into_memory)
    return dataset(data, record, MEMORY, None)


def _stat(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _pillow_version() -> str:
    import PIL

    return str(PIL.__version__)


def _crashed(folder: Path, chunk: list[_Entry]) -> DataError:
    return DataError(f"folder {folder}: a decoding process died while reading "
                     f"{_listed([e.rel for e in chunk])}; one of these files may be damaged. Fix or remove it")


def _open_cached(path: Path, key: str, root: Path, size: int | None, images: int, class_names: list[str] | None,
                 notes: list[str]) -> tuple[torch.Tensor, dict[str, Any]] | None:
    """The memory-mapped pixels and the record of the cache file ``path`` when it was written for ``key``;
    else None, with a note saying why it was not used (nothing when there is no file)."""
    def stale(reason: str) -> None:
        notes.append(f"the cached images of {root} were not used: {reason}; the folder was decoded again")

    try:
        header = read_header(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing cached (or the cache folder is not a folder)
        return None
    except Unusable as exc:
        stale(str(exc))
        return None
    except OSError as exc:
        stale(f"{path} cannot be read ({exc.strerror or exc})")
        return None
    if header.key != key:
        stale("files were added, removed or changed since it was written" if header.folder == str(root) and
              header.image_size == size else "the cache file belongs to another folder or image size")
        return None
    record = header.record
    mode = record.get("folder", {}).get("mode") if isinstance(record.get("folder"), dict) else None
    if header.shape[0] != images or header.class_names != class_names or not isinstance(mode, dict):
        stale("its header does not describe this folder's images")
        return None
    resized_with = header.versions.get("torch")
    if resized_with is not None and resized_with != torch.__version__:
        stale(f"its images were resized by torch {resized_with}, and this is torch {torch.__version__}")
        return None
    return open_pixels(path, header), record


FOLDER_SPEC = DatasetSpec(
    name=NAME, load=load_folder,
    description="Your own PNG/JPEG images in --data-dir DIR; class sub-folders give labels",
    available=lambda options: has_images(options.data_dir),
    source="--data-dir",
)
