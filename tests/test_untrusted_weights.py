"""Weight files, specs and JSON from elsewhere: checked against the architecture before anything is built for real."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.data.loading import load_dataset
from ganzoo.errors import ConfigError, IntegrityError
from ganzoo.evaluation.metrics import frechet_distance
from ganzoo.evaluation.protocols import evaluate, evaluate_mixture
from ganzoo.fileio import load_json
from ganzoo.models import ModelSpec
from ganzoo.registry import Registry, load_generator
from ganzoo.training.runfolder import read_config_json, read_run_config
from ganzoo.weights import dataset_from_metadata, read_metadata, save_weights, weight_metadata

DEEP = 100_000  # far past the interpreter's recursion limit


def _small(catalog: ganzoo.Catalog) -> tuple[ModelSpec, ganzoo.Generator]:
    spec = catalog.resolve_spec("dcgan", (1, 8, 8), 0, base_channels=8)
    return spec, catalog.build(spec)[0]


def _write(path: Path, generator: ganzoo.Generator, spec: ModelSpec | dict, **extra: str) -> Path:
    meta = weight_metadata("generator", spec if isinstance(spec, ModelSpec) else ModelSpec.from_dict(spec),
                           {"name": "digits", "shape": [1, 8, 8], "num_classes": 10})
    meta.update(extra)
    save_weights(path, generator.state_dict(), meta)
    return path


def _lying(spec: ModelSpec, **kwargs: object) -> dict:
    d = spec.to_dict()
    d["generator_kwargs"] = {**d["generator_kwargs"], **kwargs}
    d["discriminator_kwargs"] = {**d["discriminator_kwargs"], **kwargs}
    return d


def _relabel(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite the header of a safetensors file in place (same length, so offsets stay valid)."""
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = bytes(data[8:8 + n])
    assert old in header and len(old) == len(new)
    data[8:8 + n] = header.replace(old, new)
    path.write_bytes(bytes(data))


def test_a_spec_far_larger_than_its_weights_is_refused_before_anything_is_allocated(catalog, tmp_path):
    spec, g = _small(catalog)
    # 200000 channels: building this network for real would ask for about 1.4 TB
    path = _write(tmp_path / "big.safetensors", g, _lying(spec, base_channels=200_000))
    with pytest.raises(IntegrityError) as info:
        load_generator(path, catalog=catalog)
    message = str(info.value)
    assert str(path) in message and "tensor '" in message and "should be F32 of shape" in message
    assert "\n" not in message


def test_weights_relabelled_to_another_dtype_are_refused(catalog, tmp_path):
    spec, g = _small(catalog)
    path = _write(tmp_path / "relabelled.safetensors", g, spec)
    _relabel(path, b'"dtype":"F32"', b'"dtype":"I32"')
    with pytest.raises(IntegrityError) as info:
        load_generator(path, catalog=catalog)
    message = str(info.value)
    assert str(path) in message and "F32" in message and "I32" in message
    first = next(iter(g.state_dict()))
    assert f"tensor {first!r}" in message


def test_a_shape_that_does_not_fit_names_the_tensor_and_both_shapes(catalog, tmp_path):
    spec, g = _small(catalog)
    path = _write(tmp_path / "wide.safetensors", g, _lying(spec, base_channels=16))
    with pytest.raises(IntegrityError, match=r"shape \[.*\].*shape \[.*\]"):
        load_generator(path, catalog=catalog)


@pytest.mark.parametrize("value", ["8", True, 8.5, [8], None])
def test_spec_keywords_of_the_wrong_type_are_refused(catalog, tmp_path, value):
    spec, g = _small(catalog)
    path = _write(tmp_path / "typed.safetensors", g, _lying(spec, base_channels=value))
    with pytest.raises(IntegrityError) as info:
        load_generator(path, catalog=catalog)
    message = str(info.value)
    assert str(path) in message and "base_channels" in message and "whole number" in message


def test_a_good_file_still_loads_and_builds_only_what_it_returns(catalog, tmp_path):
    spec, g = _small(catalog)
    path = _write(tmp_path / "good.safetensors", g, spec)
    loaded = load_generator(path, catalog=catalog)
    assert loaded.ganzoo_spec == spec and not loaded.training
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    state = loaded.state_dict()
    assert all(torch.equal(state[k], v) for k, v in g.state_dict().items())


def test_deeply_nested_json_in_a_header_is_an_integrity_error(catalog, tmp_path):
    spec, g = _small(catalog)
    path = _write(tmp_path / "deep-spec.safetensors", g, spec, **{"ganzoo.spec": "[" * DEEP + "]" * DEEP})
    with pytest.raises(IntegrityError, match=r"ganzoo\.spec"):
        load_generator(path, catalog=catalog)
    raw = tmp_path / "deep-header.safetensors"
    header = b'{"x":' + b"[" * DEEP + b"]" * DEEP + b"}"
    raw.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(IntegrityError, match=r"deep-header\.safetensors"):
        read_metadata(raw)


