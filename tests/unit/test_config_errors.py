"""A wrong config, or a machine not ready for it, stops `pulse check-config` and `pulse sync` with
exit code 2 and one clear message: never a traceback, never a secret, never a file written."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import yaml

from pipelines.cli import demo_config, main
from pipelines.config import (
    ConfigError, GithubSiteConfig, LoadedConfig, dump, load, parse, plausible_env_name, preflight,
)

# Credentials in the shapes people paste (made up; none is real).
GITHUB_CLASSIC = "ghp_" + "R7kQ2mX9vB4nT8wZ1cL5yH3jF6dS0aPeUg2K"  # ghp_ + 36
GITHUB_FINE_GRAINED = "github_pat_11ABQ3XZA0" + "k9Lm2Pq7Rs4Tv8Wx1Yz5Bc3Df6Gh0Jn_Mp4Qr8St2Uv6Wx0Yz3Ab7Cd1Ef5Gh9Jk2Lm6Np0Qr4St8"
ATLASSIAN = "ATATT3xFfGF0" + "T4vR8nK2mQ9wZ5xL1cB7yH3jD6sF0aPgU-eXq_4Kd8Nb2Mc6Vz1Lw5Jr9Ht3Gy7Fu0Ei4Do8Cp2Bq6An" + "=A1B2C3D4"
DC_PAT = "MzE4NDk2NzQ1NjI3OkR1VbQ7xq9Kp3LmZ0aWcR5TnY2s"  # 44 characters, base64 letters and digits only
DC_PAT_BASE64 = "NjM0NTY3ODkw+MTIzOkJhc2U2/NEVuY29kZWRTZWNy=="
OLD_HEX = "3f9a1c0b7e2d4f6a8b1c3e5d7f9a0b2c4d6e8f1a"  # a pre-2021 GitHub token: 40 hex characters
TOKENS = {
    "ghp": GITHUB_CLASSIC, "github_pat": GITHUB_FINE_GRAINED, "atlassian": ATLASSIAN, "dc_pat": DC_PAT,
    "dc_pat_base64": DC_PAT_BASE64, "hex": OLD_HEX, "bearer": "Bearer " + DC_PAT,
    "basic": "Basic " + "YWxpY2VAYWNtZS5jb206QVRBVFQzeEZmR0Yw", "user_colon_token": "alice@acme.com:" + ATLASSIAN[:40],
}
VARIABLES = {"PULSE_T_JIRA_USER": "alice@acme.com", "PULSE_T_JIRA_TOKEN": "t1", "PULSE_T_JIRA_PAT": "t2",
             "PULSE_T_GITHUB_TOKEN": "t3"}


def real_config() -> dict:
    """A config for real (not sandbox) sites, whose secrets must be in the environment."""
    return {
        "version": 1,
        "warehouse": {"path": "pulse.duckdb"},
        "sites": {
            "acme-cloud": {"kind": "jira", "url": "https://acme.atlassian.net", "user_env": "PULSE_T_JIRA_USER",
                           "token_env": "PULSE_T_JIRA_TOKEN"},
            "acme-dc": {"kind": "jira", "url": "https://jira.acme.com", "token_env": "PULSE_T_JIRA_PAT"},
            "github": {"kind": "github", "token_env": "PULSE_T_GITHUB_TOKEN"},
        },
        "programs": [{"id": "checkout", "name": "Checkout 2.0", "projects": [
            {"site": "acme-cloud", "key": "PAY"}, {"site": "acme-dc", "key": "CART"},
            {"site": "github", "repo": "acme/web"}]}],
    }


@pytest.fixture
def env(monkeypatch) -> None:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)


def write(folder: Path, data: dict | str | bytes, name: str = "program.yaml") -> Path:
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def fails_cleanly(capsys, config: Path, folder: Path, *expected: str) -> str:
    """Both commands exit 2 naming what is expected, with no traceback and nothing written."""
    before = listing(folder)
    outputs = []
    for argv in (["check-config", str(config)], ["sync", "--config", str(config)]):
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        for text in expected:
            assert text in err, (argv, err)
        assert "Traceback" not in out + err
        assert err.count("\n") >= 1 and out == ""
        outputs.append(out + err)
    assert listing(folder) == before
    assert not (folder / ".pulse").exists()
    return "\n".join(outputs)


def assert_not_shown(secret: str, text: str) -> None:
    assert not [secret[i:i + 8] for i in range(len(secret) - 7) if secret[i:i + 8] in text], text


# -- Task A: secrets are never printed ------------------------------------------------------------
@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
@pytest.mark.parametrize("site, field, example", [
    ("github", "token_env", "GITHUB_TOKEN"), ("acme-dc", "token_env", "JIRA_TOKEN"),
    ("acme-cloud", "user_env", "JIRA_USER"),
])
def test_a_token_in_an_env_field_is_rejected_and_never_echoed(tmp_path, capsys, env, site, field, example, token):
    data = real_config()
    data["sites"][site][field] = token
    shown = fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                          f"sites.{site}.{field}: set it to the NAME of an environment variable", f"e.g. {example}",
                          "not shown")
    assert_not_shown(token, shown)


@pytest.mark.parametrize("value", [GITHUB_CLASSIC, "ghp_abc123", 12345, ["JIRA_TOKEN"], {"name": "X"}, "",
                                   "JIRA TOKEN", "JIRA_TOKEN\n", "$JIRA_TOKEN", "${JIRA_TOKEN}", "jira-token", "1TOKEN"])
def test_anything_but_a_variable_name_is_rejected(value):
    data = real_config()
    data["sites"]["acme-dc"]["token_env"] = value
    with pytest.raises(ConfigError, match=r"sites\.acme-dc\.token_env: set it to the NAME"):
        parse(data)


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "JIRA_PAT", "PULSE_SANDBOX_TOKEN", "github_token", "_TOKEN",
                                  "Jira_Token_For_Team2_Prod", "ACME_JIRA_CLOUD_API_TOKEN_2024"])
def test_plausible_variable_names_pass(name):
    assert plausible_env_name(name)


@pytest.mark.parametrize("name", [GITHUB_CLASSIC, "gho_x", "ghs_abc", "ATATT3xFfGF0", "ATCTT3xFfGF0", DC_PAT, OLD_HEX,
                                  "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1x"])
def test_token_shaped_names_do_not(name):
    assert not plausible_env_name(name)


def test_no_error_path_carries_an_env_fields_value(tmp_path):
    data = real_config()
    data["sites"]["github"]["token_env"] = GITHUB_CLASSIC
    with pytest.raises(ConfigError) as error:
        load(write(tmp_path, data))
    assert error.value.__context__ is None and error.value.__cause__ is None  # no ValidationError rides along
    assert_not_shown(GITHUB_CLASSIC, str(error.value))
    with pytest.raises(Exception) as raw:  # a model built in code: pydantic's own text hides the input too
        GithubSiteConfig(kind="github", token_env=GITHUB_CLASSIC)
    assert_not_shown(GITHUB_CLASSIC, str(raw.value) + repr(raw.value))


@pytest.mark.parametrize("text", [
    f"sites:\n  github: {{kind: github, token_env: {GITHUB_CLASSIC}: x}}\n",  # invalid YAML on the token's line
    f"sites:\n  github:\n    kind: github\n    token_env: {DC_PAT}: {ATLASSIAN}\n",
    f"sites:\n  github:\n    kind: github\n    token_env: '{GITHUB_CLASSIC}\n",  # an unclosed quote
])
def test_a_yaml_error_never_quotes_the_line(tmp_path, capsys, text):
    shown = fails_cleanly(capsys, write(tmp_path, text), tmp_path, "not valid YAML", "line ")
    for token in (GITHUB_CLASSIC, DC_PAT, ATLASSIAN):
        assert_not_shown(token, shown)


@pytest.mark.parametrize("field", ["token", "password", "api_key", "pat"])
def test_a_secret_under_a_misspelt_field_is_not_echoed(tmp_path, capsys, env, field):
    data = real_config()
    data["sites"]["github"][field] = GITHUB_CLASSIC
    data["sites"]["acme-cloud"]["urll"] = "https://acme.atlassian.net"
    shown = fails_cleanly(capsys, write(tmp_path, data), tmp_path, f"sites.github.{field}: found a value that is not "
                          "shown", "expected no such field", "sites.acme-cloud.urll: found 'https://acme.atlassian.net'")
    assert_not_shown(GITHUB_CLASSIC, shown)


@pytest.mark.parametrize("token", [GITHUB_CLASSIC, DC_PAT, "Bearer " + DC_PAT])
def test_a_credential_under_any_field_is_not_echoed(tmp_path, capsys, env, token):
    data = real_config()
    data["programs"][0]["goal"] = ["not", "a", "string", token]
    data["sites"]["acme-dc"]["url"] = token
    shown = fails_cleanly(capsys, write(tmp_path, data), tmp_path, "programs[0].goal: found a value that is not shown",
                          "sites.acme-dc.url: found a value that is not shown")
    assert_not_shown(token, shown)


# -- Task B: config errors, never tracebacks -----------------------------------------------------
def test_a_file_that_is_not_utf8(tmp_path, capsys):
    config = write(tmp_path, "version: 1\n# caf\u00e9 in Latin-1\nsites: {}\n".encode("latin-1"))
    fails_cleanly(capsys, config, tmp_path, f"{config}: not UTF-8 text (line 2", "re-save it as UTF-8")
    utf16 = write(tmp_path, "version: 1\n".encode("utf-16"), "utf16.yaml")
    fails_cleanly(capsys, utf16, tmp_path, f"{utf16}: is UTF-16 text, not UTF-8", "re-save it as UTF-8")


def test_a_folder_given_as_the_config(tmp_path, capsys):
    folder = tmp_path / "configs"
    folder.mkdir()
    fails_cleanly(capsys, folder, tmp_path, f"{folder}: is a folder", f"e.g. {folder / 'program.yaml'}")


def test_an_unreadable_file(tmp_path, capsys, monkeypatch, env):
    config = write(tmp_path, real_config())
    if os.geteuid() != 0:  # root reads a mode-000 file anyway
        config.chmod(0)
        try:
            fails_cleanly(capsys, config, tmp_path, f"{config}: cannot be read (permission denied)", "chmod u+r")
        finally:
            config.chmod(0o644)
    real_read = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "program.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    fails_cleanly(capsys, config, tmp_path, f"{config}: cannot be read (permission denied)", "chmod u+r")


def test_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope" / "program.yaml"
    fails_cleanly(capsys, missing, tmp_path, f"{missing}: no such file", "check the path")
    fails_cleanly(capsys, tmp_path / "program.yaml", tmp_path, "no such file")


def test_an_empty_file(tmp_path, capsys):
    fails_cleanly(capsys, write(tmp_path, ""), tmp_path, "the file is empty; expected a YAML mapping")


@pytest.mark.parametrize("url", ["https://acme.atlassian.net", "https://ACME.atlassian.net/", "https://acme.jira.com"])
def test_deployment_server_on_a_jira_cloud_site(tmp_path, capsys, env, url):
    data = real_config()
    data["sites"]["acme-cloud"].update(url=url, deployment="server")
    fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                  "sites.acme-cloud.deployment: found 'server' for", "a Jira Cloud site; expected 'auto' or 'cloud'")


def test_deployment_against_what_the_sandbox_serves(tmp_path, capsys):
    data = yaml.safe_load(dump(demo_config(7, date(2026, 11, 27))))
    data["sites"]["jira-cloud"]["deployment"] = "server"
    data["sites"]["jira-dc"]["deployment"] = "cloud"
    fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                  "sites.jira-cloud.deployment: found 'server' for the sandbox's jira-cloud, a Jira Cloud site",
                  "sites.jira-dc.deployment: found 'cloud' for the sandbox's jira-dc, a Jira Data Center site")


def test_deployment_server_is_fine_off_atlassians_domains(env):
    data = real_config()
    data["sites"]["acme-dc"]["deployment"] = "server"
    data["sites"]["acme-cloud"]["deployment"] = "cloud"
    parse(data)


def test_a_missing_warehouse_folder_is_not_created(tmp_path, capsys, env):
    data = real_config()
    data["warehouse"]["path"] = "out/pulse.duckdb"
    fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                  "warehouse.path", f"the folder {tmp_path / 'out'} does not exist; create it (mkdir -p")
    assert not (tmp_path / "out").exists()


def test_a_warehouse_under_a_file(tmp_path, capsys, env):
    (tmp_path / "afile").write_text("")
    data = real_config()
    data["warehouse"]["path"] = str(tmp_path / "afile" / "sub" / "pulse.duckdb")
    fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                  "warehouse.path", f"{tmp_path / 'afile'} is a file, not a folder", "fix warehouse.path")


def test_a_warehouse_that_is_a_folder_or_whose_work_folder_is_a_file(tmp_path, capsys, env):
    (tmp_path / "pulse.duckdb").mkdir()
    (tmp_path / ".pulse").write_text("")
    config = write(tmp_path, real_config())
    before = listing(tmp_path)
    for argv in (["check-config", str(config)], ["sync", "--config", str(config)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "warehouse.path" in err and "is a folder; expected a file name" in err
        assert "where the pipeline works, is a file" in err
    assert listing(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_a_read_only_warehouse_folder(tmp_path, capsys, env):
    folder = tmp_path / "ro"
    folder.mkdir()
    data = real_config()
    data["warehouse"]["path"] = "ro/pulse.duckdb"
    config = write(tmp_path, data)
    folder.chmod(0o555)
    try:
        fails_cleanly(capsys, config, tmp_path, "warehouse.path", f"the folder {folder} is not writable")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("unset", ["delete", "empty", "blank"])
def test_unset_secrets_are_named_before_anything_runs(tmp_path, capsys, env, monkeypatch, unset):
    for name in ("PULSE_T_JIRA_USER", "PULSE_T_GITHUB_TOKEN"):
        if unset == "delete":
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, "" if unset == "empty" else "  ")
    shown = fails_cleanly(capsys, write(tmp_path, real_config()), tmp_path,
                          "sites.acme-cloud.user_env: environment variable PULSE_T_JIRA_USER is not set",
                          "sites.github.token_env: environment variable PULSE_T_GITHUB_TOKEN is not set",
                          "export PULSE_T_GITHUB_TOKEN=...")
    assert "PULSE_T_JIRA_TOKEN" not in shown and "alice@acme.com" not in shown


def test_preflight_lists_every_problem(tmp_path, monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data = real_config()
    data["warehouse"]["path"] = "out/pulse.duckdb"
    config = write(tmp_path, data)
    with pytest.raises(ConfigError) as error:
        preflight(load(config))
    lines = str(error.value).splitlines()
    assert lines[0] == f"{config} cannot be used on this machine:"
    assert len(lines) == 1 + 1 + len(VARIABLES)  # the warehouse folder and each variable, one a line
    assert all(line.startswith(("  warehouse.path", "  sites.")) for line in lines[1:])


def test_sandbox_sites_need_no_variables(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PULSE_SANDBOX_TOKEN", raising=False)
    monkeypatch.delenv("PULSE_SANDBOX_USER", raising=False)
    config = write(tmp_path, dump(demo_config(7, date(2026, 11, 27))))
    assert main(["check-config", str(config)]) == 0
    assert "OK: " in capsys.readouterr().out
    assert listing(tmp_path) == ["program.yaml"]
    preflight(LoadedConfig(parse(yaml.safe_load(config.read_text())), config))


def test_a_sandbox_site_with_its_own_variable_needs_it_set(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PULSE_T_OTHER", raising=False)
    data = yaml.safe_load(dump(demo_config(7, date(2026, 11, 27))))
    data["sites"]["github"]["token_env"] = "PULSE_T_OTHER"
    fails_cleanly(capsys, write(tmp_path, data), tmp_path,
                  "sites.github.token_env: environment variable PULSE_T_OTHER is not set")


def test_a_real_config_with_its_variables_set_passes(tmp_path, capsys, env):
    config = write(tmp_path, real_config())
    assert main(["check-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "OK: 1 programs, 3 projects on 3 sites" in out and "t3" not in out
    assert listing(tmp_path) == ["program.yaml"]


def test_a_read_only_warehouse_folder_as_root_too(tmp_path, capsys, env, monkeypatch):
    """Root may write anywhere, so os.access is told the folder is read-only."""
    folder = tmp_path / "ro"
    folder.mkdir()
    data = real_config()
    data["warehouse"]["path"] = "ro/pulse.duckdb"
    config = write(tmp_path, data)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder and mode & os.W_OK
                        else real_access(p, mode, **kw))
    fails_cleanly(capsys, config, tmp_path, "warehouse.path", f"the folder {folder} is not writable by this user")
