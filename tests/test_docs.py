"""Meta-tests that keep the docs in step with the code: every hook documented and tested,
every kit function documented, every CLI command and option in docs/cli.md."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ganzoo import hookspecs, testing
from ganzoo.cli import cli

ROOT = Path(__file__).parent.parent
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text()
CLI_DOC_PATH = ROOT / "docs" / "cli.md"
REGENERATE = "python docs/make_cli_reference.py"

HOOKS = sorted(name for name, f in vars(hookspecs).items() if callable(f) and hasattr(f, "ganzoo_spec"))


def section(doc: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    start = doc.index(heading + "\n")
    following = re.compile(rf"^#{{1,{level}}} ", re.M).search(doc, start + len(heading))
    return doc[start:following.start() if following else len(doc)]


# -- hooks ------------------------------------------------------------------------------------------


def test_the_hooks_are_found():
    assert HOOKS == ["register_architectures", "register_augmentations", "register_datasets", "register_losses"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_with_its_signature_and_an_example(hook):
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### `{hook}({params})`"
    assert heading + "\n" in PLUGINS_DOC, f"docs/plugins.md needs a section headed {heading}"
    text = section(PLUGINS_DOC, heading)
    assert re.search(rf"```python\n.*@ganzoo\.hookimpl\ndef {hook}\(", text, re.S), \
        f"the {hook} section of docs/plugins.md needs a python example that implements it"


def test_every_documented_hook_exists():
    documented = re.findall(r"^### `(register_\w+)\(", PLUGINS_DOC, re.M)
    assert sorted(documented) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    assert f"def test_hook_{hook}(" in tests, f"add a test named test_hook_{hook} (see tests/test_hooks.py)"


@pytest.mark.parametrize("name", testing.__all__)
def test_every_kit_function_is_documented(name):
    if inspect.isfunction(getattr(testing, name)):
        assert f"`{name}(" in PLUGINS_DOC, f"ganzoo.testing.{name} is not documented in docs/plugins.md"
    else:
        assert name in PLUGINS_DOC, f"ganzoo.testing.{name} is not documented in docs/plugins.md"


# -- the CLI reference ------------------------------------------------------------------------------


def load_generator():
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "docs" / "make_cli_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walk(command: click.Command, path: tuple[str, ...] = ("ganzoo",)):
    """Every visible command, found here independently of the generator."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from walk(sub, (*path, name))


COMMANDS = sorted(walk(cli))


def test_the_cli_reference_is_up_to_date():
    page = CLI_DOC_PATH.read_text()
    assert page == load_generator().render(), f"docs/cli.md is out of date with the CLI: run {REGENERATE}"


def test_the_walk_finds_nested_commands():
    paths = {p for p, _ in COMMANDS}
    assert {("ganzoo",), ("ganzoo", "train"), ("ganzoo", "models"), ("ganzoo", "models", "verify")} <= paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_cli_reference(path, command):
    page = CLI_DOC_PATH.read_text()
    heading = f"### `{' '.join(path)}`"
    assert heading + "\n" in page, f"docs/cli.md has no section for {' '.join(path)}: run {REGENERATE}"
    text = section(page, heading)
    shown = CliRunner().invoke(cli, [*path[1:], "--help"], prog_name="ganzoo",
                               terminal_width=load_generator().WIDTH).output
    usage = shown.splitlines()[0]
    assert usage.startswith(f"Usage: {' '.join(path)} ") and usage in text, \
        f"docs/cli.md lacks the usage line {usage!r}: run {REGENERATE}"
    ctx = click.Context(command, info_name=path[-1])
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and not param.hidden:
            for opt in (*param.opts, *param.secondary_opts):
                assert opt in shown, f"{opt} is not in `{' '.join(path)} --help`"
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text), \
                    f"docs/cli.md does not show {opt} of `{' '.join(path)}`: run {REGENERATE}"


def test_the_documented_shell_completion_works():
    page = CLI_DOC_PATH.read_text()
    for shell in ("bash", "zsh", "fish"):
        assert f"_GANZOO_COMPLETE={shell}_source ganzoo" in page
    runner = CliRunner()
    script = runner.invoke(cli, [], prog_name="ganzoo", env={"_GANZOO_COMPLETE": "bash_source"})
    assert script.exit_code == 0 and "complete -o nosort -F _ganzoo_completion ganzoo" in script.output
    words = runner.invoke(cli, [], prog_name="ganzoo",
                          env={"_GANZOO_COMPLETE": "bash_complete", "COMP_WORDS": "ganzoo models ve",
                               "COMP_CWORD": "2"})
    assert words.output.split() == ["plain,verify"]
