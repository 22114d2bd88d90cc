"""Routes for statistics: queries for officers and supervisors, the public
open-data export, and the console's statistics page (docs/statistics.md).

``GET /api/v1/statistics``                      measures, dimensions, parameters
``GET /api/v1/statistics/<measure>?group_by=a,b&from=&to=&on=&<dimension>=v1,v2``
``GET /api/v1/statistics/export/{csv,json,dictionary}[?from=YYYY-MM&to=YYYY-MM]``
``GET /statistics``                             the page with the charts (SVG)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.base import API, ApiBase, http, invalid, not_found
from gateway.session import PUBLIC, allow
from wpis_common.caller import ADMIN, AUDITOR, DECISION_OFFICER, INTAKE_OFFICER, SUPERVISOR

READERS = (INTAKE_OFFICER, DECISION_OFFICER, SUPERVISOR, AUDITOR, ADMIN)

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
EXPORT_FORMATS = ("csv", "json", "dictionary")


class StatisticsApi(ApiBase):
    statistics: Any

    @http("GET", f"{API}/statistics")
    @allow(*READERS)
    def statistics_catalog(self, request: Request) -> Response:
        return self.call(lambda: self.statistics.catalog())

    @http("GET", f"{API}/statistics/<string:measure>")
    @allow(*READERS)
    def statistics_query(self, request: Request, measure: str) -> Response:
        # A repeated parameter means the same as a comma-separated one.
        params = {key: ",".join(request.args.getlist(key)) for key in request.args}
        return self.call(lambda: self.statistics.query(measure, params))

    @http("GET", f"{API}/statistics/export/<string:fmt>")
    @allow(PUBLIC)
    def statistics_export(self, request: Request, fmt: str) -> Response:
        if fmt not in EXPORT_FORMATS:
            return not_found(f"export formats: {', '.join(EXPORT_FORMATS)}")
        if fmt == "dictionary":
            return self.call(lambda: self.statistics.dictionary())
        months = {key: request.args.get(key) or None for key in ("from", "to")}
        errors = {
            key: ["must be a month, YYYY-MM"]
            for key, value in months.items()
            if value is not None and not MONTH.match(value)
        }
        if errors:
            return invalid(errors)
        if fmt == "json":
            return self.call(lambda: self.statistics.export(months["from"], months["to"]))
        return self._text(
            lambda: self.statistics.export_csv(months["from"], months["to"]),
            "text/csv",
            {"Content-Disposition": 'attachment; filename="wpis-statistics.csv"'},
        )

    @http("GET", "/statistics")
    @allow(PUBLIC)
    def statistics_page(self, request: Request) -> Response:
        return self._text(lambda: self.statistics.dashboard(), "text/html")

    def _text(
        self, rpc_call: Callable[[], str], mimetype: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Like ``call``, for an answer that is a document rather than JSON."""
        answer = self.call(rpc_call)
        if answer.status_code != 200:
            return answer
        text = json.loads(answer.get_data(as_text=True))
        return Response(text, status=200, mimetype=mimetype, headers=headers or {})
