"""``wpis``: work WPIS cases from a terminal, over the HTTP API.

wpis login                         # once; the token is kept in your config dir (0600)
wpis cases list --status identity_verified
wpis cases show 3f2c...
wpis cases decide 3f2c... approve
wpis permits verify WP-2026-000123
wpis events tail --producer permits
wpis export cases --format csv -o cases.csv
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from wpis_cli import formatting as fmt
from wpis_cli.api import ApiError, Client
from wpis_cli.config import Config, config_path, parse_headers, resolve_url

PRODUCERS = ("applications", "identity_gateway", "permits", "contracts", "notifications")

app = typer.Typer(
    help="WPIS command-line client: cases, decisions, permits, events, exports.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
cases_app = typer.Typer(help="List, show and decide applications.", no_args_is_help=True)
permits_app = typer.Typer(help="Show and verify permits.", no_args_is_help=True)
events_app = typer.Typer(help="Follow and replay published events.", no_args_is_help=True)
export_app = typer.Typer(help="Export listings as CSV or JSON.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(permits_app, name="permits")
app.add_typer(events_app, name="events")
app.add_typer(export_app, name="export")

out = Console()
err = Console(stderr=True)


class State:
    url_option: str | None = None
    headers: dict[str, str] = {}
    as_json: bool = False


state = State()


@app.callback()
def main_options(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="WPIS_URL",
            help="API base URL [default: saved, or http://127.0.0.1:8000]",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="extra request header 'Name: value' (repeatable)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the API's JSON instead of tables")
    ] = False,
) -> None:
    state.url_option = url
    try:
        state.headers = parse_headers(header or [])
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--header") from None
    state.as_json = as_json


def client() -> Client:
    config = Config.load()
    return Client(resolve_url(state.url_option, config), config.access_token, state.headers)


def fail(error: ApiError) -> NoReturn:
    err.print(
        fmt.error_text(error.status, error.code, error.message, error.fields),
        style="red",
        markup=False,
    )
    raise typer.Exit(1)


def show_json(value: Any) -> None:
    sys.stdout.write(fmt.to_json(value))


def call(request: Callable[[], Any]) -> Any:
    """The API's answer to ``request``; on an API error, print its body and exit 1."""
    try:
        return request()
    except ApiError as error:
        fail(error)


def respond(request: Callable[[], Any], render: Callable[[Any], None]) -> Any:
    """Call the API and print its answer: as JSON with --json, else with ``render``."""
    answer = call(request)
    if state.as_json:
        show_json(answer)
    else:
        render(answer)
    return answer


# -- account -------------------------------------------------------------------------


@app.command()
def login(
    username: Annotated[
        str, typer.Option("--username", "-u", prompt=True, help="your WPIS user name")
    ],
    password: Annotated[
        str | None,
        typer.Option(
            envvar="WPIS_PASSWORD", help="[default: prompted, hidden]", show_default=False
        ),
    ] = None,
) -> None:
    """Log in and keep the token in your config file (readable by you only)."""
    password = password or typer.prompt("Password", hide_input=True)
    config = Config.load()
    config.url = resolve_url(state.url_option, config)
    tokens = call(lambda: Client(config.url, headers=state.headers).login(username, password))
    config.username = username
    config.access_token = tokens.get("access_token")
    config.refresh_token = tokens.get("refresh_token")
    config.token_type = tokens.get("token_type", "bearer")
    config.expires_at = time.time() + float(tokens.get("expires_in") or 0) or None
    path = config.save()
    out.print(f"logged in as [bold]{username}[/] at {config.url} (token in {path})")


@app.command()
def logout() -> None:
    """Forget the saved token (and tell the API, when it can revoke it)."""
    config = Config.load()
    if config.access_token:
        with contextlib.suppress(ApiError):  # the local token is forgotten anyway
            client().post("/auth/logout", {"refresh_token": config.refresh_token})
    config.forget_tokens()
    config.save()
    out.print("logged out")


