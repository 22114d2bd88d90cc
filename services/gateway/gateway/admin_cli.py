"""``wpis-admin``: account chores straight on the gateway's database.

    wpis-admin create-admin --username U   the first admin (password from
                                           WPIS_ADMIN_PASSWORD, else a prompt)
    wpis-admin demo-accounts               the demo accounts (dev only; password
                                           demo-<username>)
    wpis-admin rebuild-verification        fill the public verification read model
                                           from the permits service's event log
                                           (RPC over AMQP_URI; ADR-014)

The database is the gateway's own (``DATABASE_URL`` of its config.yaml, i.e.
``GATEWAY_DATABASE_URL``; ``WPIS_CONFIG`` names another config file), or
``--database-url``; run ``wpis-migrate gateway`` first.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # noise for a CLI

from gateway import accounts  # noqa: E402
from wpis_common.config import read_config_file, service_config_path  # noqa: E402
from wpis_common.db import create_db_engine, make_session_factory  # noqa: E402
from wpis_common.envelope import utc_now  # noqa: E402
from wpis_common.errors import InvalidInput  # noqa: E402

DEFAULT_URL = "sqlite:///var/gateway.db"
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def _password() -> str:
    password = os.environ.get("WPIS_ADMIN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit("wpis-admin: set WPIS_ADMIN_PASSWORD (no terminal to prompt on)")
    first = getpass.getpass("password for the new admin: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("wpis-admin: the passwords differ")
    return first


def _configured_url() -> str:
    path = os.environ.get("WPIS_CONFIG") or service_config_path("gateway")
    return str(read_config_file(path).get("DATABASE_URL") or DEFAULT_URL)


def create_admin(url: str, username: str, password: str) -> int:
    engine = create_db_engine(url, pool_size=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            payload = {"username": username, "password": password, "role": "admin",
                       "display_name": "Administrator"}  # fmt: skip
            created = accounts.ensure_account(session, payload, utc_now())
    except InvalidInput as error:
        for field, reasons in error.details["errors"].items():
            print(f"wpis-admin: {field}: {'; '.join(reasons)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"admin {username!r} {'created' if created else 'exists already (unchanged)'}")
    return 0


def rebuild_verification(url: str, amqp_uri: str) -> int:
    from nameko import config
    from nameko.standalone.rpc import ClusterRpcClient

    from gateway.verification import catch_up

    engine = create_db_engine(url, pool_size=1)
    try:
        with config.patch({"AMQP_URI": amqp_uri}), ClusterRpcClient(timeout=60) as cluster:
            applied = catch_up(
                engine, lambda after, limit: cluster.permits.events_after(after, limit)
            )
    finally:
        engine.dispose()
    print(f"verification read model: {applied} permit events applied")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wpis-admin", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: the gateway's config")
    commands = parser.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create the first admin account")
    admin.add_argument("--username", required=True)
    commands.add_parser("demo-accounts", help="create the demo accounts (dev only)")
    rebuild = commands.add_parser(
        "rebuild-verification", help="fill the verification read model from the permits events"
    )
    rebuild.add_argument("--amqp-uri", default=os.environ.get("AMQP_URI", DEFAULT_AMQP_URI))
    args = parser.parse_args(argv)
    url = args.database_url or _configured_url()
    if args.command == "create-admin":
        return create_admin(url, args.username, _password())
    if args.command == "rebuild-verification":
        return rebuild_verification(url, args.amqp_uri)
    created = accounts.seed_demo_accounts(url)
    print(f"demo accounts created: {', '.join(created) or 'none (all exist)'}")
    print("DEV ONLY: each demo account's password is demo-<username>, e.g. officer / demo-officer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
