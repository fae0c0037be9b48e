"""Datasets: CIFAR-10 (binary), MNIST/Fashion-MNIST (IDX), folders of images, downloads, and data x architecture.

Every file is written by the tests in the official layout; checksums are patched to the
written files'. The network is blocked inside the tests that claim to work offline.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import inspect
import io
import socket
import struct
import tarfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.data import DataOptions, RemoteFile, cifar, download, folder, mnist, parse_idx
from ganzoo.data.download import ensure_files

PER_FILE = 3  # CIFAR records per batch file
N_IDX = 12  # MNIST-like samples


# -- helpers ------------------------------------------------------------------------------------


def cifar_pixel(i: int, ch: int, r: int, c: int) -> int:
    """The value written for record ``i``: distinct per channel, row and column."""
    return (i * 7 + ch * 80 + r * 3 + c * 5) % 256


def cifar_record(i: int, label: int) -> bytes:
    planes = [bytes(cifar_pixel(i, ch, r, c) for r in range(32) for c in range(32)) for ch in range(3)]
    return bytes([label]) + b"".join(planes)  # label, then 1024 R, 1024 G, 1024 B, each row-major


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar_archive(path: Path, extra=None) -> Path:
    """A small archive in the official layout: 5 data batches + a test batch + batches.meta.txt."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for k, name in enumerate([*cifar.TRAIN_FILES, "test_batch.bin"]):
            records = [cifar_record(k * PER_FILE + j, (k * PER_FILE + j) % 10) for j in range(PER_FILE)]
            add_bytes(tar, f"cifar-10-batches-bin/{name}", b"".join(records))
        add_bytes(tar, "cifar-10-batches-bin/batches.meta.txt", ("\n".join(cifar.CLASSES) + "\n\n").encode())
        if extra:
            extra(tar)
    return path


def trust(monkeypatch, module, attr: str, path: Path) -> None:
    """Make ``module.attr`` (a RemoteFile) expect ``path``'s md5."""
    old = getattr(module, attr)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(module, attr, RemoteFile(old.name, old.urls, md5=md5))