@app.command("config")
def show_config() -> None:
    """Where the config file is and which API address is used."""
    config = Config.load()
    out.print(fmt.key_value_table([
        ("Config file", str(config_path())),
        ("API", resolve_url(state.url_option, config)),
        ("User", config.username),
        ("Logged in", bool(config.access_token)),
    ]))  # fmt: skip


# -- cases ---------------------------------------------------------------------------

StatusOpt = Annotated[list[str] | None, typer.Option("--status", "-s", help="status (repeatable)")]
KindOpt = Annotated[str | None, typer.Option(help="new, extension or amendment")]
EmployerOpt = Annotated[str | None, typer.Option(help="employer's 8-digit tax id")]
NationalityOpt = Annotated[str | None, typer.Option(help="worker's nationality, ISO alpha-3")]
OverdueOpt = Annotated[
    bool | None, typer.Option("--overdue/--not-overdue", help="past the deadline")
]
AssignedOpt = Annotated[str | None, typer.Option("--assigned-to", help="officer")]
SearchOpt = Annotated[str | None, typer.Option("--search", "-q", help="search text")]
LimitOpt = Annotated[int, typer.Option(help="page size (1-500)")]
AllOpt = Annotated[bool, typer.Option("--all", help="follow every page")]


def _filters(status, kind, employer, nationality, overdue, assigned_to, search, limit) -> dict:
    return {
        "status": status or None, "kind": kind, "employer": employer,
        "nationality": nationality, "overdue": overdue, "assigned_to": assigned_to,
        "q": search, "limit": limit,
    }  # fmt: skip


@cases_app.command("list")
def list_cases(
    status: StatusOpt = None,
    kind: KindOpt = None,
    employer: EmployerOpt = None,
    nationality: NationalityOpt = None,
    overdue: OverdueOpt = None,
    assigned_to: AssignedOpt = None,
    search: SearchOpt = None,
    limit: LimitOpt = 50,
    all_pages: AllOpt = False,
) -> None:
    """The queue: applications matching the filters (overdue ones in red)."""
    filters = _filters(status, kind, employer, nationality, overdue, assigned_to, search, limit)
    respond(
        lambda: client().list_cases(filters, all_pages),
        lambda items: out.print(fmt.cases_table(items)),
    )


@cases_app.command("show")
def show_case(application_id: str) -> None:
    """One application: applicant, job, identity, fee, deadline and its history."""

    def render(case: dict[str, Any]) -> None:
        out.print(fmt.key_value_table(fmt.case_summary(case), title="Application"))
        if case.get("history"):
            out.print(fmt.history_table(case["history"]))

    respond(lambda: client().get(f"/applications/{application_id}"), render)


@cases_app.command("decide")
def decide(
    application_id: str,
    decision: Annotated[str, typer.Argument(help="approve or reject")],
    reason: Annotated[str, typer.Option(help="why (required to reject)")] = "",
    reason_code: Annotated[str | None, typer.Option(help="a refusal reason code")] = None,
) -> None:
    """Approve or reject an application."""
    body = {"decision": decision, "reason": reason, "reason_code": reason_code}
    _act(application_id, "decision", {k: v for k, v in body.items() if v is not None})


@cases_app.command("send-back")
def send_back(
    application_id: str,
    reason: Annotated[str, typer.Option(help="what the employer must correct")],
    fix: Annotated[list[str] | None, typer.Option(help="a field to fix (repeatable)")] = None,
) -> None:
    """Send an application back to the employer for corrections."""
    _act(application_id, "send-back", {"reason": reason, "fix": fix or []})


@cases_app.command("assign")
def assign(application_id: str, officer: Annotated[str, typer.Argument(help="officer")]) -> None:
    """Assign an application to an officer."""
    _act(application_id, "assignment", {"officer": officer})


def _act(application_id: str, action: str, body: dict[str, Any]) -> None:
    respond(
        lambda: client().post(f"/applications/{application_id}/{action}", body),
        lambda case: out.print(f"{case.get('id')}: now [bold]{case.get('status')}[/]"),
    )


