"""One JSON object per log line. Never put personal data in a log message.

Each line carries ``time``, ``level``, ``service``, ``logger`` and ``message``;
a line logged by a worker also carries its ``entrypoint`` (``service.method``),
``call_id`` and ``call_id_stack``: Nameko passes the call id stack along RPC
calls, so one request can be followed across services by its first call id
(``call_id_stack[0]``). The ``Database`` provider binds the worker context
(see :mod:`wpis_common.observability`); a worker's log lines then get it.

Log identifiers (application ids, permit numbers, event ids), never payloads.
As a safety net e-mail addresses are masked in messages and tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any

from eventlet import corolocal

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MASK = "<redacted>"

# One per green thread: each Nameko worker runs in a green thread of its own.
_worker = corolocal.local()


def bind_worker(service: str, entrypoint: str, call_id_stack: list[str]) -> None:
    """Tag the log lines of the current (worker) green thread."""
    _worker.context = {
        "service": service,
        "entrypoint": f"{service}.{entrypoint}",
        "call_id": call_id_stack[-1] if call_id_stack else None,
        "call_id_stack": list(call_id_stack),
    }


def unbind_worker() -> None:
    _worker.context = None


def worker_context() -> dict[str, Any] | None:
    return getattr(_worker, "context", None)


def redact(text: str) -> str:
    return EMAIL.sub(MASK, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": os.environ.get("WPIS_SERVICE", record.name.split(".")[0]),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        context = worker_context()
        if context:
            entry.update(context)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO") -> dict:
    """A ``dictConfig`` for services: JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "wpis_common.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["stderr"]},
    }
