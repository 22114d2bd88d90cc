"""``wpis-run <service>``: start one WPIS service with its own config.

The same as ``nameko run --config services/<service>/config.yaml
<service>.service``, plus: logs name the service, and eventlet's
maintenance-mode banner (ADR-002) is not printed by every process.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one WPIS service.")
    parser.add_argument("service", help="the service package, e.g. permits")
    parser.add_argument("--config", help="its config.yaml (default: beside the package)")
    args, nameko_args = parser.parse_known_args(argv)
    os.environ.setdefault("WPIS_SERVICE", args.service)
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

    from nameko.cli import cli

    from wpis_common.config import service_config_path

    config_path = args.config or str(service_config_path(args.service))
    command = ["run", "--config", config_path, *nameko_args, f"{args.service}.service"]
    return cli.main(args=command, prog_name="wpis-run", standalone_mode=True) or 0


if __name__ == "__main__":
    sys.exit(main())
