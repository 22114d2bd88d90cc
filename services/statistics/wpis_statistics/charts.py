"""The console's statistics page: figures from the read model, charts as
server-side SVG (pygal, no JavaScript), one self-contained HTML page."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pygal
from pygal.style import Style
from sqlalchemy.orm import Session

from wpis_statistics import domain, queries
from wpis_statistics.export import month_of

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#5b6570",
    colors=("#12355b", "#2a7ab0", "#d98c1f", "#3b8f5a", "#a23b3b"),
    font_family="system-ui, sans-serif",
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    legend_font_size=12,
)
DECISION_BUCKETS = ((0, 7), (8, 14), (15, 30), (31, 60), (61, 90), (91, None))
TOP_N = 10


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: str
    note: str = ""


def months_back(today: date, count: int) -> list[str]:
    months = []
    cursor = today.replace(day=1)
    for _ in range(count):
        months.append(month_of(cursor))
        cursor = (cursor - timedelta(days=1)).replace(day=1)
    return list(reversed(months))


def _query(session: Session, measure: str, today: date, **params: str) -> dict[str, Any]:
    return queries.run_query(session, domain.parse_query(measure, params, today))


def _config(chart: Any, title: str, x_title: str, y_title: str) -> Any:
    chart.config.js = []  # no script from elsewhere: the SVG is static
    chart.config.disable_xml_declaration = True
    chart.title = title
    chart.x_title = x_title or None
    chart.y_title = y_title or None
    chart.config.show_legend = False
    chart.config.print_values = True
    chart.config.explicit_size = True
    return chart


def _render(chart: Any) -> str:
    return chart.render(is_unicode=True)


def _bar(title: str, x_title: str, y_title: str, labels: list[str], values: list, **kw) -> str:
    chart = pygal.Bar(
        width=560, height=340, style=STYLE, x_label_rotation=kw.pop("rotate", 0), **kw
    )
    _config(chart, title, x_title, y_title)
    chart.x_labels = labels
    chart.add(y_title, values)
    return _render(chart)


def _hbar(title: str, x_title: str, labels: list[str], values: list[int]) -> str:
    chart = pygal.HorizontalBar(width=560, height=340, style=STYLE)
    # pygal puts a horizontal chart's axis titles on the wrong sides: say it in the title
    _config(chart, f"{title}: {x_title}", "", "")
    chart.x_labels = labels
    chart.add(x_title, values)
    return _render(chart)


def permits_by_month(session: Session, today: date) -> Chart:
    months = months_back(today, 24)
    result = _query(
        session, "permits_issued", today, group_by="month", **{"from": months[0], "to": months[-1]}
    )
    found = {row["month"]: row["count"] for row in result["rows"]}
    chart = pygal.Line(width=1140, height=340, style=STYLE, x_label_rotation=30, fill=True)
    _config(chart, "Permits issued by month", "month", "permits issued")
    chart.x_labels = months
    chart.add("permits issued", [found.get(m, 0) for m in months])
    return Chart("permits-by-month", "Permits issued by month", _render(chart))


def _last_year(today: date) -> dict[str, str]:
    months = months_back(today, 12)
    return {"from": months[0], "to": months[-1]}


def top_breakdown(session: Session, today: date, dimension: str, title: str, key: str) -> Chart:
    result = _query(session, "permits_issued", today, group_by=dimension, **_last_year(today))
    rows = sorted(result["rows"], key=lambda r: (-r["count"], r[dimension]))[:TOP_N]
    rows.reverse()  # largest at the top of a horizontal bar chart
    labels = [row.get(f"{dimension}_label", row[dimension]) for row in rows]
    svg = _hbar(title, "permits issued, last 12 months", labels, [r["count"] for r in rows])
    return Chart(key, title, svg)


def decision_time(session: Session, today: date) -> tuple[Chart, Chart]:
    period = _last_year(today)
    query = domain.parse_query("decision_time", period, today)
    histograms, _, _ = queries.decision_histograms(session, query)
    histogram = histograms.get((), {})
    summary = queries.run_query(session, query)["total"]
    counts = [
        sum(n for days, n in histogram.items() if low <= days and (high is None or days <= high))
        for low, high in DECISION_BUCKETS
    ]
    labels = [f"{low}-{high}" if high is not None else f"{low}+" for low, high in DECISION_BUCKETS]
    note = (
        f"median {summary['median_days']} days, 90th percentile {summary['p90_days']} days, "
        f"{summary['count']} decisions"
        if summary["count"]
        else "no decisions yet"
    )
    distribution = Chart(
        "decision-time",
        "Decision time",
        _bar(
            "Days from submission to decision (last 12 months)", "days", "decisions", labels, counts
        ),
        note,
    )
    months = months_back(today, 12)
    by_month = queries.run_query(
        session, domain.parse_query("decision_time", {"group_by": "month", **period}, today)
    )
    shares = {row["month"]: row["within_deadline_share"] for row in by_month["rows"]}
    values = [round(100 * shares[m], 1) if shares.get(m) is not None else None for m in months]
    share = summary.get("within_deadline_share")
    within = Chart(
        "within-deadline",
        "Decided within the statutory deadline",
        _bar(
            "Share decided within the deadline, by month (%)",
            "month of decision",
            "% within deadline",
            months,
            values,
            rotate=30,
            range=(0, 100),
        ),
        f"{round(100 * share, 1)}% within the deadline over 12 months" if share is not None else "",
    )
    return distribution, within


def headline(session: Session, today: date) -> list[tuple[str, str]]:
    period = _last_year(today)

    def total(measure: str, **params: str) -> int:
        return _query(session, measure, today, **params)["total"]

    figures = [
        ("Permits valid today", total("permits_active")),
        ("Applications received, 12 months", total("applications_received", **period)),
        ("Permits issued, 12 months", total("permits_issued", **period)),
        ("Refusals, 12 months", total("applications_rejected", **period)),
        (
            "Permits ended early, 12 months",
            total("permits_cancelled_early", **period) + total("permits_revoked", **period),
        ),
    ]
    return [(label, f"{value:,}") for label, value in figures]


def dashboard(session: Session, today: date, now: datetime) -> str:
    distribution, within = decision_time(session, today)
    charts = [
        permits_by_month(session, today),
        top_breakdown(session, today, "nationality", "Top nationalities", "top-nationalities"),
        top_breakdown(session, today, "isco_major", "Sectors (ISCO-08 major groups)", "sectors"),
        top_breakdown(session, today, "region", "Work regions", "regions"),
        distribution,
        within,
    ]
    return render_page(headline(session, today), charts, now)


PAGE_STYLE = """
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1b1f24; background: #f6f7f9; }
  header { background: #12355b; color: #fff; padding: 12px 24px; }
  header h1 { margin: 0; font-size: 20px; }
  header a { color: #cfe3f7; }
  main { padding: 16px 24px; max-width: 1200px; }
  .figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 16px; padding: 0; }
  .figures li { list-style: none; background: #fff; border: 1px solid #dde1e6; padding: 8px 14px; }
  .figures strong { display: block; font-size: 22px; }
  .charts { display: grid; gap: 16px;
            grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); }
  figure { margin: 0; background: #fff; border: 1px solid #dde1e6; padding: 8px; }
  figure.wide { grid-column: 1 / -1; }
  figcaption { font-size: 13px; color: #5b6570; padding: 4px 6px; }
  footer { color: #5b6570; font-size: 13px; margin-top: 16px; }
"""


def render_page(figures: list[tuple[str, str]], charts: list[Chart], now: datetime) -> str:
    items = "".join(
        f"<li>{html.escape(label)}<strong>{html.escape(value)}</strong></li>"
        for label, value in figures
    )
    blocks = "".join(
        f'<figure class="{"wide" if chart.key == "permits-by-month" else ""}" '
        f'data-chart="{chart.key}" aria-label="{html.escape(chart.title)}">{chart.svg}'
        f"<figcaption>{html.escape(chart.title)}"
        f"{(' · ' + html.escape(chart.note)) if chart.note else ''}</figcaption></figure>"
        for chart in charts
    )
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WPIS statistics</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<header><h1>WPIS — statistics on work permits</h1>
<a href="/">officer console</a> · <a href="/api/v1/statistics">statistics API</a> ·
<a href="/api/v1/statistics/export/csv">open data (CSV)</a></header>
<main>
<ul class="figures">{items}</ul>
<div class="charts">{blocks}</div>
<footer>Live figures from the statistics read model (updated as events arrive),
as of {html.escape(stamp)}. Dates are UTC.</footer>
</main>
</body>
</html>
"""
