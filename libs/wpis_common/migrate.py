"""``wpis-migrate``: run a service's Alembic migrations against its own database.

Each service keeps its migrations in ``<package>/migrations`` with an
``env.py`` that calls :func:`run_env`. The database URL comes from the
service's config.yaml (so from its env vars), or ``--url``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from wpis_common.config import DATABASE_URL_KEY, read_config_file, service_config_path
from wpis_common.db import create_db_engine

SERVICES_WITH_DATABASES = (
    "applications",
    "identity_gateway",
    "permits",
    "contracts",
    "notifications",
    "gateway",
    "wpis_statistics",
)


def alembic_config(package: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", f"{package}:migrations")
    cfg.attributes["database_url"] = url
    return cfg


def database_url_for(package: str, config_path: str | None = None) -> str:
    settings = read_config_file(config_path or service_config_path(package))
    url = settings.get(DATABASE_URL_KEY)
    if not url:
        raise SystemExit(f"{package}: no {DATABASE_URL_KEY} in its config")
    return url


def upgrade(package: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, url), revision)


def run_env(context: Any, target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    url = context.config.attributes["database_url"]
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                user_module_prefix="wpis_common.tables.",
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


def make_revision(package: str, message: str) -> None:
    """Autogenerate a migration by diffing the models against a scratch database at head."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        cfg = alembic_config(package, f"sqlite:///{scratch}/scratch.db")
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Migrate WPIS service databases to head.")
    parser.add_argument("service", help="a service package name, or 'all'")
    parser.add_argument("--config", help="the service's config.yaml (default: beside the package)")
    parser.add_argument("--url", help="database URL (overrides the config)")
    parser.add_argument("--revision", default="head")
    parser.add_argument("--make", metavar="MESSAGE", help="autogenerate a new migration instead")
    args = parser.parse_args(argv)
    if args.make:
        make_revision(args.service, args.make)
        return 0
    packages = SERVICES_WITH_DATABASES if args.service == "all" else (args.service,)
    for package in packages:
        url = args.url or database_url_for(package, args.config)
        upgrade(package, url, args.revision)
        print(f"{package}: migrated to {args.revision} ({_redact(url)})")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
