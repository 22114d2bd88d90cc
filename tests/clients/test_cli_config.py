"""wpis CLI: the config file (0600), the API address and extra headers."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner
from wpis_cli.config import DEFAULT_URL, Config, config_path, parse_headers, resolve_url
from wpis_cli.main import app


def test_saved_config_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "wpis" / "config.json"
    Config(url="http://api.example", access_token="t0k", refresh_token="r").save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Config.load(path)
    assert (loaded.url, loaded.access_token, loaded.refresh_token) == (
        "http://api.example", "t0k", "r",
    )  # fmt: skip


def test_an_existing_looser_file_is_tightened_on_save(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{}")
    path.chmod(0o644)
    Config(access_token="x").save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_missing_or_broken_file_is_an_empty_config(tmp_path):
    assert Config.load(tmp_path / "nope.json") == Config()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert Config.load(broken) == Config()


def test_forgetting_tokens_keeps_the_address(tmp_path):
    config = Config(url="http://a", username="anna", access_token="t", refresh_token="r")
    config.forget_tokens()
    assert config == Config(url="http://a", username="anna")


def test_the_config_dir_can_be_set_by_env(tmp_path, monkeypatch):
    monkeypatch.setenv("WPIS_CONFIG_DIR", str(tmp_path))
    assert config_path() == tmp_path / "config.json"


def test_url_option_wins_over_saved_then_default():
    assert resolve_url("http://x/", Config(url="http://saved")) == "http://x"
    assert resolve_url(None, Config(url="http://saved")) == "http://saved"
    assert resolve_url(None, Config()) == DEFAULT_URL


def test_headers_are_parsed_like_curl():
    assert parse_headers(["X-WPIS-Role: auditor", "A:b:c"]) == {
        "X-WPIS-Role": "auditor",
        "A": "b:c",
    }
    with pytest.raises(ValueError, match="Name: value"):
        parse_headers(["no colon"])


@pytest.mark.parametrize(
    "command",
    [[], ["cases"], ["permits"], ["events"], ["export"], ["login", "--help"],
     ["cases", "decide", "--help"], ["events", "tail", "--help"], ["export", "cases", "--help"]],
)  # fmt: skip
def test_help_is_complete(command):
    result = CliRunner().invoke(
        app, [*command, "--help"] if command[-1:] != ["--help"] else command
    )
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_every_command_has_help_text():
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert command.help, name
        for sub_name, sub in getattr(command, "commands", {}).items():
            assert sub.help, f"{name} {sub_name}"


def test_cannot_reach_the_api_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WPIS_CONFIG_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["--url", "http://127.0.0.1:9", "cases", "list"])
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in result.output


def test_login_keeps_the_tokens_and_later_requests_carry_the_bearer_token(tmp_path, monkeypatch):
    monkeypatch.setenv("WPIS_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("WPIS_PASSWORD", "s3cret")
    sent = {}

    def fake_login(self, username, password):
        sent.update(url=self.base_url, username=username, password=password)
        return {"access_token": "acc", "refresh_token": "ref", "token_type": "bearer",
                "expires_in": 900}  # fmt: skip

    monkeypatch.setattr("wpis_cli.main.Client.login", fake_login)
    result = CliRunner().invoke(app, ["--url", "http://api.test", "login", "-u", "anna"])
    assert result.exit_code == 0, result.output
    assert sent == {"url": "http://api.test", "username": "anna", "password": "s3cret"}
    saved = Config.load(tmp_path / "config.json")
    assert (saved.url, saved.access_token, saved.refresh_token) == ("http://api.test", "acc", "ref")
    assert stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == 0o600

    from wpis_cli.main import client

    monkeypatch.setattr("wpis_cli.main.state.url_option", None)
    assert client().session.headers["Authorization"] == "Bearer acc"
    assert client().base_url == "http://api.test"
