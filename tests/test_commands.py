"""The installed commands: `autoencoders` and `autoencoders-ops` from the venv's bin, their --version and
--help, shell completion that completes, and a missing extra named in one line."""

import importlib.metadata
import importlib.util
import subprocess

import pytest

from tests.helpers import BIN

COMMANDS = {
    "autoencoders": ["decode", "compare", "ui", "completion"],
    "autoencoders-ops": ["team", "sweep", "completion"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_the_installed_command_has_version_and_help(command):
    shown = subprocess.run([str(BIN / command), "--version"], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == f"{command} {importlib.metadata.version('autoencoders')}"
    for sub in COMMANDS[command]:
        result = subprocess.run([str(BIN / command), sub, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and f"usage: {command} {sub}" in result.stdout, (sub, result.stderr)


def test_bash_completion_completes_a_subcommand():
    script = subprocess.run(
        [str(BIN / "autoencoders"), "completion", "bash"], capture_output=True, text=True, check=True
    ).stdout
    completed = subprocess.run(
        [
            "bash",
            "-c",
            script + '\nCOMP_WORDS=(autoencoders de); COMP_CWORD=1; COMP_LINE="autoencoders de"; '
            'COMP_POINT=15; _shtab_autoencoders; echo "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.split() == ["decode"]
    zsh = subprocess.run(
        [str(BIN / "autoencoders-ops"), "completion", "zsh"], capture_output=True, text=True, check=True
    ).stdout
    assert zsh.startswith("#compdef autoencoders-ops")


@pytest.mark.parametrize("command, module, extra", [("sweep", "distributed", "cluster"), ("team", "psycopg2", "team")])
def test_a_missing_extra_is_named_in_one_line(monkeypatch, capsys, command, module, extra):
    from ops.__main__ import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    argv = {"sweep": ["sweep", "--set", "variants.mlp.latent_dim=8"], "team": ["team", "up"]}[command]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"needs the {extra} extra ({module} not installed)" in err
    assert f"pip install -e '.[{extra}]'" in err and "Traceback" not in err
