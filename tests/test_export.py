"""``ganzoo models export --format onnx|torchscript``: generators that run without ganzoo, and the model card's
front matter (license, datasets, tags, model-index)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import ganzoo
from ganzoo.cli.models import EXPORT_FORMATS
from ganzoo.registry import Registry, export_generator, export_model, import_model
from ganzoo.registry import deploy as deploy_module
from ganzoo.registry.transfer import FORMATS

# name -> what it is: an unconditional image model, a conditional one, a 2-D MLP (evaluated)
MODELS = {"images": (1, 8, 8), "cond": (1, 8, 8), "ring": (2,)}


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("export-registry"))
    ganzoo.publish(ganzoo.train("dcgan", "digits", steps=3, batch_size=16, model={"base_channels": 8}),
                   name="images", registry=root)
    ganzoo.publish(ganzoo.train("cdcgan", "digits", steps=3, batch_size=16, model={"base_channels": 8}),
                   name="cond", registry=root)
    ganzoo.publish(ganzoo.train("gan", "ring8", steps=3, batch_size=32), name="ring", registry=root)
    ganzoo.evaluate("ring", registry=root)  # stores metrics.mixture with the version
    return root


@pytest.fixture
def run(stored, cli_run, monkeypatch):
    """The shared ``cli_run``, against the registry that holds the stored models."""
    monkeypatch.setenv("GANZOO_REGISTRY", stored)
    return cli_run


def fixed_inputs(name: str, stored: str, n: int = 5) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = ganzoo.load(name, registry=stored)
    z = torch.randn(n, g.latent_dim, generator=torch.Generator().manual_seed(7))
    return z, (torch.arange(n) % g.num_classes if g.num_classes else None)


@torch.no_grad()
def expected(name: str, stored: str, z: torch.Tensor, labels: torch.Tensor | None, ema: bool = True) -> np.ndarray:
    """What ganzoo's own generator draws for these latents (eval mode, the weights `ganzoo sample` uses)."""
    g = ganzoo.load(name, registry=stored, ema=ema)
    return g(z, labels).float().numpy()


def python_block(readme: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) == 1, readme
    return blocks[0]


