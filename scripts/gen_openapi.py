"""Generate the gateway's OpenAPI document from the routes table and the services'
marshmallow schemas (gateway/openapi.py).

    python scripts/gen_openapi.py           # write services/gateway/gateway/static/openapi.json
    python scripts/gen_openapi.py --check   # exit 1 if the committed file is stale

``make openapi`` runs the first.
"""

from __future__ import annotations

import argparse
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from gateway.openapi import SPEC_FILE, render_spec  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale file")
    args = parser.parse_args(argv)
    text = render_spec()
    current = SPEC_FILE.read_text(encoding="utf-8") if SPEC_FILE.exists() else ""
    if args.check:
        print("openapi.json is up to date" if current == text else f"stale: {SPEC_FILE}")
        return 0 if current == text else 1
    SPEC_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SPEC_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