# -- permits -------------------------------------------------------------------------


@permits_app.command("show")
def show_permit(number: str) -> None:
    """A permit in the register, with its status history."""
    respond(
        lambda: client().get(f"/permits/{number}"),
        lambda permit: out.print(fmt.key_value_table(fmt.permit_summary(permit), title="Permit")),
    )


@permits_app.command("verify")
def verify_permit(
    number: str,
    date_of_birth: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD: also check the holder")
    ] = None,
) -> None:
    """Is this permit valid today? (the public check). Exit status 3 if not valid."""

    def render(answer: dict[str, Any]) -> None:
        style = "green" if answer.get("result") == "valid" else "red"
        out.print(fmt.key_value_table(fmt.verification_summary(answer)), style=style)

    answer = respond(
        lambda: client().get(f"/verify/{number}", {"date_of_birth": date_of_birth}), render
    )
    if answer.get("result") != "valid":
        raise typer.Exit(3)


# -- events --------------------------------------------------------------------------

ProducerOpt = Annotated[str, typer.Option(help=f"one of: {', '.join(PRODUCERS)}")]


@events_app.command("replay")
def replay(
    producer: ProducerOpt,
    after: Annotated[
        int, typer.Option("--after", "--from", help="sequence number to start after")
    ] = 0,
    limit: Annotated[int, typer.Option(help="page size (1-1000)")] = 200,
    until_end: Annotated[bool, typer.Option("--to-end/--one-page", help="read every page")] = True,
) -> None:
    """Print a producer's events after a sequence number, in order."""

    def read() -> list[dict]:
        api, start = client(), after
        events: list[dict] = []
        while True:
            page = api.events(producer, start, limit)
            events += page["events"]
            if not until_end or not page["events"]:
                return events
            start = page["next_after"]

    def render(events: list[dict]) -> None:
        for event in events:
            out.print(fmt.event_line(event), markup=False, highlight=False)

    respond(read, render)


@events_app.command("tail")
def tail(
    producer: ProducerOpt,
    after: Annotated[
        int | None, typer.Option(help="start after this sequence [default: the end]")
    ] = None,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="poll once and stop")] = False,
) -> None:
    """Follow a producer's new events (polls GET /api/v1/events; Ctrl-C stops)."""
    api = client()
    try:
        if after is None:
            after = _last_sequence(api, producer)
        while True:
            page = api.events(producer, after, 500)
            for event in page["events"]:
                if state.as_json:
                    show_json(event)
                else:
                    out.print(fmt.event_line(event), markup=False, highlight=False)
            after = page["next_after"]
            if once:
                return
            if not page["events"]:
                time.sleep(interval)
    except ApiError as error:
        fail(error)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _last_sequence(api: Client, producer: str) -> int:
    after = 0
    while True:
        page = api.events(producer, after, 1000)
        if not page["events"]:
            return after
        after = page["next_after"]


# -- export --------------------------------------------------------------------------


@export_app.command("cases")
def export_cases(
    file_format: Annotated[str, typer.Option("--format", "-f", help="csv or json")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file [default: stdout]")
    ] = None,
    status: StatusOpt = None,
    kind: KindOpt = None,
    employer: EmployerOpt = None,
    nationality: NationalityOpt = None,
    overdue: OverdueOpt = None,
    assigned_to: AssignedOpt = None,
    search: SearchOpt = None,
    limit: LimitOpt = 500,
) -> None:
    """Every application matching the filters (all pages), as CSV or JSON."""
    if file_format not in ("csv", "json"):
        raise typer.BadParameter("csv or json", param_hint="--format")
    filters = _filters(status, kind, employer, nationality, overdue, assigned_to, search, limit)
    items = call(lambda: client().list_cases(filters, all_pages=True))
    text = fmt.to_csv(items) if file_format == "csv" else fmt.to_json(items)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(items)} applications to {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