def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def write_idx_pair(folder_: Path, n: int = N_IDX, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    write_gz(folder_ / "train-images-idx3-ubyte.gz", idx_bytes(images))
    write_gz(folder_ / "train-labels-idx1-ubyte.gz", idx_bytes(labels))
    return images, labels


def trust_idx(monkeypatch, table: dict, folder_: Path, *, content_only: bool = False) -> None:
    """Patch ``table`` to the files in ``folder_``: their md5, or (``content_only``) their decompressed sha256."""
    for name in mnist.TRAIN:
        old = table[name]
        raw = (folder_ / name).read_bytes()
        md5 = "0" * 32 if content_only else hashlib.md5(raw).hexdigest()
        content = hashlib.sha256(gzip.decompress(raw)).hexdigest() if content_only else None
        monkeypatch.setitem(table, name, mnist.IdxFile(RemoteFile(name, old.remote.urls, md5=md5), content))


def save_image(path: Path, mode: str, size: tuple[int, int], color, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, fmt)
    return path


@pytest.fixture
def offline(monkeypatch):
    """No network: name resolution and connections raise; the attempts are counted."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.fixture
def no_network(monkeypatch):
    """Any use of the network fails the test."""

    def forbidden(*args, **kwargs):
        pytest.fail(f"the network was used: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)


class Server(http.server.ThreadingHTTPServer):
    files: dict[str, bytes]
    ranges: bool = True  # honour Range requests
    cut_after: int | None = None  # send only this many bytes of the next response, then hang up
    seen: list


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        requested = self.headers.get("Range")
        self.server.seen.append(requested)
        start = int(requested.removeprefix("bytes=").rstrip("-")) if requested and self.server.ranges else 0
        if start >= len(body) and start:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        cut, self.server.cut_after = self.server.cut_after, None
        self.wfile.write(body[start:] if cut is None else body[start : start + cut])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))  # no proxy
    srv = Server(("127.0.0.1", 0), Handler)
    srv.files, srv.seen = {}, []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    yield srv
    srv.shutdown()
    srv.server_close()
    urllib.request.install_opener(None)


# -- CIFAR-10 -------------------------------------------------------------------------------------


def test_cifar10_reads_the_binary_records_exactly(tmp_path, monkeypatch, no_network):
    archive = write_cifar_archive(tmp_path / "cifar10" / cifar.ARCHIVE.name)
    trust(monkeypatch, cifar, "ARCHIVE", archive)
    options = DataOptions(data_dir=tmp_path)
    assert cifar.CIFAR10_SPEC.is_available(options)
    ds = cifar.load_cifar10(options)
    n = 5 * PER_FILE
    assert ds.data.shape == (n, 3, 32, 32) and ds.data.dtype == torch.uint8 and ds.data.is_contiguous()
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [i % 10 for i in range(n)]
    expected = torch.tensor([[[[cifar_pixel(i, ch, r, c) for c in range(32)] for r in range(32)] for ch in range(3)]
                             for i in range(n)], dtype=torch.uint8)
    assert torch.equal(ds.data, expected)  # R, G, B planes, each row-major
    assert ds.class_names == cifar.CLASSES and ds.num_classes == 10
    test = cifar.load_cifar10(options, split="test")
    assert test.data.shape == (PER_FILE, 3, 32, 32) and test.labels.tolist() == [5, 6, 7]
    assert test.data[0, 2, 1, :4].tolist() == [cifar_pixel(n, 2, 1, c) for c in range(4)]


def test_cifar10_second_run_uses_the_local_copy(tmp_path, monkeypatch, no_network):
    archive = write_cifar_archive(tmp_path / "cifar10" / cifar.ARCHIVE.name)
    trust(monkeypatch, cifar, "ARCHIVE", archive)
    first = cifar.load_cifar10(DataOptions(data_dir=tmp_path))
    archive.unlink()  # the extracted files alone suffice
    second = cifar.load_cifar10(DataOptions(data_dir=tmp_path))
    assert torch.equal(first.data, second.data) and torch.equal(first.labels, second.labels)
    assert cifar.CIFAR10_SPEC.is_available(DataOptions(data_dir=tmp_path))


def test_cifar10_corrupt_archive_fails_the_checksum(tmp_path, monkeypatch):
    archive = write_cifar_archive(tmp_path / "cifar10" / cifar.ARCHIVE.name)
    trust(monkeypatch, cifar, "ARCHIVE", archive)
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    archive.write_bytes(bytes(raw))
    with pytest.raises(ganzoo.DataError, match="corrupt") as err:
        cifar.load_cifar10(DataOptions(data_dir=tmp_path))
    assert str(archive) in str(err.value) and "md5" in str(err.value)
    assert not (tmp_path / "cifar10" / cifar.EXTRACTED).exists()


def _dotdot(tar):
    add_bytes(tar, "cifar-10-batches-bin/../../evil", b"x")


def _absolute(tar):
    add_bytes(tar, str(Path(tar.name).parent.parent / "outside" / "evil"), b"x")


def _symlink(tar):
    info = tarfile.TarInfo("cifar-10-batches-bin/link")
    info.type, info.linkname = tarfile.SYMTYPE, str(Path(tar.name).parent.parent / "outside")
    tar.addfile(info)
    add_bytes(tar, "cifar-10-batches-bin/link/evil", b"x")


def _hardlink(tar):
    info = tarfile.TarInfo("cifar-10-batches-bin/hard")
    info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
    tar.addfile(info)


def _device(tar):
    info = tarfile.TarInfo("cifar-10-batches-bin/dev")
    info.type = tarfile.CHRTYPE
    tar.addfile(info)


@pytest.mark.parametrize(("extra", "reason"), [(_dotdot, "'..'"), (_absolute, "absolute"), (_symlink, "symbolic"),
                                               (_hardlink, "hard link"), (_device, "device")])
def test_unsafe_archive_is_refused_and_nothing_written(tmp_path, monkeypatch, extra, reason):
    data_dir = tmp_path / "data"
    (tmp_path / "outside").mkdir()
    archive = write_cifar_archive(data_dir / "cifar10" / cifar.ARCHIVE.name, extra)
    trust(monkeypatch, cifar, "ARCHIVE", archive)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ganzoo.DataError, match="unsafe") as err:
        cifar.load_cifar10(DataOptions(data_dir=data_dir))
    assert reason in str(err.value) and str(archive) in str(err.value)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_member_outside_the_expected_folder_is_refused(tmp_path, monkeypatch):
    archive = write_cifar_archive(tmp_path / "cifar10" / cifar.ARCHIVE.name,
                                  lambda tar: add_bytes(tar, "elsewhere.bin", b"x"))
    trust(monkeypatch, cifar, "ARCHIVE", archive)
    with pytest.raises(ganzoo.DataError, match="outside the expected top-level"):
        cifar.load_cifar10(DataOptions(data_dir=tmp_path))


def test_cifar10_offline_says_what_to_put_where(tmp_path, offline):
    start = time.perf_counter()
    with pytest.raises(ganzoo.DataError) as err:
        cifar.load_cifar10(DataOptions(data_dir=tmp_path))
    assert time.perf_counter() - start < 5
    assert offline, "the loader should have tried the network"
    message = str(err.value)
    assert cifar.ARCHIVE.urls[0] in message and cifar.ARCHIVE.md5 in message
    assert str(tmp_path / "cifar10" / "cifar-10-binary.tar.gz") in message and "--data-dir" in message
    assert not list((tmp_path / "cifar10").glob("*"))  # no partial or final file
    assert not cifar.CIFAR10_SPEC.is_available(DataOptions(data_dir=tmp_path))


def test_download_disabled_never_touches_the_network(tmp_path, offline):
    with pytest.raises(ganzoo.DataError, match="downloads are turned off"):
        cifar.load_cifar10(DataOptions(data_dir=tmp_path, download=False))
    assert not offline


def test_cifar10_downloads_verifies_and_extracts(tmp_path, monkeypatch, server):
    archive = write_cifar_archive(tmp_path / "src" / cifar.ARCHIVE.name)
    server.files[archive.name] = archive.read_bytes()
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(cifar, "ARCHIVE", RemoteFile(archive.name, (server.url + archive.name,), md5=md5))
    ds = cifar.load_cifar10(DataOptions(data_dir=tmp_path / "data"))
    assert len(ds) == 5 * PER_FILE and (tmp_path / "data" / "cifar10" / archive.name).is_file()


# -- downloads --------------------------------------------------------------------------------------


BODY = bytes(range(256)) * 40


def remote_for(server, name: str = "blob.bin", body: bytes = BODY) -> RemoteFile:
    server.files[name] = body
    return RemoteFile(name, (server.url + name,), sha256=hashlib.sha256(body).hexdigest())


def test_download_resumes_a_partial_file_with_range(tmp_path, server):
    remote = remote_for(server)
    (tmp_path / "blob.bin.part").write_bytes(BODY[:1000])
    assert download.download(remote, tmp_path).read_bytes() == BODY
    assert server.seen == ["bytes=1000-"] and not (tmp_path / "blob.bin.part").exists()


def test_download_restarts_when_the_server_ignores_range(tmp_path, server):
    remote = remote_for(server)
    server.ranges = False
    (tmp_path / "blob.bin.part").write_bytes(b"junk" * 100)
    assert download.download(remote, tmp_path).read_bytes() == BODY


def test_resumed_file_that_fails_the_checksum_restarts_once(tmp_path, server):
    remote = remote_for(server)
    (tmp_path / "blob.bin.part").write_bytes(b"junk" * 100)  # not a prefix of the real file
    assert download.download(remote, tmp_path).read_bytes() == BODY
    assert server.seen == ["bytes=400-", None]


def test_interrupted_download_resumes_on_the_next_run(tmp_path, server):
    remote = remote_for(server)
    server.cut_after = 3000
    with pytest.raises(ganzoo.DataError, match="connection lost"):
        ensure_files("blob", [remote], tmp_path)
    assert not (tmp_path / "blob.bin").exists() and (tmp_path / "blob.bin.part").stat().st_size == 3000
    assert ensure_files("blob", [remote], tmp_path)[0].read_bytes() == BODY
    assert server.seen[-1] == "bytes=3000-"


def test_wrong_bytes_never_get_the_final_name(tmp_path, server):
    remote = remote_for(server)
    server.files["blob.bin"] = b"something else"
    with pytest.raises(ganzoo.DataError, match="checksum does not match"):
        download.download(remote, tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- MNIST / Fashion-MNIST ----------------------------------------------------------------------------


def test_mnist_reads_idx_files(tmp_path, monkeypatch, no_network):
    images, labels = write_idx_pair(tmp_path / "mnist")
    trust_idx(monkeypatch, mnist.MNIST_FILES, tmp_path / "mnist")
    ds = mnist.load_mnist(DataOptions(data_dir=tmp_path))
    assert ds.data.shape == (N_IDX, 1, 28, 28) and ds.data.dtype == torch.uint8
    assert np.array_equal(ds.data[:, 0].numpy(), images) and ds.labels.tolist() == labels.tolist()
    assert ds.class_names == [str(i) for i in range(10)]


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda b: b"\x01" + b[1:], "magic number"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "element type 0x0d"),
    (lambda b: b[:3] + b"\x02" + b[4:], "2 dimension"),
    (lambda b: b[:-1], "truncated or corrupt"),
    (lambda b: b + b"\x00", "truncated or corrupt"),
    (lambda b: b[:9], "truncated"),
])
def test_malformed_idx_is_refused(mutate, match):
    good = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    assert parse_idx(good, 3, "x").shape == (2, 28, 28)
    with pytest.raises(ganzoo.DataError, match=match) as err:
        parse_idx(mutate(good), 3, "/data/mnist/train-images-idx3-ubyte.gz")
    assert "train-images-idx3-ubyte.gz" in str(err.value)


def test_malformed_idx_file_is_named(tmp_path, monkeypatch):
    write_idx_pair(tmp_path / "mnist")
    bad = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    write_gz(bad, idx_bytes(np.zeros(N_IDX + 1, dtype=np.uint8)))  # one label too many
    trust_idx(monkeypatch, mnist.MNIST_FILES, tmp_path / "mnist")
    with pytest.raises(ganzoo.DataError, match=f"{N_IDX} images but .*train-labels.* {N_IDX + 1} labels"):
        mnist.load_mnist(DataOptions(data_dir=tmp_path))
    bad.write_bytes(b"not gzip at all")
    trust_idx(monkeypatch, mnist.MNIST_FILES, tmp_path / "mnist")
    with pytest.raises(ganzoo.DataError, match="not a valid gzip") as err:
        mnist.load_mnist(DataOptions(data_dir=tmp_path))
    assert str(bad) in str(err.value)


def test_idx_checksum_mismatch_names_the_file(tmp_path):
    write_idx_pair(tmp_path / "mnist")
    with pytest.raises(ganzoo.DataError, match="not the official") as err:
        mnist.load_mnist(DataOptions(data_dir=tmp_path))
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in str(err.value)


def test_fashion_mnist_prefers_the_data_dir_then_the_system_copy(tmp_path, monkeypatch, no_network):
    system_images, _ = write_idx_pair(tmp_path / "system", seed=1)
    monkeypatch.setattr(mnist, "FASHION_SYSTEM_DIR", tmp_path / "system")
    trust_idx(monkeypatch, mnist.FASHION_FILES, tmp_path / "system", content_only=True)  # a recompressed copy
    ds = mnist.load_fashion_mnist(DataOptions(data_dir=tmp_path / "data"))
    assert np.array_equal(ds.data[:, 0].numpy(), system_images) and ds.class_names[9] == "Ankle boot"
    local_images, _ = write_idx_pair(tmp_path / "data" / "fashion-mnist", seed=2)
    trust_idx(monkeypatch, mnist.FASHION_FILES, tmp_path / "data" / "fashion-mnist")
    ds = mnist.load_fashion_mnist(DataOptions(data_dir=tmp_path / "data"))
    assert np.array_equal(ds.data[:, 0].numpy(), local_images)


def test_mnist_offline_lists_every_missing_file(tmp_path, offline):
    with pytest.raises(ganzoo.DataError) as err:
        mnist.load_mnist(DataOptions(data_dir=tmp_path))
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert mnist.MNIST_URLS[0] in message and str(tmp_path / "mnist") in message and offline


@pytest.mark.skipif(not mnist.FASHION_SYSTEM_DIR.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)")
def test_real_fashion_mnist_from_debian(tmp_path, no_network):
    ds = mnist.load_fashion_mnist(DataOptions(data_dir=tmp_path))
    assert ds.data.shape == (60_000, 1, 28, 28) and ds.data.dtype == torch.uint8
    assert ds.labels.bincount().tolist() == [6000] * 10


# -- folder -----------------------------------------------------------------------------------------


def test_folder_refuses_mixed_sizes_unless_an_image_size_is_given(tmp_path):
    for i in range(3):
        save_image(tmp_path / f"a{i}.png", "RGB", (16, 16), (i, 0, 0))
    for i in range(7):
        save_image(tmp_path / f"odd{i}.png", "RGB", (20, 12), (0, i, 0))
    for i in range(5):
        save_image(tmp_path / f"b{i}.png", "RGB", (16, 16), (0, 0, i))
    with pytest.raises(ganzoo.DataError, match="--image-size") as err:
        folder.load_folder(DataOptions(data_dir=tmp_path))
    message = str(err.value)
    assert "7 of 15" in message and "odd0.png (20x12)" in message and "(and 2 more)" in message
    assert "odd6.png" not in message
    ds = folder.load_folder(DataOptions(data_dir=tmp_path, image_size=8))
    assert ds.data.shape == (15, 3, 8, 8) and ds.labels is None
    assert ds.preprocessing["resize"]["to"] == [8, 8]


def test_folder_converts_grey_and_rgba_by_the_recorded_rule(tmp_path):
    save_image(tmp_path / "rgb1.png", "RGB", (4, 4), (10, 20, 30))
    save_image(tmp_path / "rgb2.jpg", "RGB", (4, 4), (200, 100, 0), fmt="JPEG")
    save_image(tmp_path / "grey.png", "L", (4, 4), 77)
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (255, 0, 0, 255))
    rgba.save(tmp_path / "rgba.png")
    ds = folder.load_folder(DataOptions(data_dir=tmp_path))
    by_name = dict(zip(["grey", "rgb1", "rgb2", "rgba"], ds.data, strict=True))  # sorted file order
    assert ds.data.shape == (4, 3, 4, 4)
    assert by_name["grey"].flatten().unique().tolist() == [77]
    assert by_name["rgba"][:, 0, 0].tolist() == [255, 255, 255]  # transparent -> white
    assert by_name["rgba"][:, 0, 1].tolist() == [255, 0, 0]
    assert by_name["rgb1"][:, 2, 3].tolist() == [10, 20, 30]
    record = ds.preprocessing["folder"]["mode"]
    assert record["target"] == "RGB" and record["converted"] == {"L": 1, "RGBA": 1} and "white" in record["rule"]


def test_folder_majority_grey_makes_one_channel(tmp_path):
    save_image(tmp_path / "g1.png", "L", (4, 4), 10)
    save_image(tmp_path / "g2.png", "LA", (4, 4), (10, 255))
    save_image(tmp_path / "c.png", "RGB", (4, 4), (255, 255, 255))
    ds = folder.load_folder(DataOptions(data_dir=tmp_path))
    assert ds.data.shape == (3, 1, 4, 4) and ds.preprocessing["folder"]["mode"]["target"] == "L"


def test_folder_class_subfolders_give_sorted_labels(tmp_path):
    for cls, n in (("zebra", 2), ("ant", 3)):
        for i in range(n):
            save_image(tmp_path / cls / f"{i}.png", "RGB", (8, 8), (i, 0, 0))
    save_image(tmp_path / "ant" / "deeper" / "x.png", "RGB", (8, 8), (0, 0, 0))
    save_image(tmp_path / ".hidden" / "h.png", "RGB", (3, 3), (0, 0, 0))  # ignored, or sizes would differ
    (tmp_path / "ant" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "README.txt").write_text("not an image")
    ds = folder.load_folder(DataOptions(data_dir=tmp_path))
    assert ds.class_names == ["ant", "zebra"] and ds.num_classes == 2
    assert ds.labels.tolist() == [0, 0, 0, 0, 1, 1]
    record = ds.preprocessing["folder"]
    assert record["skipped_files"] == {"count": 1, "examples": ["README.txt"]} and record["hidden_ignored"] == 2
    save_image(tmp_path / "top.png", "RGB", (8, 8), (0, 0, 0))
    ds = folder.load_folder(DataOptions(data_dir=tmp_path))
    assert ds.labels is None and ds.num_classes == 0 and len(ds) == 7


def test_folder_refuses_unreadable_images_and_empty_folders(tmp_path):
    with pytest.raises(ganzoo.DataError, match="holds no images"):
        folder.load_folder(DataOptions(data_dir=tmp_path))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ganzoo.DataError, match=r"holds no images.*notes\.txt"):
        folder.load_folder(DataOptions(data_dir=tmp_path))
    save_image(tmp_path / "ok.png", "RGB", (4, 4), (0, 0, 0))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ganzoo.DataError, match=r"1 image file\(s\) cannot be read: broken\.png"):
        folder.load_folder(DataOptions(data_dir=tmp_path))
    with pytest.raises(ganzoo.DataError, match="does not exist"):
        folder.load_folder(DataOptions(data_dir=tmp_path / "missing"))


def test_folder_needs_an_explicit_data_dir(tmp_path):
    assert not folder.FOLDER_SPEC.is_available(DataOptions())
    with pytest.raises(ganzoo.DataError, match="--data-dir"):
        folder.load_folder(DataOptions())
    assert not folder.FOLDER_SPEC.is_available(DataOptions(data_dir=tmp_path))
    save_image(tmp_path / "sub" / "a.jpeg", "RGB", (4, 4), (0, 0, 0), fmt="JPEG")
    assert folder.FOLDER_SPEC.is_available(DataOptions(data_dir=tmp_path))


# -- every built-in dataset x every architecture ---------------------------------------------------------


ARCHITECTURES = sorted(ganzoo.get_catalog().architectures)
DATASETS = ["digits", "ring8", "grid25", "mnist", "fashion-mnist", "cifar10", "folder"]
IMAGE_DATASETS = {"digits", "mnist", "fashion-mnist", "cifar10", "folder"}  # sizes 8, 28, 28, 32, 16
FITS = {"gan": set(DATASETS), "cgan": set(DATASETS), "dcgan": IMAGE_DATASETS, "cdcgan": IMAGE_DATASETS,
        "cdcgan-proj": IMAGE_DATASETS}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small copies of every downloadable dataset in one data dir, and a labelled image folder."""
    root = tmp_path_factory.mktemp("datasets")
    write_idx_pair(root / "mnist", n=16)
    write_idx_pair(root / "fashion-mnist", n=16, seed=3)
    write_cifar_archive(root / "cifar10" / cifar.ARCHIVE.name)
    for i in range(10):
        save_image(root / "images" / ("cats" if i % 2 else "dogs") / f"{i}.png", "RGB", (16, 16), (i * 20, 0, 0))
    return root


def small_model(arch: str) -> dict:
    a = ganzoo.get_catalog().architecture(arch)
    params = set(inspect.signature(a.generator).parameters) | set(inspect.signature(a.discriminator).parameters)
    return {"base_channels": 8} if "base_channels" in params else {}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_dataset_trains_or_is_refused_by_every_architecture(arch, dataset, files, monkeypatch):
    trust_idx(monkeypatch, mnist.MNIST_FILES, files / "mnist")
    trust_idx(monkeypatch, mnist.FASHION_FILES, files / "fashion-mnist")
    trust(monkeypatch, cifar, "ARCHIVE", files / "cifar10" / cifar.ARCHIVE.name)
    data_dir = files / "images" if dataset == "folder" else files
    config = ganzoo.TrainConfig(architecture=arch, dataset=dataset, steps=1, batch_size=8, ema=0,
                                model=small_model(arch), data_dir=str(data_dir), device="cpu")
    if arch in FITS and dataset not in FITS[arch]:
        with pytest.raises(ganzoo.ShapeMismatchError, match="needs images"):
            ganzoo.fit(config)
        return
    try:
        result = ganzoo.fit(config)
    except ganzoo.ShapeMismatchError:
        if arch in FITS:
            raise
        pytest.skip(f"{arch} (an installed plugin) refuses {dataset}")
    assert result.steps == 1 and result.dataset.name == dataset


def test_conditional_architecture_refuses_an_unlabelled_folder(tmp_path):
    for i in range(8):
        save_image(tmp_path / f"{i}.png", "RGB", (16, 16), (i, 0, 0))
    config = ganzoo.TrainConfig(architecture="cgan", dataset="folder", steps=1, batch_size=8, data_dir=str(tmp_path))
    with pytest.raises(ganzoo.ShapeMismatchError, match="conditional"):
        ganzoo.fit(config)


def test_an_unsupported_folder_image_size_is_refused_before_training(tmp_path):
    for i in range(8):
        save_image(tmp_path / f"{i}.png", "RGB", (9, 9), (i, 0, 0))
    config = ganzoo.TrainConfig(architecture="dcgan", dataset="folder", steps=1, batch_size=8,
                                model={"base_channels": 8}, data_dir=str(tmp_path))
    with pytest.raises(ganzoo.ShapeMismatchError, match="--image-size"):
        ganzoo.fit(config)