def run_without_ganzoo(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter that cannot see this checkout (-I: no cwd, no PYTHONPATH, no user site)."""
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


# -- ONNX -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_export_runs_in_onnxruntime_like_ganzoo(run, tmp_path, stored, name):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'ganzoo[onnx]')")
    assert f"Exported {name} to out (onnx)" in run("models", "export", name, "out", "--format", "onnx").output
    folder = tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "generator.onnx"]
    session = ort.InferenceSession(str(folder / "generator.onnx"), providers=["CPUExecutionProvider"])
    conditional = name == "cond"
    assert [i.name for i in session.get_inputs()] == (["z", "label"] if conditional else ["z"])
    assert [i.type for i in session.get_inputs()] == (["tensor(float)", "tensor(int64)"] if conditional
                                                       else ["tensor(float)"])
    assert [o.name for o in session.get_outputs()] == ["samples"]
    for n in (1, 5, 33):  # the batch dimension is free
        z, labels = fixed_inputs(name, stored, n)
        feed = {"z": z.numpy(), **({"label": labels.numpy()} if labels is not None else {})}
        got = session.run(["samples"], feed)[0]
        assert got.shape == (n, *MODELS[name]) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected(name, stored, z, labels), atol=1e-4, rtol=0)
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "ganzoo.onnx/1" and config["source"]["ref"] == f"{name}:1"
    assert config["interface"]["inputs"][0] == {"name": "z", "dtype": "float32", "shape": ["N", 100],
                                                "distribution": "standard normal"}
    assert config["files"]["generator.onnx"]["size"] == (folder / "generator.onnx").stat().st_size


def test_the_onnx_readme_runs_as_written_with_onnxruntime_alone(run, tmp_path, stored):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'ganzoo[onnx]')")
    run("models", "export", "cond", "out", "--format", "onnx")
    readme = (tmp_path / "out" / "README.md").read_text()
    for text in ("| z | float32 | \\[N, 100\\] |", "standard normal", "| label | int64 | \\[N\\] |",
                 "from 0 to 9", "values in \\[-1, 1\\]", "channels first (N, C, H, W)", "opset 18"):
        assert text in readme, text
    code = python_block(readme) + textwrap.dedent("""
        import sys
        assert "ganzoo" not in sys.modules and "torch" not in sys.modules, sorted(sys.modules)
        np.save("drawn.npy", samples)
        np.save("z.npy", z)
    """)
    run_without_ganzoo(code, tmp_path / "out")
    drawn, z = np.load(tmp_path / "out" / "drawn.npy"), np.load(tmp_path / "out" / "z.npy")
    assert drawn.shape == (16, 1, 8, 8) and drawn.min() >= -1 and drawn.max() <= 1
    want = expected("cond", stored, torch.from_numpy(z), torch.arange(16) % 10)
    np.testing.assert_allclose(drawn, want, atol=1e-4, rtol=0)


# -- TorchScript ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_torchscript_export_runs_in_torch_without_ganzoo(run, tmp_path, stored, name):
    out = run("models", "export", name, "ts", "--format", "torchscript").output
    assert f"Exported {name} to ts (torchscript)" in out
    folder = tmp_path / "ts"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "generator.pt"]
    z, labels = fixed_inputs(name, stored, 6)
    np.save(folder / "z.npy", z.numpy())
    if labels is not None:
        np.save(folder / "labels.npy", labels.numpy())
    readme = (folder / "README.md").read_text()
    code = python_block(readme) + textwrap.dedent("""
        import sys
        import numpy as np
        assert "ganzoo" not in sys.modules, [m for m in sys.modules if "ganzoo" in m]
        assert tuple(samples.shape[1:]) == tuple(SHAPE), samples.shape
        z = torch.from_numpy(np.load("z.npy"))
        with torch.no_grad():
            out = generator(z, torch.from_numpy(np.load("labels.npy"))) if CONDITIONAL else generator(z)
        np.save("out.npy", out.numpy())
        one = generator(z[:1], torch.from_numpy(np.load("labels.npy"))[:1]) if CONDITIONAL else generator(z[:1])
        np.save("one.npy", one.detach().numpy())
    """).replace("SHAPE", repr(MODELS[name])).replace("CONDITIONAL", repr(labels is not None))
    run_without_ganzoo(code, folder)
    want = expected(name, stored, z, labels)
    np.testing.assert_allclose(np.load(folder / "out.npy"), want, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.load(folder / "one.npy"), want[:1], atol=1e-4, rtol=0)
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "ganzoo.torchscript/1"
    assert config["interface"]["weights"] == "generator_ema" and config["interface"]["mode"] == "eval"


_CATALOG = ganzoo.load_catalog()


def _small(arch: str, classes: int) -> tuple[ganzoo.ModelSpec, ganzoo.Generator, tuple[int, ...]] | None:
    """A small build of ``arch``: 1x8x8 images if it takes them, else 2-D points; narrow where it has the option."""
    for shape in ((1, 8, 8), (2,)):
        for overrides in ({"base_channels": 8}, {"hidden": 32}, {}):
            try:
                spec = _CATALOG.resolve_spec(arch, shape, classes, **overrides)
                return spec, _CATALOG.build(spec)[0], shape
            except ganzoo.ShapeMismatchError:
                break
            except ganzoo.ConfigError:  # no such option: the next
                continue
    return None


@pytest.mark.parametrize("arch", sorted(_CATALOG.architectures))
def test_every_registered_architecture_exports_to_both_formats(arch, tmp_path):
    """Each export checks itself at batch sizes it was not made with (1 and 3) against ganzoo's own output."""
    classes = 10 if _CATALOG.architecture(arch).conditional else 0
    found = _small(arch, classes)
    if found is None:
        pytest.skip(f"{arch} builds for neither 1x8x8 images nor 2-D points")
    spec, g, shape = found
    Registry(tmp_path / "reg").publish("m", {"generator": g.state_dict()}, {
        "architecture": arch, "spec": spec.to_dict(), "steps": 0,
        "dataset": {"name": "digits" if len(shape) == 3 else "ring8", "shape": list(shape), "num_classes": classes}})
    formats = ["torchscript"]
    if importlib.util.find_spec("onnxruntime") is not None:  # else the onnx extra is not installed
        formats.append("onnx")
    for fmt in formats:
        folder = export_generator("m", tmp_path / fmt, format=fmt, registry=tmp_path / "reg")
        interface = json.loads((folder / "config.json").read_text())["interface"]
        assert interface["output"]["shape"] == ["N", *shape] and interface["weights"] == "generator"
        assert [i["name"] for i in interface["inputs"]] == (["z", "label"] if classes else ["z"])


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_the_exported_weights_are_the_ones_ganzoo_sample_uses(run, tmp_path, stored):
    """The moving average when it is stored, not the raw generator: the two draw differently."""
    run("models", "export", "images", "ts", "--format", "torchscript")
    traced = torch.jit.load(str(tmp_path / "ts" / "generator.pt"))
    z, _ = fixed_inputs("images", stored, 8)
    with torch.no_grad():
        got = traced(z).numpy()
    ema, raw = expected("images", stored, z, None), expected("images", stored, z, None, ema=False)
    assert np.abs(ema - raw).max() > 1e-3  # else this test could not tell them apart
    np.testing.assert_allclose(got, ema, atol=1e-4, rtol=0)
    assert "moving-average (EMA) weights" in (tmp_path / "ts" / "README.md").read_text()


def test_the_python_api_writes_the_same_folder(stored, tmp_path):
    path = export_generator("ring", tmp_path / "api", format="torchscript", registry=stored, license="MIT")
    assert path == tmp_path / "api" and (path / "generator.pt").is_file()
    assert json.loads((path / "config.json").read_text())["license"] == "mit"
    with pytest.raises(ganzoo.ConfigError, match=r"unknown generator format 'ganzoo'.*export_model"):
        export_generator("ring", tmp_path / "other", format="ganzoo", registry=stored)


def test_a_generator_that_bakes_its_batch_size_is_refused_not_written(run, tmp_path, stored, monkeypatch):
    """A network whose traced graph only works for the example batch: the check at other sizes catches it."""
    g = ganzoo.load("ring", registry=stored)

    class Baked(type(g)):  # type: ignore[misc]
        def forward(self, z, labels=None):
            return super().forward(z, labels) * torch.ones(int(z.shape[0]), 1)  # int(): a constant when traced

    g.__class__ = Baked
    monkeypatch.setattr(deploy_module, "load_generator", lambda *args, **kwargs: g)
    result = run("models", "export", "ring", "ts", "--format", "torchscript", code=1)
    assert "Error: the exported TorchScript module" in result.output and "batch of 1" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "ts").exists() and [p.name for p in tmp_path.iterdir() if "ts" in p.name] == []


