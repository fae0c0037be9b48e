"""The decoded-image cache of ``folder`` datasets, parallel decoding, and where training keeps the data.

Every test has a cache folder of its own ($GANZOO_CACHE). Images are random, so a batch or a
weight that came from the wrong pixels cannot match by chance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.data import DataOptions, TensorSampler, cache, feeder, folder, resize_images
from ganzoo.data.loading import load_dataset

SMALL = {"base_channels": 8}


@pytest.fixture(autouse=True)
def cache_home(tmp_path_factory, monkeypatch) -> Path:
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GANZOO_CACHE", str(root))
    return root


def write_images(root: Path, n: int, size: tuple[int, int] = (16, 16), *, classes: tuple[str, ...] = (),
                 seed: int = 0, mode: str = "RGB") -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        where = root / classes[i % len(classes)] if classes else root
        where.mkdir(parents=True, exist_ok=True)
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        path = where / f"{i:04d}.png"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path, compress_level=0)
        paths.append(path)
    return paths


@pytest.fixture
def images(tmp_path) -> Path:
    root = tmp_path / "images"
    write_images(root, 24, classes=("cats", "dogs"))
    return root


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every image decoded in this process, by name."""
    seen: list[str] = []
    real = folder._decode

    def counting(path: Path, target: str) -> np.ndarray:
        seen.append(path.name)
        return real(path, target)

    monkeypatch.setattr(folder, "_decode", counting)
    return seen


def load(root: Path, image_size: int | None = None) -> folder.FolderDataset:
    return folder.load_folder(DataOptions(data_dir=root, image_size=image_size))


def cache_files() -> list[Path]:
    return sorted(cache.cache_folder().glob(f"*{cache.SUFFIX}"))


