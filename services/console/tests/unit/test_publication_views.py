"""Which publication steps a viewer is offered, the previous publication, the comparison."""

from __future__ import annotations

from sipas_console.publication_views import compared, previous_of, steps_for
from sipas_runtime.identity.roles import permissions_of

DRAFT = {"id": "p3", "campaign_id": "c", "period": "campaign", "state": "draft",
         "drafted_by": "lan", "drafted_at": "2026-12-07T06:00:00Z"}  # fmt: skip


def record(id_: str, state: str, at: str, period: str = "campaign", campaign: str = "c") -> dict:
    return {"id": id_, "campaign_id": campaign, "period": period, "state": state,
            "drafted_by": "x", "drafted_at": at}  # fmt: skip


def test_the_drafter_is_never_offered_the_approval_of_their_own_draft():
    both = permissions_of(["operator", "approver"])

    assert steps_for(DRAFT, "lan", both) == ["withdraw"]
    assert steps_for(DRAFT, "hoa", permissions_of(["approver"])) == ["approve"]
    assert steps_for({**DRAFT, "state": "approved"}, "lan", both) == ["publish", "withdraw"]
    assert steps_for({**DRAFT, "state": "published"}, "hoa", both) == []
    assert steps_for(DRAFT, "hoa", permissions_of(["viewer"])) == []


def test_the_previous_publication_is_the_latest_shown_before_the_draft_same_period_first():
    listing = [
        record("p1", "superseded", "2026-10-01T00:00:00Z"),
        record("p2", "published", "2026-11-01T00:00:00Z", period="2026-Q4"),
        record("p0", "withdrawn", "2026-11-15T00:00:00Z"),
        record("p9", "published", "2026-12-08T00:00:00Z"),  # after the draft
        record("o1", "published", "2026-11-20T00:00:00Z", campaign="other"),
        DRAFT,
    ]

    assert previous_of(DRAFT, listing)["id"] == "p1"
    assert previous_of({**DRAFT, "period": "2026-Q3"}, listing)["id"] == "p2"
    assert previous_of(DRAFT, [DRAFT]) is None


def figure(value: float | None, *, sufficient: bool = True) -> dict:
    display = None if value is None else f"{value:.2f}"
    return {"value": value, "display": display, "sufficient": sufficient,
            "ci_low": 40.0, "ci_high": 60.0, "ci_display": "40.00–60.00", "n": 9}  # fmt: skip


def table(*rows: tuple[str, dict]) -> dict:
    return {"table": {"rows": [{"unit": u, "name": u.upper(), "tier": "commune", "sipas": f}
                               for u, f in rows]}}  # fmt: skip


def test_each_unit_is_shown_beside_its_previous_figure_with_the_change_in_points():
    now = table(("a", figure(50.0)), ("b", figure(71.26)), ("c", figure(None, sufficient=False)))
    before = table(("a", figure(100.0)), ("b", figure(70.0)), ("c", figure(60.0)))

    rows = {r.unit: r for r in compared(now, before, "vi", "không đủ dữ liệu")}

    assert rows["a"].cells() == ["A", "50,00", "40,00–60,00", "100,00", "−50,00"]
    assert rows["b"].change == "+1,26"
    assert (rows["c"].now, rows["c"].interval, rows["c"].change) == ("không đủ dữ liệu", "—", "—")
    assert [r.before for r in compared(now, None, "en", "n/a")] == ["—", "—", "—"]