# -- mistakes ---------------------------------------------------------------------------------------------


def test_export_mistakes_are_one_line_and_write_nothing(run, tmp_path, monkeypatch):
    result = run("models", "export", "ring", "x", "--format", "tflite", code=2)
    assert "Invalid value for '--format': 'tflite' is not one of 'ganzoo', 'onnx', 'torchscript'" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    for fmt in FORMATS:
        result = run("models", "export", "ring", "full", "--format", fmt, code=1)
        assert "full already exists and is not an empty folder; export into a new folder" in result.output
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    result = run("models", "export", "ring", "x", "--license", "my own", code=1)
    assert "invalid license 'my own'" in result.output and "mit, apache-2.0" in result.output
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if it were not installed
    result = run("models", "export", "ring", "x", "--format", "onnx", code=1)
    assert "onnxruntime is not installed): pip install 'ganzoo[onnx]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_importing_a_generator_export_says_what_it_is(run, tmp_path):
    run("models", "export", "ring", "ts", "--format", "torchscript")
    result = run("models", "import", "ts", "--registry", "fresh", code=1)
    assert "holds the generator alone, exported with --format torchscript" in result.output
    assert "Import a folder exported with --format ganzoo" in result.output
    assert Registry(tmp_path / "fresh").list() == []


def test_the_cli_offers_every_format_the_library_writes():
    assert EXPORT_FORMATS == FORMATS


# -- the model card's front matter ------------------------------------------------------------------------


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, flags=re.DOTALL)
    assert match, card[:200]
    return yaml.safe_load(match.group(1))