def test_the_dataset_record_of_a_header_is_parsed_as_untrusted_json(tmp_path):
    assert dataset_from_metadata({"ganzoo.dataset": '{"name": "digits"}'}, "x.safetensors") == {"name": "digits"}
    assert dataset_from_metadata({}, "x.safetensors") == {}
    for bad in ("[" * DEEP, '"digits"'):
        with pytest.raises(IntegrityError, match=r"ganzoo\.dataset"):
            dataset_from_metadata({"ganzoo.dataset": bad}, "x.safetensors")


def test_json_nested_past_the_limit_is_refused_even_when_python_could_parse_it():
    assert load_json('{"a": [[1]]}', "x.json", ConfigError) == {"a": [[1]]}
    with pytest.raises(ConfigError, match=r"x\.json .*nested"):
        load_json("[" * 500 + "]" * 500, "x.json", ConfigError)
    for bad in (b"\xff", "{", "[" * DEEP):
        with pytest.raises(IntegrityError, match=r"^y\.json "):
            load_json(bad, "y.json", IntegrityError)


def test_a_deeply_nested_manifest_is_reported_by_verify_not_a_crash(tmp_path):
    root = tmp_path / "registry"
    reg = Registry(root)
    spec = ganzoo.load_catalog().resolve_spec("gan", (2,), 0, hidden=8, depth=1)
    g, _ = ganzoo.load_catalog().build(spec)
    reg.publish("tiny", {"generator": g.state_dict()},
                {"architecture": "gan", "spec": spec.to_dict(), "dataset": {"name": "ring8"}, "steps": 1})
    manifest = root / "models" / "tiny" / "1" / "manifest.json"
    manifest.write_text("[" * DEEP + "]" * DEEP)
    problems = reg.verify()
    assert any("manifest.json" in p for p in problems), problems
    with pytest.raises(IntegrityError, match=r"manifest\.json"):
        load_generator("tiny", registry=reg)


def test_a_deeply_nested_run_config_is_a_config_error(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    (tmp_path / "config.json").write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(ConfigError, match=r"config\.json"):
        read_run_config(tmp_path)
    assert read_config_json(tmp_path) is None
    (tmp_path / "config.json").write_text(json.dumps({"steps": 2}))
    assert read_config_json(tmp_path) == {"steps": 2}


def _nan(generator: ganzoo.Generator) -> ganzoo.Generator:
    with torch.no_grad():
        for p in generator.parameters():
            p.fill_(float("nan"))
    return generator


def test_non_finite_samples_are_refused_before_any_metric(catalog, tmp_path):
    spec = catalog.resolve_spec("gan", (2,), 0, hidden=8, depth=1)
    g = _nan(catalog.build(spec)[0])
    with pytest.raises(IntegrityError, match="non-finite"):
        evaluate_mixture(g, "ring8", samples=100)
    images, _ = _small(catalog)
    digits = load_dataset("digits")
    with pytest.raises(IntegrityError, match=r"the dcgan generator .*non-finite"):
        evaluate(_nan(catalog.build(images)[0]), digits, samples=50, cache=tmp_path)
    assert not (tmp_path / "classifiers").exists()  # refused before the classifier was trained


def test_the_frechet_distance_refuses_non_finite_features():
    with pytest.raises(ValueError, match="not finite"):
        frechet_distance(torch.randn(50, 4), torch.full((50, 4), float("nan")))


def weight_file_setup(kind: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """A setup for tests/test_errors.py: writes ``<kind>.safetensors``, a small dcgan generator file with one
    thing wrong, into the working folder (kinds: oversized, relabelled, mistyped, nested, non-finite)."""

    def setup(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
        catalog = ganzoo.load_catalog()
        spec, g = _small(catalog)
        path = cwd / f"{kind}.safetensors"
        if kind == "oversized":
            _write(path, g, _lying(spec, base_channels=200_000))
        elif kind == "relabelled":
            _relabel(_write(path, g, spec), b'"dtype":"F32"', b'"dtype":"I32"')
        elif kind == "mistyped":
            _write(path, g, _lying(spec, base_channels="8"))
        elif kind == "nested":
            _write(path, g, spec, **{"ganzoo.spec": "[" * DEEP + "]" * DEEP})
        elif kind == "non-finite":
            _write(path, _nan(g), spec)
        else:
            raise ValueError(kind)

    return setup


def nested_run_setup(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    """A setup for tests/test_errors.py: a run folder ``run`` whose config.json is nested past any sense."""
    (cwd / "run").mkdir()
    (cwd / "run" / "checkpoint.pt").write_bytes(b"")
    (cwd / "run" / "config.json").write_text("[" * DEEP + "]" * DEEP)
