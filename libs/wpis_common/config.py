"""Config access: Nameko's global config, loaded from a service's config.yaml.

Values in config.yaml come from env vars (``${VAR:default}``), so a service is
configured entirely from its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nameko import config
from nameko.cli.utils.config import load_config

DATABASE_URL_KEY = "DATABASE_URL"


def setting(key: str, default: Any = None) -> Any:
    return config.get(key, default)


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def flag_setting(key: str, default: bool = False) -> bool:
    """A yes/no setting: 1, true, yes or on (any case) is yes."""
    return str(setting(key, default)).strip().lower() in TRUE_WORDS


def required_setting(key: str) -> Any:
    value = config.get(key)
    if value in (None, ""):
        raise RuntimeError(f"config key {key!r} is not set (see the service's config.yaml)")
    return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a service config.yaml with Nameko's env-var substitution."""
    with open(path, encoding="utf-8") as config_file:
        return load_config(config_file) or {}


def service_config_path(package_name: str) -> Path:
    """The config.yaml beside a service package (services/<name>/config.yaml)."""
    package = __import__(package_name)
    return Path(package.__file__).resolve().parents[1] / "config.yaml"
