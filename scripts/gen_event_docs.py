"""Generate the event catalog in docs/events/ from the services' marshmallow schemas.

    python scripts/gen_event_docs.py           # write (refuses a breaking change)
    python scripts/gen_event_docs.py --check   # exit 1 if the committed files are stale

``make events-docs`` runs the first. A schema change that breaks a committed
schema of the same version is refused: bump the event's schema_version
(docs/events/README.md has the rule).
"""

from __future__ import annotations

import argparse
import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from wpis_common import event_docs  # noqa: E402
from wpis_common.topology import (  # noqa: E402
    DEFAULT_AGENCY_QUEUES_FILE,
    REPO_ROOT,
    all_subscriptions,
    load_agency_queues,
)


def generate() -> dict:
    entries = event_docs.catalog_entries(event_docs.producer_catalogs())
    return event_docs.generated_files(
        entries, all_subscriptions(), load_agency_queues(DEFAULT_AGENCY_QUEUES_FILE)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    files = generate()
    breaking = event_docs.compatibility_problems(files)
    if breaking:
        print("breaking changes to committed event schemas (bump schema_version instead):")
        print("\n".join(f"  {problem}" for problem in breaking))
        return 1
    stale = event_docs.differences(files)
    if args.check:
        print("\n".join(stale) if stale else "event docs are up to date")
        return 1 if stale else 0
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    print(f"wrote {len(files)} files ({len(stale)} changed) under {REPO_ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
