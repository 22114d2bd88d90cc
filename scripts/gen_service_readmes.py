"""Write the configuration section of every services/<svc>/README.md from its
config.yaml, so the documented env vars and defaults cannot drift.

    python scripts/gen_service_readmes.py          # rewrite the generated sections
    python scripts/gen_service_readmes.py --check  # exit 1 if an env var is undocumented

The text between the ``<!-- config:begin -->`` and ``<!-- config:end -->``
markers is generated; the rest of each README is written by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- config:begin -->", "<!-- config:end -->"
# (directory, package, health port)
SERVICES = (
    ("applications", "applications", 8201),
    ("identity_gateway", "identity_gateway", 8202),
    ("permits", "permits", 8203),
    ("contracts", "contracts", 8204),
    ("notifications", "notifications", 8205),
    ("gateway", "gateway", 8206),
    ("statistics", "wpis_statistics", 8207),
)
SETTING = re.compile(r"^(?P<key>[A-Za-z_][\w]*):\s*(?P<value>.*?)\s*(?:#\s*(?P<note>.*))?$")
ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):(?P<default>[^}]*)\}")

COMMON_SETTINGS = (
    ("`HEALTH_PORT` (or `{prefix}_HEALTH_PORT`)", "`{port}`",
     "port of `/livez`, `/readyz`, `/metrics`; `0` picks a free port, `-1` turns it off"),
    ("`HEALTH_ADDRESS`", "`0.0.0.0`", "address the health server listens on"),
    ("`WPIS_QUEUE_TYPE`", "`classic`",
     "`quorum` declares the durable event queues as quorum queues (with `x-delivery-limit`)"),
    ("`WPIS_EVENT_MAX_ATTEMPTS`", "`5`",
     "failed handler attempts before a message is parked in `wpis.dlq.<service>`"),
    ("`WPIS_EVENT_RETRY_DELAY`", "`2.0`", "seconds before a failed event is retried"),
    ("`LOG_LEVEL`", "`INFO`", "JSON log lines on stderr"),
    ("`WPIS_CONFIG`", "beside the package (`/app/config.yaml` in the image)",
     "the config file the entrypoint passes on"),
    ("`WPIS_WAIT_TIMEOUT`", "`60`",
     "seconds the entrypoint waits for the broker and the database"),
    ("`WPIS_WAIT_INTERVAL`", "`2`", "seconds between those tries"),
    ("`WPIS_MIGRATE`", "`1`", "`0`: the entrypoint does not migrate (a separate job does)"),
)  # fmt: skip
COMMON = (
    "Every service also reads these (the shared plumbing in `libs/wpis_common`):\n\n"
    "| env var | default | what |\n|---|---|---|\n"
    + "".join(f"| {name} | {default} | {what} |\n" for name, default, what in COMMON_SETTINGS)
)


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    default: str
    note: str


def settings_of(config_text: str) -> list[Setting]:
    found: list[Setting] = []
    comment: list[str] = []
    for line in config_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
            continue
        match = SETTING.match(line)
        if not match:
            comment = []
            continue
        header = any("Every value comes from an env var" in text for text in comment)
        note = match.group("note") or ("" if header else " ".join(comment))
        for env in ENV_VAR.finditer(match.group("value")):
            found.append(Setting(match.group("key"), env["name"], env["default"], note))
        comment = []
    return found


def section(directory: str, package: str, port: int) -> str:
    config_text = (REPO_ROOT / "services" / directory / "config.yaml").read_text()
    rows = [
        f"| `{s.env}` | `{s.default}` | `{s.key}` | {s.note.replace('|', '/')} |"
        for s in settings_of(config_text)
    ]
    table = "\n".join(["| env var | default | config key | notes |", "|---|---|---|---|", *rows])
    prefix = "STATISTICS" if package == "wpis_statistics" else package.upper()
    return (
        f"{BEGIN}\n<!-- generated from config.yaml by scripts/gen_service_readmes.py -->\n"
        f"Settings in `services/{directory}/config.yaml`, each from an env var:\n\n{table}\n\n"
        f"{COMMON.format(prefix=prefix, port=port)}{END}"
    )


def skeleton(directory: str, package: str, port: int) -> str:
    return f"""# {directory}

Run it alone (from the repo root, with a virtualenv's `bin/` on `PATH`):

```sh
deploy/entrypoint.sh {package}     # wait for broker + database, migrate, start
```

or as its image: `docker build -f services/{directory}/Dockerfile -t wpis/{directory} .`
(the image's entrypoint is the same script). Health and metrics:
`http://<host>:{port}/livez`, `/readyz`, `/metrics`. Operations: docs/operations.md.

## Configuration

{BEGIN}
{END}
"""


def render(readme: str, generated: str) -> str:
    before, _, rest = readme.partition(BEGIN)
    _, _, after = rest.partition(END)
    return before + generated + after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs")
    args = parser.parse_args(argv)
    stale = []
    for directory, package, port in SERVICES:
        path = REPO_ROOT / "services" / directory / "README.md"
        current = path.read_text() if path.exists() else skeleton(directory, package, port)
        if BEGIN not in current:
            current += f"\n## Configuration\n\n{BEGIN}\n{END}\n"
        wanted = render(current, section(directory, package, port))
        if args.check:
            config_text = (REPO_ROOT / "services" / directory / "config.yaml").read_text()
            missing = [s.env for s in settings_of(config_text) if f"`{s.env}`" not in current]
            if missing:
                stale.append(f"services/{directory}/README.md lacks {', '.join(missing)}")
        elif wanted != (path.read_text() if path.exists() else None):
            path.write_text(wanted)
    if args.check and stale:
        print("run python scripts/gen_service_readmes.py:", "; ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