def test_the_front_matter_holds_license_dataset_tags_and_the_stored_metrics(run, tmp_path, stored):
    run("models", "export", "ring", "out", "--license", "Apache-2.0")
    card = (tmp_path / "out" / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "ganzoo" and meta["license"] == "apache-2.0"
    assert meta["datasets"] == ["ring8"]
    assert {"gan", "non-saturating", "unconditional"} <= set(meta["tags"]) and "image-generation" not in meta["tags"]
    assert "License: apache-2.0." in card
    stored_metrics = Registry(stored).manifest("ring")["metrics"]["mixture"]
    [entry] = meta["model-index"]
    assert entry["name"] == "ring"
    [result] = entry["results"]
    assert result["dataset"] == {"name": "ring8", "type": "ring8", "split": "train"}
    assert result["task"]["type"]
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    assert metrics == {k: stored_metrics[k] for k in ("modes_covered", "high_quality", "reverse_kl")}
    assert all(m["name"] == f"mixture {m['type']}" for m in result["metrics"])
    # the license travels in config.json: an import, then an export without --license, keeps it
    assert json.loads((tmp_path / "out" / "config.json").read_text())["license"] == "apache-2.0"
    run("models", "import", "out", "--registry", "fresh")
    run("models", "export", "ring", "again", "--registry", "fresh")
    assert front_matter((tmp_path / "again" / "README.md").read_text())["license"] == "apache-2.0"


def test_a_card_without_a_license_or_metrics_says_so(run, tmp_path):
    run("models", "export", "cond", "out")
    card = (tmp_path / "out" / "README.md").read_text()
    meta = front_matter(card)
    assert meta["license"] == "other" and "License: not stated" in card
    assert {"cdcgan", "conditional", "image-generation"} <= set(meta["tags"]) and "unconditional" not in meta["tags"]
    assert "model-index" not in meta and "pipeline_tag" not in meta
    assert "Not evaluated yet" in card
    use = card[card.index("## Use"):card.index("## Files")]
    assert "needs ganzoo and the plugin that builds the cdcgan architecture (cgan, built into ganzoo)" in use
    assert "--format onnx" in use and "needs only onnxruntime" in use and "needs only PyTorch" in use
    run("models", "export", "images", "img")
    meta = front_matter((tmp_path / "img" / "README.md").read_text())
    assert meta["pipeline_tag"] == "unconditional-image-generation"


def test_config_values_cannot_break_out_of_the_front_matter(stored, tmp_path):
    folder = export_model("ring", tmp_path / "out", registry=stored)
    config = json.loads((folder / "config.json").read_text())
    hostile = 'x"\n---\nlicense: mit\n<script>alert(1)</script> & \u2028 \\'
    config["dataset"]["name"] = hostile
    config["license"] = "mit\nevil: 1"  # not a license identifier: stated as none
    config["training"]["loss"] = hostile
    config["metrics"] = {hostile: {"fd": 1e-05, "n": 3, "flag": True, "bad": None, "protocol": {"kind": hostile}}}
    (folder / "config.json").write_text(json.dumps(config))
    record = import_model(folder, registry=tmp_path / "fresh")
    card = (export_model(record.ref, tmp_path / "again", registry=tmp_path / "fresh") / "README.md").read_text()
    assert "<script" not in card
    meta = front_matter(card)
    assert set(meta) == {"library_name", "license", "datasets", "tags", "model-index"}
    assert meta["license"] == "other"
    assert meta["datasets"] == [" ".join(hostile.split())]  # the text itself, on one line
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9_-]*", t) for t in meta["tags"])
    [result] = meta["model-index"][0]["results"]
    assert result["metrics"] == [{"type": "fd", "value": 1e-05, "name": f"{' '.join(hostile.split())} fd"},
                                 {"type": "n", "value": 3, "name": f"{' '.join(hostile.split())} n"}]


def error_setup(kind: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """A setup for tests/test_errors.py, in the working folder (kinds: full-folder, no-onnx, generator-export)."""

    def setup(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
        if kind == "full-folder":
            (cwd / "full").mkdir()
            (cwd / "full" / "keep.txt").write_text("mine")
        elif kind == "no-onnx":
            monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if it were not installed
        elif kind == "generator-export":  # what --format torchscript writes, as far as import reads it
            (cwd / "gen").mkdir()
            (cwd / "gen" / "config.json").write_text(json.dumps({"format": "ganzoo.torchscript/1", "files": {}}))
        else:
            raise ValueError(kind)

    return setup