def mapped_from(tensor: torch.Tensor) -> Path | None:
    """The file whose memory map holds ``tensor``'s first byte (from /proc/self/maps), or None."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *rest = line.split(maxsplit=5)
        low, high = (int(v, 16) for v in span.split("-"))
        if low <= address < high and len(rest) == 5 and rest[4].startswith("/"):
            return Path(rest[4])
    return None


def same(a: ganzoo.Dataset, b: ganzoo.Dataset) -> None:
    assert torch.equal(a.data, b.data) and a.data.shape == b.data.shape
    assert (a.labels is None and b.labels is None) or torch.equal(a.labels, b.labels)
    assert a.class_names == b.class_names and a.preprocessing == b.preprocessing
    assert json.dumps(a.info()) == json.dumps(b.info())  # the same record, in the same order


# -- the cache ------------------------------------------------------------------------------------


def test_the_first_load_writes_the_cache_and_the_second_decodes_nothing(images, decodes):
    first = load(images)
    assert first.source == folder.DECODED and len(decodes) == 24 and first.notes == []
    assert cache_files() == [first.cache_path] and first.cache_path.parent == cache.cache_folder()
    decodes.clear()
    second = load(images)
    assert second.source == folder.CACHED and decodes == [] and second.notes == []
    same(first, second)
    assert second.class_names == ["cats", "dogs"] and second.labels.tolist() == [0] * 12 + [1] * 12
    assert mapped_from(second.data) == second.cache_path  # memory-mapped, not read
    second.data[0].fill_(7)  # copy-on-write: the file keeps its pixels
    same(first, load(images))


def test_each_image_size_has_its_own_cache_and_resizing_matches_resize_images(images, decodes):
    native = load(images)
    resized = load_dataset("folder", data_dir=str(images), image_size=8)
    assert isinstance(resized, folder.FolderDataset) and resized.source == folder.DECODED
    same(resize_images(native, 8), resized)  # resized while decoding, as resize_images would after
    decodes.clear()
    again = load_dataset("folder", data_dir=str(images), image_size=8)
    assert again.source == folder.CACHED and decodes == [] and len(cache_files()) == 2
    same(resized, again)


@pytest.mark.parametrize("change", ["touch", "rewrite", "add", "delete", "rename"])
def test_a_changed_added_or_deleted_image_makes_the_folder_decode_again(images, decodes, change):
    load(images)
    target = images / "cats" / "0000.png"
    if change == "touch":
        stamp = target.stat().st_mtime_ns + 5_000_000_000
        os.utime(target, ns=(stamp, stamp))
    elif change == "rewrite":  # other pixels, same size, same modification time: the change time still moves
        before = target.stat()
        rng = np.random.default_rng(7)
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(target, compress_level=0)
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    elif change == "add":
        write_images(images / "dogs", 1, seed=9)[0].rename(images / "dogs" / "9999.png")
    elif change == "delete":
        target.unlink()
    else:
        target.rename(images / "dogs" / "0000.png")
    decodes.clear()
    fresh = load(images)
    assert fresh.source == folder.DECODED and len(decodes) == len(fresh) > 0
    assert fresh.notes == [f"the cached images of {images.resolve()} were not used: files were added, removed or "
                           "changed since it was written; the folder was decoded again"]
    assert len(cache_files()) == 1  # replaced, not added to
    decodes.clear()
    assert load(images).source == folder.CACHED and decodes == []


def test_other_files_change_the_record_but_not_the_pixels(images, decodes):
    load(images)
    (images / "notes.txt").write_text("not an image")
    (images / ".DS_Store").write_bytes(b"\0")
    decodes.clear()
    ds = load(images)
    assert ds.source == folder.CACHED and decodes == []
    assert ds.preprocessing["folder"]["skipped_files"] == {"count": 1, "examples": ["notes.txt"]}
    assert ds.preprocessing["folder"]["hidden_ignored"] == 1


def _rewrite_header(path: Path, edit) -> None:
    """Replace the header by ``edit(header)`` with a correct sha256: only the field checks can refuse it."""
    raw = path.read_bytes()
    magic = len(cache.MAGIC)
    version, length = struct.unpack_from("<IQ", raw, magic)
    start = magic + 12 + 64
    body = json.loads(raw[start : start + length])
    new = json.dumps(edit(body)).encode()
    assert len(new) <= json.loads(raw[start : start + length])["data_offset"] - start
    head = cache.MAGIC + struct.pack("<IQ", version, len(new)) + hashlib.sha256(new).hexdigest().encode() + new
    path.write_bytes(head + raw[len(head) :])


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


DAMAGE = {
    "edited header": (lambda p: p.write_bytes(p.read_bytes().replace(b'"cats"', b'"cuts"', 1)),
                      "its header does not match its sha256 (damaged or edited)"),
    "older format": (lambda p: p.write_bytes(p.read_bytes()[: len(cache.MAGIC)] + struct.pack("<I", 0)
                                             + p.read_bytes()[len(cache.MAGIC) + 4 :]),
                     f"it was written in cache format 0; this ganzoo reads format {cache.FORMAT}"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-100]), "(truncated or extended)"),
    "not a cache": (lambda p: p.write_bytes(b"GIF89a" + bytes(5000)), "it is not a ganzoo image cache"),
    "empty": (lambda p: p.write_bytes(b""), "it is not a ganzoo image cache"),
    "impossible shape": (lambda p: _rewrite_header(p, lambda h: {**h, "shape": [24, 3, 16, 0]}),
                         "its header gives an impossible shape [24, 3, 16, 0]"),
    "pixels moved": (lambda p: _rewrite_header(p, lambda h: {**h, "data_offset": 8192}), "(truncated or extended)"),
    "other classes": (lambda p: _rewrite_header(p, lambda h: {**h, "class_names": ["a", "b"]}),
                      "its header does not describe this folder's images"),
    "nested header": (lambda p: _rewrite_header(p, lambda h: {**h, "record": _nested(200)}),
                      "nested more than 64 levels deep"),
    "huge header": (lambda p: p.write_bytes(p.read_bytes()[: len(cache.MAGIC) + 4] + struct.pack("<Q", 2**62)
                                            + p.read_bytes()[len(cache.MAGIC) + 12 :]), "its header claims"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_or_older_cache_is_decoded_again(images, decodes, damage):
    path = load(images).cache_path
    mapped = load(images)
    expected = dataclasses.replace(mapped, data=mapped.data.clone())  # the file is about to change under the map
    del mapped
    spoil, reason = DAMAGE[damage]
    spoil(path)
    decodes.clear()
    ds = load(images)
    assert ds.source == folder.DECODED and len(decodes) == 24
    assert len(ds.notes) == 1 and reason in ds.notes[0] and "the folder was decoded again" in ds.notes[0]
    same(ds, expected)
    assert cache.read_header(path).shape == (24, 3, 16, 16)  # replaced by a good one
    assert load(images).source == folder.CACHED


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_cache_file_that_is_a_fifo_or_a_device_is_never_read(images, decodes, kind):
    path = load(images).cache_path
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block forever
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    ds = load(images)
    assert ds.source == folder.DECODED and "it is not a regular file" in ds.notes[0]
    assert path.is_file() and not path.is_symlink()
    assert load(images).source == folder.CACHED


def test_a_crash_while_the_cache_is_written_leaves_nothing_to_trust(images, monkeypatch):
    real = folder._decode
    calls = []

    def crash(path: Path, target: str) -> np.ndarray:
        calls.append(path)
        if len(calls) == 10:
            raise KeyboardInterrupt  # Ctrl-C, halfway through the folder
        return real(path, target)

    monkeypatch.setattr(folder, "_decode", crash)
    with pytest.raises(KeyboardInterrupt):
        load(images)
    assert list(cache.cache_folder().iterdir()) == []  # neither a cache file nor a temporary one
    monkeypatch.setattr(folder, "_decode", real)
    assert load(images).source == folder.DECODED


def test_an_unwritable_cache_leaves_the_images_in_memory(images, cache_home, monkeypatch):
    expected = load(images)
    blocker = cache_home / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GANZOO_CACHE", str(blocker))
    ds = load(images)
    assert ds.source == folder.MEMORY and ds.cache_path is None and mapped_from(ds.data) is None
    assert len(ds.notes) == 1 and ds.notes[0].startswith("the decoded images could not be cached (")
    assert "they are kept in memory for this run" in ds.notes[0]
    same(ds, expected)


def test_unreadable_images_are_refused_in_file_order_and_nothing_is_cached(tmp_path):
    root = tmp_path / "broken"
    write_images(root, 6)
    for name in ("0004.png", "0001.png"):
        (root / name).write_bytes(b"\x89PNG not really")
    with pytest.raises(ganzoo.DataError, match=r"2 image file\(s\) cannot be read: 0001\.png .*, 0004\.png"):
        load(root)
    assert cache_files() == []


# -- decoding in worker processes -------------------------------------------------------------------------


@pytest.fixture
def workers(monkeypatch):
    monkeypatch.setattr(folder, "PARALLEL_MIN", 0)
    monkeypatch.setattr(folder, "WORKERS", 2)
    monkeypatch.setattr(folder, "SCAN_CHUNK", 5)
    monkeypatch.setattr(folder, "DECODE_CHUNK", 3)


def test_worker_processes_decode_what_this_process_would(tmp_path, monkeypatch, workers):
    root = tmp_path / "mixed"
    write_images(root, 9, (16, 16), classes=("a", "b"))
    write_images(root / "c", 5, (20, 12), seed=1)
    write_images(root / "d", 4, (16, 16), seed=2, mode="L")
    parallel = load(root, image_size=8)
    assert parallel.source == folder.DECODED
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "other-cache"))
    monkeypatch.setattr(folder, "PARALLEL_MIN", 10**9)
    here = load(root, image_size=8)
    same(parallel, here)
    assert here.preprocessing["resize"]["from"] == "mixed" and here.shape == (3, 8, 8)


def test_an_image_that_kills_a_decoding_process_is_named(images, monkeypatch, workers):
    real = folder._decode

    def dies(path: Path, target: str) -> np.ndarray:
        if path.name == "0005.png":
            os._exit(3)  # what a crashing image library does to its process
        return real(path, target)

    monkeypatch.setattr(folder, "_decode", dies)
    with pytest.raises(ganzoo.DataError, match=r"a decoding process died while reading .*0005\.png.*"
                                               r"one of these files may be damaged"):
        load(images)
    assert cache_files() == []


# -- training on cached data ---------------------------------------------------------------------------


def _weights(result: ganzoo.TrainResult) -> dict[str, torch.Tensor]:
    return {**{f"G.{k}": v for k, v in result.generator.state_dict().items()},
            **{f"D.{k}": v for k, v in result.discriminator.state_dict().items()}}


def test_training_on_cached_data_gives_the_same_weights_as_on_freshly_decoded(images, cache_home, monkeypatch):
    config = ganzoo.TrainConfig(architecture="cdcgan", dataset="folder", data_dir=str(images), steps=3,
                                batch_size=8, model=SMALL, ema=0.0, device="cpu")
    blocker = cache_home / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GANZOO_CACHE", str(blocker))
    in_memory = ganzoo.fit(config)  # decoded into memory: no cache can be written
    assert in_memory.dataset.source == folder.MEMORY
    monkeypatch.setenv("GANZOO_CACHE", str(cache_home))
    decoded = ganzoo.fit(config)
    cached = ganzoo.fit(config)
    assert (decoded.dataset.source, cached.dataset.source) == (folder.DECODED, folder.CACHED)
    reference = _weights(in_memory)
    for result in (decoded, cached):
        weights = _weights(result)
        assert weights.keys() == reference.keys() and all(torch.equal(weights[k], reference[k]) for k in weights)
    other = ganzoo.fit(dataclasses.replace(config, seed=1))
    assert not all(torch.equal(v, reference[k]) for k, v in _weights(other).items())  # the test can fail


# -- where the data lives ----------------------------------------------------------------------------


def _batches(sampler: TensorSampler, n: int) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]]:
    out = []
    for i in range(n):
        x, y = sampler.next()
        out.append((x, y, sampler.sample_labels(4) if i % 3 == 0 else None))  # draws from the same generator
    return out


def _equal(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        all((p is None and q is None) or (p is not None and q is not None and torch.equal(p, q))
            for p, q in zip(r, s, strict=True)) for r, s in zip(a, b, strict=True))


def test_the_prefetching_feeder_yields_the_same_batches(images, monkeypatch):
    dataset = load(images)
    small = feeder.choose_placement(dataset, torch.device("cpu"))
    assert small.feeder == feeder.RESIDENT and small.free_bytes is None
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 4096)  # a device with 4 KB free
    placement = feeder.choose_placement(dataset, torch.device("cpu"))
    assert placement.feeder == feeder.PREFETCH and placement.data_bytes == 24 * 3 * 16 * 16 + 24 * 8
    assert "is more than 50% of the 4.1 KB free on cpu" in placement.notes[-1]

    def pair(rank: int = 0, world: int = 1) -> tuple[TensorSampler, TensorSampler]:
        plain = TensorSampler(dataset, 5, torch.device("cpu"), torch.Generator().manual_seed(3), rank=rank,
                              world=world)
        fed = feeder.make_sampler(dataset, 5, torch.device("cpu"), torch.Generator().manual_seed(3), rank=rank,
                                  world=world)
        assert isinstance(fed, feeder.PrefetchSampler)
        return plain, fed

    plain, fed = pair()
    assert _equal(_batches(plain, 14), _batches(fed, 14))  # three epochs of 4 batches, and more
    saved = fed.state_dict()
    after = _batches(plain, 5)
    resumed = pair()[1]
    resumed.load_state_dict(saved)
    assert _equal(after, _batches(resumed, 5))
    assert not _equal(after, _batches(pair()[1], 5))  # the comparison can fail
    for rank in (0, 1):  # every process of a two-process run takes its own slice, as before
        plain, fed = pair(rank, 2)
        assert _equal(_batches(plain, 7), _batches(fed, 7))


def test_training_through_the_prefetching_feeder_gives_the_same_weights(images, monkeypatch, tmp_path):
    config = ganzoo.TrainConfig(architecture="cdcgan", dataset="folder", data_dir=str(images), steps=4,
                                batch_size=8, model=SMALL, ema=0.0, device="cpu")
    resident = ganzoo.fit(config)
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 1000)
    fed = ganzoo.fit(config)
    reference = _weights(resident)
    assert all(torch.equal(v, reference[k]) for k, v in _weights(fed).items())


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _on_cpu(batches: list) -> list:
    return [tuple(t.cpu() if t is not None else None for t in batch) for batch in batches]


@CUDA
def test_on_cuda_the_prefetching_feeder_yields_the_resident_batches(images, monkeypatch):
    dataset = load(images)
    cuda = torch.device("cuda")
    resident = feeder.make_sampler(dataset, 5, cuda, torch.Generator().manual_seed(3))
    assert isinstance(resident, feeder.ResidentSampler) and resident.data.is_cuda
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 1000)
    fed = feeder.make_sampler(dataset, 5, cuda, torch.Generator().manual_seed(3))
    assert isinstance(fed, feeder.PrefetchSampler) and not fed.data.is_cuda and fed._pixels[0].is_pinned()
    a, b = _batches(resident, 14), _batches(fed, 14)
    assert all(t.is_cuda for batch in b for t in batch if t is not None)
    assert _equal(_on_cpu(a), _on_cpu(b))


@CUDA
def test_on_cuda_a_prefetched_batch_is_read_only_once_its_copy_is_done(monkeypatch):
    """Batches of 12 MB, whose copy takes about a millisecond, each compared on the training stream the moment
    it is handed over: without the wait for the copy's event the comparison would read a half-copied batch,
    and without the event guarding each pinned buffer the next gather would overwrite a batch being copied."""
    from ganzoo.data.core import Dataset

    data = torch.randint(0, 256, (256, 3, 256, 256), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    dataset, cuda = Dataset(name="big", data=data), torch.device("cuda")
    resident = feeder.make_sampler(dataset, 64, cuda, torch.Generator().manual_seed(3))
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 1000)
    fed = feeder.make_sampler(dataset, 64, cuda, torch.Generator().manual_seed(3))
    assert isinstance(resident, feeder.ResidentSampler) and isinstance(fed, feeder.PrefetchSampler)
    for step in range(12):  # three epochs
        (a, _), (b, _) = resident.next(), fed.next()
        assert torch.equal(a, b), f"batch {step} differs"


@CUDA
def test_on_cuda_training_through_the_prefetching_feeder_never_waits_for_the_device(images, monkeypatch):
    """The same weights as the resident path, and no host synchronisation between logged steps."""

    class Strict(ganzoo.Callback):
        def on_step_end(self, state, metrics):
            upcoming = state.step + 1
            reads = upcoming % state.config.log_every == 0 or upcoming >= state.config.steps
            torch.cuda.set_sync_debug_mode(2 if upcoming >= 3 and not reads else 0)

    config = ganzoo.TrainConfig(architecture="cdcgan", dataset="folder", data_dir=str(images), steps=9,
                                batch_size=4, model=SMALL, ema=0.0, device="cuda", log_every=5)
    resident = ganzoo.fit(config)
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 1000)
    try:
        fed = ganzoo.fit(config, callbacks=[Strict()])
    finally:
        torch.cuda.set_sync_debug_mode(0)
    reference = {k: v.cpu() for k, v in _weights(resident).items()}
    assert all(torch.allclose(v.cpu(), reference[k], rtol=1e-3, atol=1e-4) for k, v in _weights(fed).items())


def test_train_prints_and_records_where_the_data_lives(cli_run, images, tmp_path, monkeypatch):
    args = ["train", "dcgan", "--dataset", "folder", "--data-dir", str(images), "--steps", "2", "--batch-size", "8",
            "-o", "base_channels=8", "--no-publish"]
    first = cli_run(*args, "--run-dir", "r1").output
    notes = [line for line in first.splitlines() if line.startswith("Note: data:")]
    assert len(notes) == 1 and "24 images (18.6 KB), decoded in" in notes[0]
    assert "(the next run memory-maps it); used in place on the cpu" in notes[0]
    second = cli_run(*args, "--run-dir", "r2").output
    path = cache_files()[0]
    assert f"Note: data: 24 images (18.6 KB), memory-mapped from the cache {path}; used in place on the cpu" in second
    data = json.loads((tmp_path / "r2" / "config.json").read_text())["resolved"]["data"]
    assert data == {"feeder": "resident", "device": "cpu", "bytes": 18624, "free_device_bytes": None, "share": 0.5,
                    "source": "cache", "cache": str(path)}
    digits = cli_run("train", "dcgan", "--steps", "1", "--batch-size", "8", "-o", "base_channels=8", "--no-publish",
                     "--run-dir", "r3").output
    assert "Note: data:" not in digits  # a built-in dataset used in place: nothing to say
    assert json.loads((tmp_path / "r3" / "config.json").read_text())["resolved"]["data"]["source"] == "memory"
    monkeypatch.setattr(feeder, "free_device_memory", lambda device: 1000)
    fourth = cli_run(*args, "--run-dir", "r4").output
    assert "kept in host memory, as 18.6 KB is more than 50% of the 1.0 KB free on cpu" in fourth
    assert json.loads((tmp_path / "r4" / "config.json").read_text())["resolved"]["data"]["feeder"] == "prefetch"


# -- ganzoo data -------------------------------------------------------------------------------------


def test_data_cache_lists_and_data_clear_removes(cli_run, tmp_path, images):
    assert "No cached image folders in" in cli_run("data").output
    load(images)
    load(images, image_size=8)
    other = tmp_path / "other"
    write_images(other, 3)
    load(other)
    listed = json.loads(cli_run("data", "cache", "--json").output)
    assert sorted((r["folder"], r["image_size"] or 0, r["images"], tuple(r["shape"])) for r in listed) == [
        (str(images.resolve()), 0, 24, (3, 16, 16)), (str(images.resolve()), 8, 24, (3, 8, 8)),
        (str(other.resolve()), 0, 3, (3, 16, 16))]
    assert all(r["status"] == "ok" and r["bytes"] == Path(r["path"]).stat().st_size for r in listed)
    table = cli_run("data", "cache").output
    assert str(images.resolve()) in table and "3x16x16" in table and "3 file(s)" in table

    refused = cli_run("data", "clear", "images", input="n\n", code=1)
    assert "Remove the cached images of" in refused.output and len(cache_files()) == 3
    removed = cli_run("data", "clear", "images", input="y\n").output
    assert "2 file(s)" in removed and [cache.read_header(p).folder for p in cache_files()] == [str(other.resolve())]

    cache_files()[0].write_bytes(b"junk")  # listed as unusable, and cleared with the rest
    (cache.cache_folder() / f".x{cache.SUFFIX}.1234.tmp").write_bytes(b"left by a crash")
    status = json.loads(cli_run("data", "cache", "--json").output)[0]["status"]
    assert status == "unusable: it is not a ganzoo image cache (no magic bytes)"
    assert "1 file(s)" in cli_run("data", "clear", "--yes").output
    assert list(cache.cache_folder().iterdir()) == []
    assert "is empty" in cli_run("data", "clear", "--yes").output


def test_data_clear_of_a_folder_with_nothing_cached_names_the_cached_ones(cli_run, images):
    load(images)
    result = cli_run("data", "clear", "nowhere", "--yes", code=1)
    assert f"Error: nothing is cached for folder {Path('nowhere').resolve()}; cached folders: {images.resolve()}" \
        in result.output
    assert len(cache_files()) == 1
