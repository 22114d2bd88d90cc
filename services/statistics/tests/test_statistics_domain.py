"""The statistics rules, without a broker or a database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from wpis_common.errors import InvalidInput, NotFound
from wpis_statistics import codes, domain
from wpis_statistics.domain import Fact

TODAY = date(2027, 3, 15)


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        ("2009-03-16", "2027-03-15", "0-17"),  # 18 tomorrow
        ("2009-03-15", "2027-03-15", "18-24"),  # 18 today
        ("1990-04-12", "2027-03-15", "35-44"),
        ("1962-01-01", "2027-03-15", "65+"),
    ],
)
def test_age_band_is_taken_on_the_given_date(born, on, band):
    assert codes.age_band(date.fromisoformat(born), date.fromisoformat(on)) == band


def test_codes_and_their_names():
    assert codes.isco_major("7212") == "7"
    assert codes.isco_major("") == "unknown"
    assert codes.nace_section("41.20") == "F"
    assert codes.nace_section("4120") == "F"
    assert codes.nace_section("q") == "Q"
    assert codes.nace_section("99") == "U"
    assert codes.nace_section(None) == "unknown"
    assert codes.nationality_name("IND") == "India"
    assert codes.nationality_name("XXA") == "Stateless person"
    assert codes.nationality_name("QQQ") == "Unknown (QQQ)"
    assert codes.region_name("AM-ER") == "Erevan"


def profile(**changes) -> domain.Profile:
    values = dict(
        nationality="IND",
        sex="M",
        date_of_birth=date(1990, 4, 12),
        isco_major="7",
        region="AM-ER",
        kind="new",
    )
    return domain.Profile(**{**values, **changes})


def test_an_application_contributes_received_decided_and_its_outcome():
    app = domain.ApplicationState(
        profile=profile(),
        submitted_at=at("2027-01-30"),
        decided_at=at("2027-03-05"),
        outcome="rejected",
        reason_code="identity_document_invalid",
    )
    facts = domain.application_facts(app, deadline_days=30)
    assert [f.measure for f in facts] == [
        "applications_received",
        "applications_decided",
        "applications_rejected",
    ]
    decided = facts[1]
    assert decided.day == date(2027, 3, 5)
    assert decided.decision_days == "34"
    assert decided.within_deadline == "no"
    assert decided.reason_code == "identity_document_invalid"
    assert facts[2].reason_code == "identity_document_invalid"


def test_a_deadline_carried_by_the_event_wins_over_the_default():
    app = domain.ApplicationState(
        profile=profile(),
        submitted_at=at("2027-01-01"),
        deadline_at=at("2027-03-01"),
        decided_at=at("2027-02-20"),
        outcome="approved",
    )
    decided = domain.application_facts(app, deadline_days=30)[1]
    assert decided.within_deadline == "yes"
    assert decided.reason_code == ""


def test_an_application_without_its_submission_contributes_nothing_yet():
    app = domain.ApplicationState(profile=None, submitted_at=None, decided_at=at("2027-02-20"))
    assert domain.application_facts(app, 30) == []


def test_a_permit_cancelled_early_ends_the_stock_on_its_cancellation_date():
    permit = domain.PermitState(
        profile=profile(),
        issued_at=at("2027-01-10"),
        valid_from=date(2027, 2, 1),
        valid_until=date(2027, 12, 31),
        changes=(
            domain.PermitChange("permit_extended", at("2027-02-01"), date(2028, 6, 30)),
            domain.PermitChange("permit_cancelled", at("2027-03-02"), date(2027, 3, 1), "employer"),
        ),
    )
    facts = {f.measure: f for f in domain.permit_facts(permit)}
    assert facts["permit_started"].day == date(2027, 2, 1)
    assert facts["permit_ended"].day == date(2027, 3, 1)
    assert facts["permits_cancelled_early"].reason_code == "employer"
    assert facts["permits_cancelled_early"].day == date(2027, 3, 2)
    assert facts["permits_extended"].day == date(2027, 2, 1)


def test_a_permit_ends_the_day_after_its_latest_validity():
    permit = domain.PermitState(
        profile=profile(),
        issued_at=at("2027-01-10"),
        valid_from=date(2027, 2, 1),
        valid_until=date(2027, 12, 31),
        changes=(domain.PermitChange("permit_extended", at("2027-11-01"), date(2028, 6, 30)),),
    )
    ended = [f for f in domain.permit_facts(permit) if f.measure == "permit_ended"]
    assert ended[0].day == date(2028, 7, 1)


def test_a_fact_counts_in_the_total_each_dimension_and_each_pair():
    fact = Fact("permits_issued", date(2027, 1, 10), **profile().dims(date(2027, 1, 10)))
    cells = domain.cells_of(fact)
    dims = len(domain.FACT_MEASURE_DIMENSIONS["permits_issued"])
    assert len(cells) == 1 + dims + dims * (dims - 1) // 2
    assert ("permits_issued", "", "", "2027-01", "", "") in cells
    assert ("permits_issued", "nationality", "region", "2027-01", "IND", "AM-ER") in cells
    assert all(cell[1] <= cell[2] or not cell[2] for cell in cells)  # canonical order


def test_queries_are_validated_with_the_field_and_the_reason():
    with pytest.raises(NotFound):
        domain.parse_query("permits_eaten", {}, TODAY)
    with pytest.raises(InvalidInput) as error:
        domain.parse_query(
            "permits_issued",
            {
                "group_by": "month,colour",
                "nationality": "IND,XY1",
                "from": "2027-13",
                "decision_days": "3",
                "shoe_size": "42",
            },
            TODAY,
        )
    errors = error.value.details["errors"]
    assert set(errors) == {"group_by", "nationality", "from", "decision_days", "shoe_size"}
    assert "colour" in errors["group_by"][0]
    assert "XY1" in errors["nationality"][0]
    with pytest.raises(InvalidInput) as error:
        domain.parse_query("permits_issued", {"group_by": "month,sex,region"}, TODAY)
    assert "at most 2" in error.value.details["errors"]["group_by"][0]
    with pytest.raises(InvalidInput) as error:
        domain.parse_query("permits_active", {"group_by": "month"}, TODAY)
    assert "group_by" in error.value.details["errors"]


def test_a_query_is_answered_from_cells_when_two_dimensions_and_whole_months_suffice():
    def level(params):
        return domain.parse_query("permits_issued", params, TODAY).cube_dimensions()

    assert level({}) == ("", "")
    assert level({"group_by": "month,nationality", "from": "2026-01", "to": "2026-12"}) == (
        "nationality",
        "",
    )
    assert level({"group_by": "sex,nationality", "region": "AM-ER"}) is None  # three
    assert level({"group_by": "region", "sex": "F"}) == ("region", "sex")
    assert level({"group_by": "day"}) is None
    assert level({"from": "2026-01-15"}) is None
    assert domain.parse_query("permits_issued", {"to": "2027-02"}, TODAY).date_to == date(
        2027, 2, 28
    )


def test_percentiles_are_nearest_rank():
    histogram = {1: 5, 3: 3, 10: 2}  # ten decisions
    assert domain.percentile(histogram, 0.5) == 1
    assert domain.percentile(histogram, 0.9) == 10
    assert domain.percentile({}, 0.5) is None
    summary = domain.distribution_summary(histogram, within=8)
    assert summary == {
        "count": 10,
        "median_days": 1,
        "p90_days": 10,
        "within_deadline": 8,
        "within_deadline_share": 0.8,
    }


def hidden(cells):
    return {key for key, value in cells.items() if value is None}


def test_suppression_hides_small_cells_and_a_complement():
    total, cells = domain.suppress(30, {"IND": 20, "NPL": 7, "ISL": 1, "IRN": 2}, threshold=5)
    assert total == 30
    # 1 + 2 = 3 < 5: the next smallest visible cell is hidden too
    assert hidden(cells) == {"ISL", "IRN", "NPL"}
    # the total minus the visible cells is the sum of at least two hidden cells, >= 5
    assert total - sum(v for v in cells.values() if v is not None) >= 5


def test_a_single_small_cell_never_stands_alone():
    _, cells = domain.suppress(26, {"IND": 20, "ISL": 1, "NPL": 5}, threshold=5)
    assert hidden(cells) == {"ISL", "NPL"}


def test_a_small_total_hides_the_whole_table():
    total, cells = domain.suppress(4, {"IND": 3, "ISL": 1}, threshold=5)
    assert total is None and hidden(cells) == {"IND", "ISL"}


def test_a_table_of_large_cells_is_published_whole():
    assert domain.suppress(15, {"M": 10, "F": 5}, threshold=5) == (15, {"M": 10, "F": 5})
