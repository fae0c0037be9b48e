"""Every known user mistake (docs/errors.md): one clear line, a non-zero exit, no traceback, nothing stored changed."""

from __future__ import annotations

import errno
import re
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import safetensors.torch
import test_export as export_tests
import test_untrusted_import as untrusted_import
import test_untrusted_weights as untrusted_weights
import torch
from click.testing import CliRunner
from conftest import make_distribution
from PIL import Image

import ganzoo.registry.store
from ganzoo.cli import cli

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
FAST = ["--steps", "2", "--batch-size", "16", "-o", "base_channels=8"]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _denied(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")


def _misspelt_plugin_hook(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    source = "import ganzoo\n@ganzoo.hookimpl\ndef register_architecure(register):\n    pass\n"
    monkeypatch.syspath_prepend(str(make_distribution(cwd / "site", "ganzoo-typo", {"ganzoo_typo": source},
                                                      {"typo": "ganzoo_typo"})))
    monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")


def _offline(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _denied)
    monkeypatch.setattr(socket.socket, "connect", _denied)


def _unlabelled_folder(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    for i in range(4):
        (cwd / "images").mkdir(exist_ok=True)
        Image.new("L", (8, 8), i * 40).save(cwd / "images" / f"{i}.png")


def _a_file(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd / "afile").write_text("not a folder")


def _empty_folder(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd / "empty").mkdir()


def _link_to_a_folder(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd / "elsewhere").mkdir()
    (cwd / "link").symlink_to(cwd / "elsewhere", target_is_directory=True)


def _empty_cache(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    monkeypatch.setenv("GANZOO_CACHE", str(cwd / "cache"))


def _cache_is_a_file(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd / "notes.txt").write_text("not a folder")
    monkeypatch.setenv("GANZOO_CACHE", str(cwd / "notes.txt"))


def _busy_folder(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd / "busy").mkdir()
    (cwd / "busy" / "notes.txt").write_text("not a registry")


def _patch(target: object, name: str, fn: Callable[..., object]) -> Callable[[pytest.MonkeyPatch, Path], None]:
    return lambda monkeypatch, cwd: monkeypatch.setattr(target, name, fn)


@dataclass(frozen=True)
class Row:
    id: str  # the row's name in docs/errors.md
    args: list[str]
    says: str  # a fragment of the one error line
    code: int = 1  # 2 for usage errors click catches while parsing
    setup: Callable[[pytest.MonkeyPatch, Path], None] | None = field(default=None, compare=False)


def _strict_plugin(module: str, source: str, entry_point: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    """A third-party distribution holding ``source`` as ``module``, installed with GANZOO_STRICT_PLUGINS=1."""
    def setup(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
        root = make_distribution(cwd / "site", f"ganzoo-{entry_point}", {module: source}, {entry_point: module})
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")
        monkeypatch.delitem(sys.modules, module, raising=False)

    return setup


def _a_run(cwd: Path) -> None:
    """A finished run folder ``run`` (nothing published)."""
    result = CliRunner().invoke(cli, ["train", "dcgan", *FAST, "--run-dir", str(cwd / "run"), "--no-publish",
                                      "--out", str(cwd / "grid.png")], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _damaged_index(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    (cwd.parent / "registry" / "index.sqlite").write_bytes(b"not an SQLite database " * 100)


def _tmp_links_outside(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    tmp = cwd.parent / "registry" / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (cwd / "outside").mkdir()
    tmp.symlink_to(cwd / "outside", target_is_directory=True)


_MISSPELT_TRAIN_DEFAULT = ("import ganzoo\nfrom ganzoo_gan import MLPDiscriminator, MLPGenerator\n"
                           "@ganzoo.hookimpl\ndef register_architectures(register):\n"
                           "    register(ganzoo.Architecture('toy', MLPGenerator, MLPDiscriminator,\n"
                           "                                 train_defaults={'d_step': 5}))\n")
_TAKES_DCGAN = ("import ganzoo, ganzoo_gan\n@ganzoo.hookimpl\ndef register_architectures(register):\n"
                "    register(ganzoo.Architecture('dcgan', ganzoo_gan.MLPGenerator, ganzoo_gan.MLPDiscriminator))\n")


ROWS = [
    # names
    Row("unknown-architecture", ["train", "dcgna"], "did you mean 'dcgan'"),
    Row("unknown-loss", ["train", "dcgan", "--loss", "hingee"], "did you mean 'hinge'"),
    Row("misspelt-plugin-hook", ["list"], "implements 'register_architecure' (did you mean 'register_architectures'?)",
        setup=_misspelt_plugin_hook),
    Row("unknown-dataset", ["train", "dcgan", "--dataset", "digitz"], "did you mean 'digits'"),
    Row("unknown-model-option", ["train", "dcgan", "-o", "base_chanels=8"], "has no option 'base_chanels'"),
    Row("malformed-model-option", ["train", "dcgan", "-o", "base_channels"], "must look like KEY=VALUE"),
    Row("unknown-device", ["train", "dcgan", "--device", "tpu"], "unknown device 'tpu'"),
    Row("missing-architecture", ["train"], "missing argument ARCHITECTURE", code=2),
    # data and architecture that do not fit
    Row("impossible-image-size", ["train", "dcgan", "--image-size", "5", *FAST], "cannot build for image size 5"),
    Row("pinned-image-size", ["train", "dcgan", *FAST, "-o", "image_size=16"], "Pass --image-size 16"),
    Row("resnet-d-channels", ["train", "resnet", *FAST, "-o", "d_channels=0"],
        "resnet: d_channels must be a positive integer (D's width) or null"),
    Row("conditional-on-unlabelled", ["train", "cgan", "--dataset", "folder", "--data-dir", "images", "--steps", "2",
                                      "--batch-size", "2"], "is conditional: it needs labelled data",
        setup=_unlabelled_folder),
    Row("batch-larger-than-dataset", ["train", "dcgan", "--batch-size", "5000"], "pass --batch-size 1797 or less"),
    Row("label-out-of-range", ["sample", "cgan-digits", "--label", "12"], "label 12 is out of range"),
    Row("label-on-unconditional", ["sample", "dcgan-digits", "--label", "3"], "this model is unconditional"),
    # numbers
    Row("zero-steps", ["train", "dcgan", "--steps", "0"], "steps must be a positive integer"),
    Row("negative-batch-size", ["train", "dcgan", "--batch-size", "-1"], "batch_size must be a positive integer"),
    Row("batch-size-one", ["train", "dcgan", "--batch-size", "1"], "batch_size must be at least 2"),
    Row("zero-d-steps", ["train", "dcgan", "--d-steps", "0"], "d_steps must be a positive integer"),
    Row("zero-learning-rate", ["train", "dcgan", "--lr-g", "0"], "lr_g must be a positive number"),
    Row("betas-out-of-range", ["train", "dcgan", "--betas", "1.5", "0.9"], "betas must be two numbers in [0, 1)"),
    Row("ema-out-of-range", ["train", "dcgan", "--ema", "1"], "ema must be in [0, 1)"),
    Row("zero-image-size", ["train", "dcgan", "--image-size", "0"], "image_size must be a positive integer"),
    Row("zero-log-every", ["train", "dcgan", "--log-every", "0"], "log_every must be a positive integer"),
    Row("negative-checkpoint-every", ["train", "dcgan", "--checkpoint-every", "-1"],
        "checkpoint_every must be 0 or a positive integer"),
    Row("unknown-nan-check", ["train", "dcgan", "--nan-check", "later"], "'later' is not one of", code=2),
    Row("cuda-graphs-without-cuda", ["train", "dcgan", *FAST, "--device", "cpu", "--cuda-graphs"],
        "--cuda-graphs needs a CUDA device, but this run trains on cpu"),
    Row("cuda-graphs-with-compile", ["train", "dcgan", "--cuda-graphs", "--compile"],
        "cuda_graphs cannot be combined with compile"),
    Row("cuda-graphs-with-eager-checks", ["train", "dcgan", "--cuda-graphs", "--nan-check", "eager"],
        "cuda_graphs needs the NaN checks on the device"),
    Row("cuda-graphs-with-augment", ["train", "dcgan", "--cuda-graphs", "--augment", "ada"],
        "cuda_graphs cannot be combined with augment"),
    Row("cuda-graphs-several-processes", ["train", "dcgan", "--cuda-graphs", "--nproc", "2"],
        "--cuda-graphs trains in one process"),
    Row("one-gpu-several-processes", ["train", "dcgan", "--device", "cuda:0", "--nproc", "2"],
        "--device cuda:0 names one GPU, but this run has 2 processes"),
    Row("zero-samples", ["sample", "dcgan-digits", "-n", "0"], "number of samples must be a positive integer"),
    # the registry
    Row("bad-model-name", ["train", "dcgan", "--name", "../x"], "invalid model name '../x'"),
    Row("unknown-model", ["sample", "dcgan-digitz"], "no model 'dcgan-digitz'"),
    Row("unknown-version", ["sample", "dcgan-digits:9"], "has no version 9"),
    Row("unknown-alias", ["sample", "dcgan-digits@best"], "has no alias 'best'"),
    Row("bad-alias", ["models", "alias", "dcgan-digits:1", "my best"], "invalid alias 'my best'"),
    Row("remove-unknown-model", ["models", "rm", "dcgan-digitz", "--yes"], "no model 'dcgan-digitz'"),
    Row("registry-is-a-file", ["train", "dcgan", *FAST, "--registry", "afile"], "is a file", code=2, setup=_a_file),
    Row("registry-below-a-file", ["train", "dcgan", *FAST, "--registry", "afile/registry"],
        "cannot be created: ", setup=_a_file),
    Row("registry-not-writable", ["train", "dcgan", *FAST], "Permission denied; nothing was stored",
        setup=_patch(ganzoo.registry.store, "write_durable", _denied)),
    Row("disk-full-publishing", ["train", "dcgan", *FAST], "No space left on device; nothing was stored",
        setup=_patch(ganzoo.registry.store, "write_durable", _disk_full)),
    Row("disk-full-writing-weights", ["train", "dcgan", *FAST], "No space left on device; nothing was stored",
        setup=_patch(safetensors.torch, "save_file", _disk_full)),
    Row("disk-full-checkpointing", ["train", "dcgan", *FAST, "--checkpoint-every", "1"],
        "No space left on device", setup=_patch(torch, "save", _disk_full)),
    Row("disk-full-sample-grid", ["sample", "dcgan-digits"], "No space left on device",
        setup=_patch(Image.Image, "save", _disk_full)),
    # files
    Row("missing-data-files", ["train", "dcgan", "--dataset", "mnist", *FAST], "cannot download", setup=_offline),
    Row("missing-data-folder", ["train", "dcgan", "--dataset", "folder", "--data-dir", "nowhere", *FAST],
        "does not exist"),
    Row("resume-missing-folder", ["train", "--resume", "nowhere"], "is not a run folder"),
    Row("resume-not-a-run", ["train", "--resume", "empty"], "is not a run folder", setup=_empty_folder),
    Row("model-option-wrong-kind", ["train", "dcgan", *FAST[:4], "-o", "base_channels=true"],
        "model option base_channels of 'dcgan' must be a whole number, got True"),
    Row("model-option-from-the-dataset", ["train", "dcgan", *FAST, "-o", "data_shape=[1]"],
        "'data_shape' comes from the dataset"),
    Row("option-given-twice", ["train", "dcgan", *FAST, "--loss", "non-saturating-r1:gamma=1,gamma=2"],
        "option 'gamma' is given twice"),
    Row("loss-option-out-of-range", ["train", "dcgan", *FAST, "--loss", "wasserstein-gp:weight=-1"],
        "weight must be a number >= 0"),
    # augmentation and limited data
    Row("unknown-augmentation", ["train", "dcgan", "--augment", "diffaugmnt"], "did you mean 'diffaugment'"),
    Row("unknown-augment-policy", ["train", "dcgan", "--augment", "diffaugment:policy=translation,cutuot"],
        "unknown policy 'cutuot'; did you mean 'cutout'?"),
    Row("unknown-augment-option", ["train", "dcgan", "--augment", "ada:targte=0.6"],
        "augmentation 'ada' has no option targte; it takes interval, kimg, p, target"),
    Row("augment-option-out-of-range", ["train", "dcgan", "--augment", "ada:target=2"],
        "target must be a number in [0, 1]"),
    Row("augment-on-vectors", ["train", "gan", "--dataset", "ring8", "--steps", "2", "--augment", "diffaugment"],
        "--augment diffaugment transforms images (C, H, W); this dataset holds 2-d vectors"),
    Row("zero-subset", ["train", "dcgan", "--subset", "0"], "subset must be a positive number of training items"),
    Row("subset-larger-than-dataset", ["train", "dcgan", *FAST, "--subset", "5000"],
        "--subset 5000 is larger than dataset 'digits' (1797 items); pass --subset 1797 or less"),
    Row("negative-subset-seed", ["train", "dcgan", "--subset", "100", "--subset-seed", "-1"],
        "subset_seed must be a whole number >= 0"),
    Row("subset-seed-without-subset", ["train", "dcgan", "--subset-seed", "3"],
        "subset_seed is 3 but no subset is asked for"),
    Row("seed-too-large", ["train", "dcgan", *FAST, "--seed", "1180591620717411303424"],
        "seed must be a whole number >= 0"),
    Row("image-size-too-large", ["train", "dcgan", *FAST, "--image-size", "100000"],
        "image_size must be a positive integer of at most 4096"),
    Row("index-damaged", ["models"], "rebuild the index from them with: ganzoo models reindex --registry",
        setup=_damaged_index),
    Row("registry-tmp-is-a-link", ["models", "rm", "dcgan-digits:1", "--yes"], "tmp: it is a symbolic link",
        setup=_tmp_links_outside),
    Row("plugin-exits-at-import", ["list"], "quitter (import): SystemExit: the plugin called sys.exit(3)",
        setup=_strict_plugin("ganzoo_quitter", "import sys\nsys.exit(3)\n", "quitter")),
    Row("train-defaults-unknown-option", ["list"],
        "train_defaults has no option 'd_step' (did you mean 'd_steps'?)",
        setup=_strict_plugin("ganzoo_toy_defaults", _MISSPELT_TRAIN_DEFAULT, "toy-defaults")),
    Row("plugin-takes-a-builtin-name", ["list"],
        "duplicate architecture name 'dcgan': registered by plugin 'dcgan' and again by plugin 'aaa-dup'",
        setup=_strict_plugin("ganzoo_aaa_dup", _TAKES_DCGAN, "aaa-dup")),
    Row("reindex-no-registry", ["models", "reindex", "--registry", "nowhere"],
        "there is no registry at"),
    Row("init-folder-holds-files", ["models", "init", "busy"], "the folder already holds other files",
        setup=_busy_folder),
    Row("model-folder-not-writable", ["train", "dcgan", *FAST, "--run-dir", "run"],
        "Permission denied. The trained model is saved in run; publish it with: ganzoo train --resume run --steps 2",
        setup=_patch(ganzoo.registry.store.Registry, "publish", _denied)),
    # files from elsewhere (the setups live with the tests of what they check)
    Row("weights-smaller-than-spec", ["sample", "oversized.safetensors"],
        "tensor 'net.0.weight' should be F32 of shape [100, 200000, 4, 4], the file holds F32 of shape [100, 8, 4, 4]",
        setup=untrusted_weights.weight_file_setup("oversized")),
    Row("weights-relabelled-dtype", ["sample", "relabelled.safetensors"], "the file holds I32 of shape",
        setup=untrusted_weights.weight_file_setup("relabelled")),
    Row("weights-mistyped-spec-option", ["sample", "mistyped.safetensors"],
        "model option base_channels of 'dcgan' must be a whole number, got '8'",
        setup=untrusted_weights.weight_file_setup("mistyped")),
    Row("weights-nested-header", ["sample", "nested.safetensors"], "nested more than 64 levels deep",
        setup=untrusted_weights.weight_file_setup("nested")),
    Row("non-finite-samples", ["eval", "non-finite.safetensors"], "draws non-finite samples",
        setup=untrusted_weights.weight_file_setup("non-finite")),
    Row("import-symbolic-link", ["models", "import", "out"], "model.safetensors is a symbolic link",
        setup=untrusted_import.export_setup("symlink")),
    Row("import-file-larger-than-listed", ["models", "import", "out"], "bytes; nothing was imported",
        setup=untrusted_import.export_setup("larger")),
    Row("import-config-too-large", ["models", "import", "out"], "a config.json of an export is at most",
        setup=untrusted_import.export_setup("config-too-large")),
    Row("resume-nested-config", ["train", "--resume", "run"], "config.json is not valid JSON (nested",
        setup=untrusted_weights.nested_run_setup),
    Row("export-unknown-format", ["models", "export", "dcgan-digits", "out", "--format", "tflite"],
        "Invalid value for '--format': 'tflite' is not one of 'ganzoo', 'onnx', 'torchscript'", code=2),
    Row("export-into-a-full-folder", ["models", "export", "dcgan-digits", "full", "--format", "torchscript"],
        "full already exists and is not an empty folder; export into a new folder",
        setup=export_tests.error_setup("full-folder")),
    Row("export-onnx-without-extra", ["models", "export", "dcgan-digits", "out", "--format", "onnx"],
        "onnxruntime is not installed): pip install 'ganzoo[onnx]'", setup=export_tests.error_setup("no-onnx")),
    Row("export-bad-license", ["models", "export", "dcgan-digits", "out", "--license", "my own"],
        "invalid license 'my own': give a license identifier"),
    Row("import-generator-export", ["models", "import", "gen"],
        "holds the generator alone, exported with --format torchscript",
        setup=export_tests.error_setup("generator-export")),
    # starting from a stored model, and the options of every day
    Row("init-from-other-architecture", ["train", "cgan", "--init-from", "dcgan-digits", "--steps", "2"],
        "it is a 'dcgan' model and this run trains 'cgan'"),
    Row("init-from-other-shape", ["train", "--init-from", "dcgan-digits", "--image-size", "16", *FAST],
        "built with data of shape 1x8x8, not 1x16x16 (pass --image-size 8)"),
    Row("init-from-missing-model", ["train", "--init-from", "dcgan-digitz", *FAST], "dcgan-digitz"),
    Row("init-from-file", ["train", "--init-from", "g.safetensors", *FAST],
        "--init-from needs a model in the registry"),
    Row("no-checkpoint-without-publishing", ["train", "dcgan", "--no-checkpoint", "--no-publish"],
        "with --no-publish it cannot", code=2),
    Row("zero-threads", ["train", "dcgan", "--threads", "0"], "'--threads': 0 is not in the range x>=1", code=2),
    Row("unknown-sample-suffix", ["sample", "dcgan-digits", "--out", "grid.gif"], "its suffix .gif is none of"),
    Row("unknown-sample-device", ["sample", "dcgan-digits", "--device", "tpu"], "unknown device 'tpu'"),
    Row("resume-changed-option", ["train", "--resume", "run", "--lr-g", "0.001"],
        "cannot resume run with a changed --lr-g (0.0002 -> 0.001)", setup=lambda mp, cwd: _a_run(cwd)),
    Row("data-clear-uncached-folder", ["data", "clear", "nowhere", "--yes"], "nothing is cached for folder",
        setup=_empty_cache),
    Row("data-cache-is-a-file", ["data", "cache"], "notes.txt is a file, not a folder", setup=_cache_is_a_file),
    # run folders
    Row("runs-root-missing", ["runs", "--root", "nowhere"], "cannot list the runs in nowhere: no such folder"),
    Row("runs-root-is-a-file", ["runs", "--root", "afile"], "is a file", code=2, setup=_a_file),
    Row("runs-folder-without-root", ["runs", "empty"], "to list the runs in it, pass it with --root", code=2,
        setup=_empty_folder),
    Row("runs-rm-missing", ["runs", "rm", "nowhere", "--yes"], "no run folder 'nowhere'"),
    Row("runs-rm-not-a-run", ["runs", "rm", "empty", "--yes"], "empty is not a ganzoo run folder",
        setup=_empty_folder),
    Row("runs-rm-link", ["runs", "rm", "link", "--yes"], "link is a symbolic link", setup=_link_to_a_folder),
    Row("report-same-run-twice", ["report", "empty", "./empty"], "is given twice", setup=_empty_folder),
]


@pytest.fixture(autouse=True)
def one_thread():
    # tiny networks: one thread is faster than two fighting over a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def stocked(tmp_path_factory) -> Path:
    """A registry holding dcgan-digits:1 and cgan-digits:1, built once."""
    root = tmp_path_factory.mktemp("stocked")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        for args in (["dcgan", *FAST], ["cgan", "--steps", "2", "--batch-size", "16"]):
            result = CliRunner().invoke(cli, ["train", *args, "--registry", str(root)], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    torch.set_num_threads(threads)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_a_mistake_gets_one_line_and_changes_nothing(row, stocked, tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    shutil.copytree(stocked, registry)
    monkeypatch.setenv("GANZOO_REGISTRY", str(registry))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if row.setup is not None:
        row.setup(monkeypatch, cwd)
    before = snapshot(registry)

    result = CliRunner().invoke(cli, row.args)

    assert result.exit_code == row.code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: "), result.output
    assert row.says in errors[0]
    assert result.output.rstrip().endswith(errors[0])  # the error is the last thing said
    assert snapshot(registry) == before


def test_every_documented_mistake_is_tested():
    mistakes = DOC.read_text().split("## Hostile input and unlucky timing")[0]  # the first table
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", mistakes, flags=re.MULTILINE)
    assert sorted(documented) == sorted(r.id for r in ROWS)
    assert len(set(documented)) == len(documented)


def test_every_hostile_input_case_names_a_test_that_exists():
    text = DOC.read_text()
    section = text[text.index("## Hostile input and unlucky timing"):]
    cases = re.findall(r"^\| `([a-z0-9-]+)` \|.*\| `tests/(test_\w+\.py)::(test_\w+)` \|$", section, flags=re.MULTILINE)
    assert len(cases) >= 20
    here = Path(__file__).parent
    for case, module, test in cases:
        assert re.search(rf"^def {test}\(", (here / module).read_text(), flags=re.MULTILINE), (case, module, test)
