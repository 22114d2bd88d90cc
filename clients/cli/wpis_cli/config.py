"""Where the CLI keeps the API address and the tokens of ``wpis login``.

The file is JSON in the user's config directory (``~/.config/wpis/config.json``
on Linux; ``WPIS_CONFIG_DIR`` overrides the directory), readable by its owner
only (0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

DEFAULT_URL = "http://127.0.0.1:8000"
FILE_NAME = "config.json"


def config_dir() -> Path:
    return Path(os.environ.get("WPIS_CONFIG_DIR") or typer.get_app_dir("wpis"))


def config_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass
class Config:
    url: str | None = None
    username: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str | None = None
    expires_at: float | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        path = path or config_path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {key: raw[key] for key in cls.__dataclass_fields__ if key in raw}
        return cls(**known)

    def save(self, path: Path | None = None) -> Path:
        """Write the file with mode 0600 (created so; tightened if it existed)."""
        path = path or config_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2)
        os.chmod(path, 0o600)
        return path

    def forget_tokens(self) -> None:
        self.access_token = self.refresh_token = self.token_type = None
        self.expires_at = None


def resolve_url(option: str | None, config: Config) -> str:
    """The API address: the --url option or WPIS_URL, then the saved one, then the default."""
    return (option or config.url or DEFAULT_URL).rstrip("/")


def parse_headers(values: list[str]) -> dict[str, str]:
    """``["Name: value", ...]`` (like curl -H) to a dict; ValueError names a bad one."""
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"a header is 'Name: value', not {value!r}")
        headers[name.strip()] = content.strip()
    return headers
