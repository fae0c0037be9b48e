"""The weight files and the local model registry: round trips, integrity, atomicity, concurrency, safety."""

from __future__ import annotations

import io
import json
import math
import multiprocessing as mp
import os
import pickletools
import random
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from torch import nn

import ganzoo
import ganzoo.builtin
from ganzoo.errors import ConfigError, IntegrityError, ModelNotFoundError, RegistryError
from ganzoo.locations import user_registry
from ganzoo.registry import Registry, is_path_ref, load_generator
from ganzoo.registry import index as index_module
from ganzoo.registry import store as store_module
from ganzoo.weights import load_weights, read_metadata, save_weights, weight_metadata

# -- a throwaway architecture, registered through a plugin like any third-party one ------------------


class ToyGenerator(ganzoo.Generator):
    def __init__(self, *, data_shape: tuple[int, ...], latent_dim: int = 4, num_classes: int = 0) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, num_classes=num_classes)
        self.net = nn.Linear(latent_dim, math.prod(data_shape))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.net(z)).view(-1, *self.data_shape)


class ToyDiscriminator(ganzoo.Discriminator):
    def __init__(self, *, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__(data_shape=data_shape, num_classes=num_classes)
        self.net = nn.Linear(math.prod(data_shape), 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


class ToyPlugin:
    @ganzoo.hookimpl
    def register_architectures(self, register: Any) -> None:
        register(ganzoo.Architecture("toy", ToyGenerator, ToyDiscriminator, description="test toy"))


DATASET = {"name": "points", "shape": [2], "num_classes": 0, "preprocessing": {"scale": 1.0}}
Z = torch.randn(5, 4, generator=torch.Generator().manual_seed(123))


@pytest.fixture
def catalog() -> ganzoo.Catalog:
    return ganzoo.load_catalog(entry_points=False, plugins=[("core", ganzoo.builtin), ("toy", ToyPlugin())])


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "reg")


def make_pair(catalog: ganzoo.Catalog, seed: int = 0) -> tuple[ganzoo.Generator, ganzoo.Discriminator]:
    torch.manual_seed(seed)
    g, d = catalog.create("toy", data_shape=(2,))
    return g.eval(), d.eval()


def spec_of(g: torch.nn.Module) -> ganzoo.ModelSpec:
    spec = vars(g)["ganzoo_spec"]  # set by Catalog.build
    assert isinstance(spec, ganzoo.ModelSpec)
    return spec


def manifest_for(g: ganzoo.Generator, steps: int = 10) -> dict[str, Any]:
    return {"architecture": "toy", "spec": spec_of(g).to_dict(), "dataset": DATASET, "steps": steps,
            "metrics": {"d_loss": 0.5, "diverged": float("nan")}}


def publish(reg: Registry, catalog: ganzoo.Catalog, name: str = "toy-points", seed: int = 0, ema: bool = False,
            **kwargs: Any) -> tuple[ganzoo.registry.ModelRecord, ganzoo.Generator]:
    g, d = make_pair(catalog, seed)
    weights = {"generator": g.state_dict(), "discriminator": d.state_dict()}
    if ema:
        weights["generator_ema"] = make_pair(catalog, seed + 1000)[0].state_dict()
    record = reg.publish(name, weights, manifest_for(g), **kwargs)
    return record, g


def out(g: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return g(Z)


# -- round trips -----------------------------------------------------------------------------------


def test_publish_then_resolve_and_load_by_every_ref(reg: Registry, catalog: ganzoo.Catalog) -> None:
    record, g = publish(reg, catalog, extra_files={"samples.png": b"\x89PNG fake"})
    assert (record.ref, record.architecture, record.dataset, record.steps) == ("toy-points:1", "toy", "points", 10)
    assert record.aliases == ("latest",) and record.path == reg.root / "models" / "toy-points" / "1"
    assert reg.list() == [record] and reg.list("toy-points") == [record] and reg.list("other") == []
    for ref in ("toy-points", "toy-points:1", "toy-points@latest"):
        assert reg.resolve(ref) == record
        loaded = load_generator(ref, registry=reg, catalog=catalog)
        assert not loaded.training and torch.equal(out(loaded), out(g))
        assert vars(loaded)["ganzoo_manifest"]["version"] == 1
    manifest = reg.manifest(record)
    assert manifest["format"] == "ganzoo.model/1" and manifest["name"] == "toy-points"
    assert manifest["metrics"] == {"d_loss": 0.5, "diverged": None}  # NaN is not JSON: stored as null
    assert set(manifest["versions"]) == {"ganzoo", "torch", "safetensors", "python"}
    assert set(manifest["files"]) == {"generator.safetensors", "discriminator.safetensors", "samples.png"}
    png = reg.file_path(record, "samples.png")
    assert png.read_bytes() == b"\x89PNG fake" and manifest["files"]["samples.png"]["size"] == len(b"\x89PNG fake")
    meta = read_metadata(record.path / "discriminator.safetensors")
    assert meta["ganzoo.role"] == "discriminator" and meta["ganzoo.model"] == "toy-points:1"
    assert json.loads(meta["ganzoo.dataset"]) == DATASET
    d_state = reg.load_state(record, "discriminator")
    assert torch.equal(d_state["net.weight"], make_pair(catalog, 0)[1].state_dict()["net.weight"])
    assert reg.verify() == []


def test_versions_increment_latest_moves_and_aliases(reg: Registry, catalog: ganzoo.Catalog) -> None:
    gens = [publish(reg, catalog, seed=s)[1] for s in range(3)]
    assert [r.version for r in reg.list()] == [1, 2, 3]
    assert reg.resolve("toy-points").version == 3
    assert [r.aliases for r in reg.list()] == [(), (), ("latest",)]
    for version, g in enumerate(gens, start=1):
        assert torch.equal(out(load_generator(f"toy-points:{version}", registry=reg, catalog=catalog)), out(g))
    assert not torch.equal(out(gens[0]), out(gens[2]))
    assert reg.set_alias("toy-points:2", "best").aliases == ("best",)
    assert reg.resolve("toy-points@best").version == 2
    reg.set_alias("toy-points:1", "best")  # aliases move
    assert reg.resolve("toy-points@best").version == 1 and reg.resolve("toy-points:2").aliases == ()
    with pytest.raises(ConfigError, match="all digits"):
        reg.set_alias("toy-points:1", "123")


def test_remove_moves_latest_and_never_reissues_a_version(reg: Registry, catalog: ganzoo.Catalog) -> None:
    publish(reg, catalog, seed=0)
    record2, _ = publish(reg, catalog, seed=1, aliases=("latest", "best"))
    reg.remove("toy-points@best")
    assert not record2.path.exists() and [r.version for r in reg.list()] == [1]
    assert reg.resolve("toy-points").version == 1  # latest fell back
    with pytest.raises(ModelNotFoundError):
        reg.resolve("toy-points@best")
    assert publish(reg, catalog, seed=2)[0].version == 3  # "toy-points:2" never means other weights
    reg.remove("toy-points:1")
    reg.remove("toy-points:3")
    assert reg.list() == [] and not (reg.root / "models" / "toy-points").exists()
    assert reg.verify() == [] and list((reg.root / "tmp").iterdir()) == []


def test_ema_generator_is_preferred_unless_disabled(reg: Registry, catalog: ganzoo.Catalog) -> None:
    _, g = publish(reg, catalog, seed=0, ema=True)
    ema_g = make_pair(catalog, 1000)[0]
    assert torch.equal(out(load_generator("toy-points", registry=reg, catalog=catalog)), out(ema_g))
    assert torch.equal(out(load_generator("toy-points", registry=reg, catalog=catalog, ema=False)), out(g))


def test_a_copied_out_file_loads_alone(reg: Registry, catalog: ganzoo.Catalog, tmp_path: Path) -> None:
    record, g = publish(reg, catalog)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(record.path / "generator.safetensors", elsewhere / "my model.safetensors")
    shutil.rmtree(reg.root)
    for ref in (elsewhere / "my model.safetensors", str(elsewhere / "my model.safetensors")):
        assert is_path_ref(ref)
        loaded = load_generator(ref, catalog=catalog)
        assert torch.equal(out(loaded), out(g)) and vars(loaded)["ganzoo_manifest"] is None
    assert not is_path_ref("toy-points:1")
    with pytest.raises(ModelNotFoundError):
        load_generator(tmp_path / "missing.safetensors", catalog=catalog)


def test_files_that_are_not_ganzoo_generators(reg: Registry, catalog: ganzoo.Catalog, tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(IntegrityError, match="not a ganzoo model file"):
        load_generator(plain, catalog=catalog)
    record, g = publish(reg, catalog)
    with pytest.raises(ConfigError, match="discriminator weights"):
        load_generator(record.path / "discriminator.safetensors", catalog=catalog)
    wrong = tmp_path / "wrong.safetensors"  # right header, wrong tensors
    save_weights(wrong, {"net.weight": torch.zeros(3, 4)}, weight_metadata("generator", spec_of(g), DATASET))
    with pytest.raises(IntegrityError, match=r"wrong\.safetensors.*do not fit") as exc:
        load_generator(wrong, catalog=catalog)
    assert "net.bias" in str(exc.value)


# -- integrity -------------------------------------------------------------------------------------


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_hash_mismatch_is_refused_and_reported(reg: Registry, catalog: ganzoo.Catalog) -> None:
    record, _ = publish(reg, catalog)
    path = record.path / "generator.safetensors"
    expected = reg.manifest(record)["files"]["generator.safetensors"]["sha256"]
    flip_byte(path, path.stat().st_size - 3)  # in the tensor data: size unchanged, still parseable
    actual = store_module.sha256_file(path)[0]
    for attempt in (lambda: load_generator("toy-points", registry=reg, catalog=catalog),
                    lambda: reg.file_path(record, "generator.safetensors"),
                    lambda: reg.load_state("toy-points:1")):
        with pytest.raises(IntegrityError) as exc:
            attempt()
        assert str(path) in str(exc.value) and f"expected {expected}" in str(exc.value)
        assert f"got {actual}" in str(exc.value)
    [problem] = reg.verify()
    assert "toy-points:1" in problem and "generator.safetensors sha256 mismatch" in problem and actual in problem


def test_verify_reports_missing_extra_orphan_and_stale(reg: Registry, catalog: ganzoo.Catalog) -> None:
    record, _ = publish(reg, catalog)
    assert reg.verify() == []
    (record.path / "discriminator.safetensors").unlink()
    (record.path / "notes.txt").write_text("hi")
    with open(record.path / "generator.safetensors", "ab") as f:
        f.write(b"\0")
    orphan = reg.root / "models" / "toy-points" / "7"
    orphan.mkdir()
    stale = reg.root / "tmp" / "publish-toy-points-crashed"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    (reg.root / "tmp" / "publish-in-progress").mkdir()  # young: may belong to a running publish
    problems = "\n".join(reg.verify())
    assert "missing file discriminator.safetensors" in problems
    assert "notes.txt (not in the manifest)" in problems
    size = reg.manifest(record)["files"]["generator.safetensors"]["size"]
    assert f"generator.safetensors has the wrong size: expected {size} bytes, got {size + 1}" in problems
    assert "models/toy-points/7: orphan version folder" in problems
    assert "tmp/publish-toy-points-crashed" in problems and "in-progress" not in problems
    assert len(reg.verify()) == 5
    (record.path / "manifest.json").write_text("{not json")
    assert any("manifest unusable" in p for p in reg.verify())


def test_publish_replaces_an_orphan_folder(reg: Registry, catalog: ganzoo.Catalog) -> None:
    orphan = reg.root / "models" / "toy-points" / "1"
    orphan.mkdir(parents=True)
    (orphan / "junk.bin").write_bytes(b"half-written")
    record, _ = publish(reg, catalog)
    assert record.version == 1 and not (orphan / "junk.bin").exists() and reg.verify() == []


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_paths_never_leave_the_root(reg: Registry, catalog: ganzoo.Catalog, tmp_path: Path) -> None:
    record, _ = publish(reg, catalog)
    outside = tmp_path / "outside"
    shutil.move(record.path, outside)
    record.path.symlink_to(outside, target_is_directory=True)
    with pytest.raises(RegistryError, match="outside the registry root"):
        reg.file_path(record, "generator.safetensors")


# -- atomic publish ---------------------------------------------------------------------------------


def _fail_save(monkeypatch: pytest.MonkeyPatch) -> None:
    real = store_module.save_weights

    def flaky(path: Path, tensors: dict, metadata: dict) -> None:
        real(path, tensors, metadata)  # the generator file is complete, then the disk "fills up"
        if "discriminator" in path.name:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "save_weights", flaky)


def _fail_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(store_module.os, "replace", refuse)


def _fail_index(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(conn: object, row: object) -> None:
        raise RuntimeError("crash after the rename, before the commit")

    monkeypatch.setattr(index_module, "insert_version", boom)


@pytest.mark.parametrize("fail", [_fail_save, _fail_rename, _fail_index, None])
def test_a_failed_publish_changes_nothing(reg: Registry, catalog: ganzoo.Catalog, monkeypatch: pytest.MonkeyPatch,
                                          fail: object) -> None:
    first, _ = publish(reg, catalog, seed=0)
    before = {p.relative_to(reg.root): p.read_bytes() for p in reg.root.rglob("*") if p.is_file()}
    g, d = make_pair(catalog, 1)
    weights = {"generator": g.state_dict(), "discriminator": d.state_dict()}
    if fail is None:
        weights["discriminator"] = {"net.weight": "not a tensor"}  # refused while saving
    else:
        fail(monkeypatch)  # type: ignore[operator]
    with pytest.raises((OSError, RuntimeError, ConfigError)):
        reg.publish("toy-points", weights, manifest_for(g))
    monkeypatch.undo()
    after = {p.relative_to(reg.root): p.read_bytes() for p in reg.root.rglob("*") if p.is_file()}
    assert after == before  # index.sqlite bytes included; no staging leftovers, no version 2
    assert list((reg.root / "tmp").iterdir()) == [] and reg.list() == [first] and reg.verify() == []
    assert publish(reg, catalog, seed=2)[0].version == 2


def _publish_worker(root: str, barrier: Any, results: Any) -> None:
    """One of the concurrent publishers: waits for the others, then publishes at the same moment."""
    spec = {"architecture": "toy", "data_shape": [2], "num_classes": 0,
            "generator_kwargs": {"latent_dim": 4}, "discriminator_kwargs": {}}
    manifest = {"architecture": "toy", "spec": spec, "dataset": {"name": "points"}, "steps": 1}
    weights = {"generator": {"net.weight": torch.randn(2, 4), "net.bias": torch.randn(2)}}
    reg = Registry(root)
    barrier.wait(timeout=60)
    results.put(reg.publish("shared", weights, manifest).version)


def test_concurrent_publishers_get_distinct_versions(tmp_path: Path) -> None:
    # forkserver with torch preloaded: real separate processes without four cold torch imports.
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx: Any = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["torch", "ganzoo.registry"])
    root = tmp_path / "reg"  # not created yet: the publishers also race to create the index
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_publish_worker, args=(str(root), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    versions = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert versions == [1, 2, 3, 4]
    reg = Registry(root)
    assert [r.version for r in reg.list()] == [1, 2, 3, 4] and reg.resolve("shared").version == 4
    assert reg.verify() == [] and list((root / "tmp").iterdir()) == []


# -- names and references --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "a/b", "/abs", "%2e%2e", "a\x00b", "a\\b", "x" * 65, "", "UPPER",
                                 ".hidden", "-dash", "a..b", "a b"])
def test_invalid_names_and_refs_are_refused(reg: Registry, catalog: ganzoo.Catalog, bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        reg.resolve(bad)
    assert repr(bad) in str(exc.value)
    g, _ = make_pair(catalog)
    with pytest.raises(ConfigError):
        reg.publish(bad, {"generator": g.state_dict()}, manifest_for(g))
    with pytest.raises(ConfigError):
        reg.publish("fine", {"generator": g.state_dict()}, manifest_for(g), aliases=[bad])
    assert not reg.root.exists()  # refused before anything was written


@pytest.mark.parametrize("bad", ["name:0", "name:-1", "name:x", "name:", "name@", "name@123", "a:1@b"])
def test_malformed_refs(reg: Registry, bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid"):
        reg.resolve(bad)


@pytest.mark.parametrize("good", ["dcgan-digits", "a", "_x", "v1.2", "x" * 64, "0-9_a.b"])
def test_valid_names(reg: Registry, catalog: ganzoo.Catalog, good: str) -> None:
    assert publish(reg, catalog, name=good)[0].ref == f"{good}:1"


def test_unknown_models_suggest_close_names(reg: Registry, catalog: ganzoo.Catalog) -> None:
    publish(reg, catalog, name="dcgan-digits")
    with pytest.raises(ModelNotFoundError, match=r"did you mean 'dcgan-digits'\?.*Available: dcgan-digits "
                                                 r"\(versions 1\)") as exc:
        reg.resolve("dcgan-digit")
    assert vars(exc.value)["suggestions"] == ["dcgan-digits"]
    with pytest.raises(ModelNotFoundError, match=r"no version 7.*versions 1"):
        reg.resolve("dcgan-digits:7")
    with pytest.raises(ModelNotFoundError, match="no alias 'best'"):
        load_generator("dcgan-digits@best", registry=reg, catalog=catalog)
    with pytest.raises(ModelNotFoundError, match=r"has no file 'nope\.txt'"):
        reg.file_path("dcgan-digits", "nope.txt")
    with pytest.raises(ConfigError):
        reg.file_path("dcgan-digits", "../index.sqlite")


def test_publish_validates_its_inputs(reg: Registry, catalog: ganzoo.Catalog) -> None:
    g, d = make_pair(catalog)
    good = manifest_for(g)
    sd = {"generator": g.state_dict()}
    cases: list[tuple[Any, dict[str, Any], dict[str, Any], str]] = [
        (sd, {k: v for k, v in good.items() if k != "steps"}, {}, "steps"),
        (sd, {**good, "version": 3}, {}, "written by the registry"),
        (sd, {**good, "steps": -1}, {}, "non-negative"),
        (sd, {**good, "architecture": "other"}, {}, "differs"),
        (sd, {**good, "training": object()}, {}, "JSON"),
        ({"discriminator": d.state_dict()}, good, {}, "'generator' entry"),
        ({**sd, "critic": d.state_dict()}, good, {}, "unknown weight roles"),
        (sd, good, {"extra_files": {"manifest.json": b"{}"}}, "overwrite"),
        (sd, good, {"metadata": {"ganzoo.spec": "{}"}}, "disagrees"),
        (sd, good, {"aliases": "latest"}, "list of strings"),
    ]
    for weights, manifest, kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            reg.publish("toy-points", weights, manifest, **kwargs)
    assert not reg.root.exists()
    # What ganzoo.publish passes: one metadata dict (role "generator") for every role.
    meta = weight_metadata("generator", spec_of(g), DATASET)
    record = reg.publish("toy-points", {**sd, "discriminator": d.state_dict()}, good, metadata={**meta, "k": "v"})
    assert read_metadata(record.path / "discriminator.safetensors")["ganzoo.role"] == "discriminator"
    assert read_metadata(record.path / "generator.safetensors")["k"] == "v"


# -- hostile and damaged files ---------------------------------------------------------------------


@pytest.mark.parametrize("proto", [b"", b"\x80\x02"])
def test_a_pickle_renamed_to_safetensors_is_never_executed(reg: Registry, catalog: ganzoo.Catalog, tmp_path: Path,
                                                           proto: bytes) -> None:
    sentinel = tmp_path / "pwned"
    # Protocol-0 opcodes that call builtins.open(sentinel, "w") when unpickled: creating the file proves execution.
    payload = proto + b"cbuiltins\nopen\n(S'" + str(sentinel).encode() + b"'\nS'w'\ntR."
    pickletools.dis(payload, out=io.StringIO())  # a well-formed pickle, checked without running it
    evil = tmp_path / "model.safetensors"
    evil.write_bytes(payload)
    for attempt in (lambda: load_generator(evil, catalog=catalog), lambda: read_metadata(evil),
                    lambda: load_weights(evil)):
        with pytest.raises(IntegrityError, match=r"model\.safetensors is not a safetensors file"):
            attempt()
    record, _ = publish(reg, catalog)
    shutil.copy(evil, record.path / "generator.safetensors")
    with pytest.raises(IntegrityError):
        load_generator("toy-points", registry=reg, catalog=catalog)
    zipped = tmp_path / "torch_save.safetensors"
    torch.save({"w": torch.zeros(2)}, zipped)  # a torch.save checkpoint (a zip holding a pickle)
    with pytest.raises(IntegrityError, match="not a safetensors file"):
        load_weights(zipped)
    assert not sentinel.exists()


@pytest.fixture
def valid_file(tmp_path: Path, catalog: ganzoo.Catalog) -> Path:
    g, _ = make_pair(catalog)
    path = tmp_path / "g.safetensors"
    save_weights(path, g.state_dict(), weight_metadata("generator", spec_of(g), DATASET))
    return path


def test_truncated_files_are_integrity_errors(valid_file: Path, catalog: ganzoo.Catalog) -> None:
    data = valid_file.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    for cut in sorted({0, 3, 7, 8, 9, 8 + header_len // 2, 8 + header_len - 1, 8 + header_len, 8 + header_len + 1,
                       len(data) // 2 + 4, len(data) - 1}):
        valid_file.write_bytes(data[:cut])
        for attempt in (read_metadata, load_weights, lambda p: load_generator(p, catalog=catalog)):
            with pytest.raises(IntegrityError, match=r"g\.safetensors"):
                attempt(valid_file)


def _raw(header: object, data: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("raw", [
    _raw(b"{not json"),
    _raw(b"[1, 2]"),
    _raw(b'{"a": 1, "a": 2}'),
    _raw({"__metadata__": {"k": 1}}),
    _raw({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),  # size vs shape
    _raw({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),  # a gap
    _raw({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8),  # trailing bytes
    _raw({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
    _raw({"w": {"dtype": "XX", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),  # left to safetensors
    _raw({"w": "nope"}),
    struct.pack("<Q", 2**63) + b"{}",
    b"",
], ids=lambda r: repr(r[:24]))
def test_malformed_headers_are_integrity_errors(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(IntegrityError, match=r"bad\.safetensors"):
        load_weights(path)


def test_random_corruption_only_ever_raises_integrity_error(valid_file: Path) -> None:
    data = valid_file.read_bytes()
    rng = random.Random(0)
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(min(len(data), 200))] = rng.randrange(256)  # mostly the header
        valid_file.write_bytes(bytes(damaged))
        try:
            load_weights(valid_file)
        except IntegrityError:
            pass


# -- where the registry lives ----------------------------------------------------------------------


def test_reading_a_missing_registry_lists_nothing_and_creates_nothing(tmp_path: Path,
                                                                      catalog: ganzoo.Catalog) -> None:
    reg = Registry(tmp_path / "nowhere")
    assert reg.list() == [] and reg.verify() == []
    with pytest.raises(ModelNotFoundError, match=r"Available: \(none\)"):
        reg.resolve("toy-points")
    with pytest.raises(ModelNotFoundError):
        load_generator("toy-points", registry=tmp_path / "nowhere", catalog=catalog)
    assert not reg.root.exists()
    empty = Registry(tmp_path)  # exists, but has no index yet
    assert empty.list() == [] and not (tmp_path / "index.sqlite").exists()


def test_root_comes_from_argument_then_environment_then_the_lookup(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANZOO_REGISTRY", raising=False)
    assert Registry().root == user_registry() and Registry().reason == "user data folder"  # none here or above
    monkeypatch.setenv("GANZOO_REGISTRY", str(tmp_path / "env"))
    assert Registry().root == (tmp_path / "env").resolve()
    assert Registry("explicit").root == (tmp_path / "explicit").resolve()
    assert not (tmp_path / "registry").exists()


def test_removing_an_alias_keeps_the_version_and_its_files(reg: Registry, catalog: ganzoo.Catalog) -> None:
    record, g = publish(reg, catalog, seed=0, aliases=("latest", "best"))
    kept = reg.remove_alias("toy-points@best")
    assert kept.ref == "toy-points:1" and kept.aliases == ("latest",)
    assert record.path.is_dir() and reg.verify() == []
    assert torch.equal(out(load_generator("toy-points:1", registry=reg, catalog=catalog)), out(g))
    with pytest.raises(ModelNotFoundError, match="no alias 'best'"):
        reg.resolve("toy-points@best")
    with pytest.raises(ModelNotFoundError, match="no alias 'best'"):
        reg.remove_alias("toy-points@best")
    with pytest.raises(ConfigError, match="'latest' is kept by the registry"):
        reg.remove_alias("toy-points@latest")
    with pytest.raises(ConfigError, match="not an alias reference"):
        reg.remove_alias("toy-points:1")
    assert [r.aliases for r in reg.list()] == [("latest",)]
