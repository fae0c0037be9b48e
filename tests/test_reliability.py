"""Stored models survive corruption, fuzzing, killed publishers and concurrent writers."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ganzoo
from ganzoo.errors import IntegrityError
from ganzoo.registry import Registry, load_generator
from ganzoo.weights import decode_weights

# A publisher in its own process: a small built-in `gan`, published under one name.
PUBLISHER = textwrap.dedent("""
    import sys, time, torch, ganzoo
    from ganzoo.registry import Registry
    root, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.manual_seed(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    g, d = ganzoo.create("gan", data_shape=(2,), hidden=16, depth=1)
    manifest = {"architecture": "gan", "spec": g.ganzoo_spec.to_dict(), "dataset": {"name": "ring8"}, "steps": 1}
    weights = {"generator": g.state_dict(), "discriminator": d.state_dict()}
    reg = Registry(root)
    if mode == "once":
        go = sys.argv[5]
        while not __import__("os").path.exists(go):  # start together: a real race
            time.sleep(0.005)
        print(reg.publish(name, weights, manifest).version, flush=True)
    else:
        while True:
            print(reg.publish(name, weights, manifest).version, flush=True)
""")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, *args], stdout=subprocess.PIPE, text=True)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Registry, ganzoo.ModelRecord]:
    reg = Registry(tmp_path / "reg")
    result = ganzoo.train("gan", "ring8", steps=2, batch_size=16, model={"hidden": 16, "depth": 1}, ema=0)
    return reg, ganzoo.publish(result, registry=reg)


def _variants(data: bytes) -> list[tuple[str, bytes]]:
    rng = random.Random(0)
    out = [(f"truncated at {n}", data[:n]) for n in sorted({0, 1, 7, 8, 9, 64, len(data) // 2, len(data) - 1,
                                                             *rng.sample(range(len(data)), 12)})]
    out += [(f"padded by {n}", data + b"\0" * n) for n in (1, 8, 4096)]
    header_len = int.from_bytes(data[:8], "little")
    out.append(("header length tampered", (header_len + 1).to_bytes(8, "little") + data[8:]))
    header = data[8:8 + header_len].replace(b"F32", b"F16")
    out.append(("header JSON tampered", data[:8] + header + data[8 + header_len:]))
    for _ in range(40):
        pos = rng.randrange(len(data))
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        out.append((f"bit flipped at {pos}", bytes(flipped)))
    return out


def test_every_corrupt_variant_is_refused_and_nothing_else_changes(stored):
    reg, record = stored
    path = record.path / "generator.safetensors"
    original = path.read_bytes()
    index_before = (reg.root / "index.sqlite").read_bytes()
    variants = _variants(original)
    assert len(variants) >= 60
    for what, data in variants:
        path.write_bytes(data)
        with pytest.raises(IntegrityError) as err:
            load_generator(record.ref, registry=reg, ema=False)
        message = str(err.value)
        assert "generator.safetensors" in message, what
        assert "expected" in message and "got" in message, (what, message)  # size or sha256: expected vs got
        problems = reg.verify()
        assert len(problems) == 1 and "generator.safetensors" in problems[0], (what, problems)
    assert (reg.root / "index.sqlite").read_bytes() == index_before
    path.write_bytes(original)
    assert reg.verify() == []
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    assert load_generator(record.ref, registry=reg, ema=False)(z).shape == (4, 2)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_byte_string_is_a_model_or_an_integrity_error(data):
    try:
        meta, tensors = decode_weights(data, "fuzz.safetensors")
    except IntegrityError:
        return
    assert isinstance(meta, dict) and all(isinstance(t, torch.Tensor) for t in tensors.values())


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutations_of_a_real_file_are_a_model_or_an_integrity_error(data, tmp_path_factory):
    g, _ = ganzoo.create("gan", data_shape=(2,), hidden=4, depth=1)
    path = tmp_path_factory.mktemp("fuzz") / "g.safetensors"
    from ganzoo.weights import save_weights, weight_metadata

    save_weights(path, g.state_dict(), weight_metadata("generator", g.ganzoo_spec, {"name": "ring8"}))
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
    try:
        loaded = load_generator(path)
    except IntegrityError:
        return
    assert isinstance(loaded, ganzoo.Generator)


def test_publishers_killed_at_random_points_leave_whole_versions_or_nothing(tmp_path):
    root = tmp_path / "reg"
    rng = random.Random(1)
    kills = 8
    for i in range(kills):
        proc = _spawn(str(root), "killed", "loop")
        assert proc.stdout is not None
        proc.stdout.readline()  # one publish done: the process is warm and mid-loop
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reg = Registry(root)
        versions = [r.version for r in reg.list()]
        assert versions == list(range(1, len(versions) + 1)), (i, versions)
        for r in reg.list():  # every indexed version is whole and loads
            load_generator(r.ref, registry=reg)
        problems = reg.verify()
        assert all("orphan version folder" in p for p in problems), problems  # at most the in-flight folder
    final = _spawn(str(root), "killed", "once", "0", str(tmp_path / "go-now"))
    (tmp_path / "go-now").touch()
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0
    reg = Registry(root)
    assert reg.verify() == []  # the next publish cleaned up after the killed ones
    assert reg.resolve("killed").version == int(out.strip())


def test_eight_concurrent_publishers_get_eight_versions(tmp_path):
    root, go = tmp_path / "reg", tmp_path / "go"
    procs = [_spawn(str(root), "shared", "once", str(i), str(go)) for i in range(8)]
    time.sleep(3)  # let them import and wait at the starting line
    go.touch()
    versions = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        versions.append(int(out.strip()))
    assert sorted(versions) == list(range(1, 9))
    reg = Registry(root)
    assert [r.version for r in reg.list()] == list(range(1, 9))
    assert reg.verify() == []
    assert (root / "tmp").is_dir(), "the publishes staged nowhere"  # they stage in tmp/, then rename out
    assert list((root / "tmp").iterdir()) == []  # and leave nothing behind
    first = load_generator("shared:1", registry=reg)
    assert isinstance(first, ganzoo.Generator)


def test_models_and_index_survive_a_sigkilled_training_run(tmp_path):
    # a model stored before is never touched by a later run that dies
    env = {**os.environ, "GANZOO_REGISTRY": str(tmp_path / "reg")}
    subprocess.run([sys.executable, "-m", "ganzoo", "train", "gan", "--dataset", "ring8", "--steps", "3"],
                   env=env, cwd=tmp_path, check=True, capture_output=True)
    before = _snapshot(tmp_path / "reg")
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "train", "gan", "--dataset", "ring8", "--steps",
                             "100000"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _snapshot(tmp_path / "reg") == before


def test_models_verify_exits_non_zero_and_names_each_problem(stored, tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    reg, record = stored
    (record.path / "samples.png").unlink()  # missing
    (record.path / "stray.bin").write_bytes(b"x")  # extra
    with open(record.path / "discriminator.safetensors", "ab") as f:  # mismatched
        f.write(b"\0")
    result = CliRunner().invoke(cli, ["models", "verify", "--registry", str(reg.root)])
    assert result.exit_code == 1
    for name in ("samples.png", "stray.bin", "discriminator.safetensors"):
        assert name in result.output, result.output
