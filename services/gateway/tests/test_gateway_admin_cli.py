"""``wpis-admin``: the first admin from WPIS_ADMIN_PASSWORD, never overwriting an account."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from gateway import admin_cli


def test_create_admin_then_keep_it_and_refuse_a_short_password(make_database, monkeypatch, capsys):
    url = make_database("gateway")
    monkeypatch.setenv("WPIS_ADMIN_PASSWORD", "a long enough passphrase")
    assert admin_cli.main(["--database-url", url, "create-admin", "--username", "root"]) == 0
    assert admin_cli.main(["--database-url", url, "create-admin", "--username", "root"]) == 0
    assert "exists already" in capsys.readouterr().out
    monkeypatch.setenv("WPIS_ADMIN_PASSWORD", "short")
    assert admin_cli.main(["--database-url", url, "create-admin", "--username", "other"]) == 2
    assert "password" in capsys.readouterr().err
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT username, role, password_hash FROM accounts")).all()
    engine.dispose()
    assert [(name, role) for name, role, _ in rows] == [("root", "admin")]
    assert rows[0][2].startswith("$argon2id$")


def test_demo_accounts_are_created_once(make_database, capsys):
    url = make_database("gateway")
    assert admin_cli.main(["--database-url", url, "demo-accounts"]) == 0
    assert "ararat" in capsys.readouterr().out
    assert admin_cli.main(["--database-url", url, "demo-accounts"]) == 0
    assert "none (all exist)" in capsys.readouterr().out
