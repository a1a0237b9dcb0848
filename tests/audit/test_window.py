"""The query window: days back from today, or fixed UTC days (``since``/``until``), in one place."""

from __future__ import annotations

from datetime import date

import pytest

from kmslab.audit import AuditError, get_query, load_queries
from kmslab.audit.queries import Window, day_folder, render

pytestmark = pytest.mark.unit


def test_days_render_exactly_as_before() -> None:
    query = get_query("kms_failed_calls")
    expected = query.sql.replace("{{table}}", "t").replace("{{days}}", "7")
    assert render(query, table="t", days=7) == expected
    assert render(query, table="t", window=Window(days=7)) == expected
    assert render(query, table="t", window=Window()) == render(query, table="t", days=30)


@pytest.mark.parametrize("query", load_queries(), ids=lambda q: q.name)
def test_every_query_takes_a_fixed_window(query: object) -> None:
    from kmslab.audit.queries import NamedQuery

    assert isinstance(query, NamedQuery)
    text = render(query, window=Window(since=date(2026, 1, 2), until=date(2026, 1, 5)))
    assert "\"timestamp\" BETWEEN '2026/01/02' AND '2026/01/05'" in text
    assert "current_date" not in text and "{{" not in text


def test_fixed_window_bounds() -> None:
    assert Window(since=date(2026, 1, 2)).predicate() == "\"timestamp\" >= '2026/01/02'"
    assert Window(until=date(2026, 1, 5), days=3).predicate() == "\"timestamp\" BETWEEN '2026/01/02' AND '2026/01/05'"
    assert Window(until=date(2026, 1, 5)).first_day(date(2030, 1, 1)) == date(2025, 12, 6)
    assert Window(days=2).first_day(date(2026, 1, 5)) == date(2026, 1, 3)
    assert not Window(days=2).fixed and Window(until=date(2026, 1, 1)).fixed
    assert day_folder(date(999, 1, 2)) == "0999/01/02"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "1 to 3650 days"),
        ({"days": 3651}, "1 to 3650 days"),
        ({"days": True}, "1 to 3650 days"),
        ({"days": 3, "since": date(2026, 1, 1)}, "--days or --since"),
        ({"since": date(2026, 1, 2), "until": date(2026, 1, 1)}, "starts after it ends"),
    ],
)
def test_invalid_windows_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AuditError, match=message):
        Window(**kwargs)  # type: ignore[arg-type]


def test_the_start_cannot_fall_before_year_one() -> None:
    with pytest.raises(AuditError, match="before year 1"):
        Window(until=date(1, 1, 2), days=5).first_day(date(2026, 1, 1))
