from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_alerts.api.views import due
from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.cases import MOVES, SYSTEM, Actor, Case, attach, open_case
from sipas_alerts.domain.errors import (
    ActionNotAllowedError,
    IllegalTransitionError,
    NoteRequiredError,
    StaleCaseError,
)
from sipas_alerts.domain.grouping import GroupState, by_group, place
from sipas_alerts.domain.kpis import kpis
from sipas_alerts.domain.lifecycle import act, case_event, check_deadlines, note_on
from sipas_alerts.domain.policy import SlaPolicy
from sipas_contracts.ids import uuid7

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = WorkingCalendar()
SLA = SlaPolicy()
MONDAY_9 = datetime(2026, 11, 16, 9, 0, tzinfo=VN)
HANDLER = Actor("cb-co-dam", "handler")
SUPERVISOR = Actor("snv-1", "supervisor")
OBSERVER = Actor("mttq-1", "observer")


def hit(severity="warning", *, callback=None, at=MONDAY_9):
    return Hit(
        rule="low_rating",
        severity=severity,
        unit="ht-nx-co-dam",
        campaign_id="c2026",
        window="2026-W47",
        occurred_at=at,
        source_event_id=uuid7(),
        summary_vi="Đánh giá thấp",
        summary_en="Low rating",
        sealed_callback=callback,
    )


def new_case(*hits, now=MONDAY_9) -> Case:
    return open_case(hits or (hit(),), seq=1, now=now, sla=SLA, calendar=CALENDAR)


def do(case, action, actor=HANDLER, *, now=MONDAY_9, note=None, version=None):
    return act(
        case,
        action,
        actor,
        now=now,
        sla=SLA,
        calendar=CALENDAR,
        note=note,
        expected_version=version,
    )


def test_a_new_case_has_working_day_deadlines():
    case = new_case()

    assert case.state == "open"
    assert case.acknowledge_due_at == datetime(2026, 11, 17, 9, 0, tzinfo=VN)
    assert case.resolve_due_at == datetime(2026, 11, 23, 9, 0, tzinfo=VN)
    assert case.next_due_at == case.acknowledge_due_at
    assert [e.action for e in case.audit] == ["opened"]


def test_the_case_id_is_stable_for_the_group_and_sequence():
    first = hit()

    assert new_case(first).case_id == new_case(first).case_id
    assert (
        new_case(first).case_id
        != open_case([first], seq=2, now=MONDAY_9, sla=SLA, calendar=CALENDAR).case_id
    )


def test_attaching_hits_counts_them_and_keeps_the_worst_severity():
    case = new_case(hit("warning"))

    case = attach(case, [hit("critical", callback="YmxvYg=="), hit("warning")])

    assert case.alerts == 3
    assert case.callbacks == 1
    assert case.severity == "critical"


def test_the_full_lifecycle_is_audited_with_who_and_when():
    case = new_case()
    later = MONDAY_9 + timedelta(hours=2)

    case = do(case, "acknowledge", now=later)
    case = do(case, "start", now=later)
    case = do(case, "resolve", note="Đã gọi điện xin lỗi và hướng dẫn lại", now=later)
    case = do(case, "close", SUPERVISOR, now=later)

    assert case.state == "closed"
    assert case.version == 5
    assert case.acknowledge_seconds == 2 * 3600
    assert case.resolution == "Đã gọi điện xin lỗi và hướng dẫn lại"
    assert [(e.actor, e.action, e.to_state) for e in case.audit[1:]] == [
        ("cb-co-dam", "acknowledged", "acknowledged"),
        ("cb-co-dam", "started", "in_progress"),
        ("cb-co-dam", "resolved", "resolved"),
        ("snv-1", "closed", "closed"),
    ]


def test_resolving_an_open_case_is_an_illegal_transition():
    with pytest.raises(IllegalTransitionError) as caught:
        do(new_case(), "resolve", note="done")

    assert "in_progress" in caught.value.en
    assert "Không thể 'resolve'" in caught.value.vi


def test_a_closed_case_cannot_be_touched_again():
    case = do(
        do(do(do(new_case(), "acknowledge"), "start"), "resolve", note="ok"), "close", SUPERVISOR
    )

    for action in MOVES:
        with pytest.raises((IllegalTransitionError, ActionNotAllowedError)):
            do(case, action, SUPERVISOR, note="x")


def test_dismissing_needs_a_reason():
    with pytest.raises(NoteRequiredError):
        do(new_case(), "dismiss", note="   ")

    case = do(new_case(), "dismiss", note="Phiếu trùng, người dân chọn nhầm")

    assert case.state == "dismissed"
    assert case.dismiss_reason == "Phiếu trùng, người dân chọn nhầm"


def test_observers_change_nothing_and_handlers_cannot_close_or_reopen():
    with pytest.raises(ActionNotAllowedError):
        do(new_case(), "acknowledge", OBSERVER)
    resolved = do(do(do(new_case(), "acknowledge"), "start"), "resolve", note="ok")
    with pytest.raises(ActionNotAllowedError):
        do(resolved, "close", HANDLER)
    with pytest.raises(ActionNotAllowedError):
        do(resolved, "reopen", HANDLER, note="x")


def test_a_stale_version_is_refused():
    case = do(new_case(), "acknowledge")

    with pytest.raises(StaleCaseError):
        do(case, "start", version=1)
    assert do(case, "start", version=2).state == "in_progress"


def test_allowed_actions_depend_on_state_and_role():
    case = new_case()

    assert case.allowed_actions("handler") == ["acknowledge", "dismiss"]
    assert case.allowed_actions("observer") == []


def test_an_unacknowledged_case_escalates_once_when_its_deadline_passes():
    case = new_case()
    late = case.acknowledge_due_at + timedelta(minutes=1)

    [step] = check_deadlines(case, now=late, sla=SLA, calendar=CALENDAR)
    again = check_deadlines(step.case, now=late + timedelta(hours=1), sla=SLA, calendar=CALENDAR)

    assert step.breach == "acknowledge"
    assert step.case.escalated_to == ("snv",)
    assert step.case.next_due_at == case.resolve_due_at
    assert again == []


def test_nothing_happens_before_the_deadline():
    case = new_case()

    assert (
        check_deadlines(
            case, now=case.acknowledge_due_at - timedelta(seconds=1), sla=SLA, calendar=CALENDAR
        )
        == []
    )


def test_a_case_left_open_past_both_deadlines_escalates_twice():
    case = new_case()

    steps = check_deadlines(case, now=case.resolve_due_at, sla=SLA, calendar=CALENDAR)

    assert [s.breach for s in steps] == ["acknowledge", "resolve"]
    assert [s.case.version for s in steps] == [2, 3]
    events = [
        case_event(
            s.case, s.change, previous_state=s.previous_state, actor_role="system", breach=s.breach
        )
        for s in steps
    ]
    assert len({e.event_id for e in events}) == 2
    assert steps[-1].case.next_due_at is None


def test_a_resolved_case_closes_by_itself_after_the_waiting_period():
    resolved = do(do(do(new_case(), "acknowledge"), "start"), "resolve", note="ok")

    [step] = check_deadlines(resolved, now=resolved.auto_close_at, sla=SLA, calendar=CALENDAR)

    assert step.case.state == "closed"
    assert step.case.audit[-1].actor == SYSTEM.id


def test_reopening_gives_a_fresh_resolve_deadline():
    case = new_case()
    [_, breached] = check_deadlines(case, now=case.resolve_due_at, sla=SLA, calendar=CALENDAR)
    resolved = do(do(do(breached.case, "acknowledge"), "start"), "resolve", note="ok")
    later = case.resolve_due_at + timedelta(days=1)

    reopened = do(resolved, "reopen", SUPERVISOR, note="Người dân vẫn phản ánh", now=later)

    assert reopened.state == "in_progress"
    assert reopened.resolve_due_at == CALENDAR.add_days(later, SLA.resolve_days)
    assert not reopened.breached("resolve")


def test_notes_are_audited_without_changing_state():
    case = note_on(new_case(), HANDLER, now=MONDAY_9, action="noted", note="Đã liên hệ")

    assert case.state == "open"
    assert case.audit[-1].note == "Đã liên hệ"
    assert case.version == 2


def test_the_opened_event_carries_deadlines_and_grouping():
    case = new_case()

    event = case_event(case, "opened", previous_state=None, actor_role="system")

    assert event.change == "opened"
    assert event.sla_due_at == case.acknowledge_due_at
    assert event.window == "2026-W47"
    assert event.alerts == 1


actions = st.lists(st.sampled_from([*MOVES, "tick"]), max_size=12)
actors = st.sampled_from([HANDLER, SUPERVISOR, OBSERVER])


@settings(max_examples=150, deadline=None)
@given(actions, st.lists(actors, min_size=12, max_size=12))
def test_any_sequence_of_actions_keeps_the_case_consistent(sequence, who):
    case, now = new_case(), MONDAY_9
    for action, actor in zip(sequence, who, strict=False):
        now += timedelta(hours=5)
        if action == "tick":
            for step in check_deadlines(case, now=now, sla=SLA, calendar=CALENDAR):
                case = step.case
            continue
        try:
            case = do(case, action, actor, now=now, note="lý do")
        except (IllegalTransitionError, ActionNotAllowedError):
            continue

    assert case.version == len(case.audit)
    assert (case.ended_at is not None) == (case.state in {"closed", "dismissed"})
    assert len({(b.kind, b.due_at) for b in case.breaches}) == len(case.breaches)
    assert (case.next_due_at is None) or case.state in {
        "open",
        "acknowledged",
        "in_progress",
        "resolved",
    }


def test_kpis_count_timeliness_in_working_hours():
    fast = do(new_case(), "acknowledge", now=MONDAY_9 + timedelta(hours=1))
    slow_case = new_case()
    [late] = check_deadlines(
        slow_case, now=slow_case.acknowledge_due_at, sla=SLA, calendar=CALENDAR
    )
    slow = do(late.case, "acknowledge", now=slow_case.acknowledge_due_at + timedelta(hours=1))
    done = do(do(fast, "start"), "resolve", note="ok", now=MONDAY_9 + timedelta(hours=3))

    result = kpis("ht-nx-co-dam", [done, slow, new_case()], now=MONDAY_9 + timedelta(days=2))

    assert result.opened == 3
    assert result.acknowledged == 2
    assert result.acknowledge_on_time_rate == 0.5
    assert result.resolved == 1
    assert result.resolve_on_time_rate == 1.0
    assert result.breaches == {"acknowledge": 1}
    assert result.escalated == 1
    assert result.open_now == 2
    assert result.overdue_now == 1
    assert result.time_to_acknowledge.median_hours == 5.0  # 1 h and 9 h (8 h is one day)
    assert result.time_to_acknowledge.p90_hours == 8.2
    assert result.time_to_resolve.median_hours == 2.5  # 09:00-12:00 minus lunch from 11:30


def other_hit(unit="ht-nx-co-dam", rule="low_rating", window="2026-W47"):
    return hit().model_copy(update={"unit": unit, "rule": rule, "window": window})


def test_hits_of_a_group_with_an_active_case_join_it():
    case = new_case()
    groups = by_group([hit(), hit("critical")])

    placement = place(
        groups, {case.group_key: GroupState(1, case)}, now=MONDAY_9, sla=SLA, calendar=CALENDAR
    )

    assert placement.opened == []
    [(before, after)] = placement.attached
    assert (before.alerts, after.alerts, after.severity) == (1, 3, "critical")
    assert {case_id for _, case_id in placement.placed} == {str(case.case_id)}


def test_new_groups_open_new_cases_one_per_unit_rule_and_window():
    hits = [
        other_hit(),
        other_hit(unit="ht-nx-xuan-an"),
        other_hit(rule="harassment"),
        other_hit(window="2026-W48"),
        other_hit(),
    ]

    placement = place(by_group(hits), {}, now=MONDAY_9, sla=SLA, calendar=CALENDAR)

    assert len(placement.opened) == 4
    assert sorted(c.alerts for c in placement.opened) == [1, 1, 1, 2]
    assert all(c.seq == 1 and c.follows is None for c in placement.opened)
    assert len(placement.placed) == 5


def test_a_group_whose_case_was_resolved_gets_a_follow_up_case():
    resolved = do(do(do(new_case(), "acknowledge"), "start"), "resolve", note="ok")

    placement = place(
        by_group([hit()]),
        {resolved.group_key: GroupState(1, resolved)},
        now=MONDAY_9,
        sla=SLA,
        calendar=CALENDAR,
    )

    [follow_up] = placement.opened
    assert follow_up.seq == 2
    assert follow_up.follows == resolved.case_id
    assert follow_up.case_id != resolved.case_id


def test_the_countdown_is_working_time_to_the_deadline_that_matters_now():
    friday_16 = datetime(2026, 11, 20, 16, 0, tzinfo=VN)
    case = new_case(hit(at=friday_16), now=friday_16)  # acknowledge by Monday 16:00

    on_saturday = due(case, datetime(2026, 11, 21, 10, 0, tzinfo=VN), CALENDAR)
    started = due(do(case, "acknowledge"), friday_16, CALENDAR)
    late = due(case, datetime(2026, 11, 24, 8, 0, tzinfo=VN), CALENDAR)

    assert on_saturday is not None
    assert on_saturday.kind == "acknowledge"
    # Friday 16:00 → Monday 16:00: the weekend does not count, Monday morning does.
    assert on_saturday.working_seconds_left == CALENDAR.between(
        datetime(2026, 11, 23, 7, 0, tzinfo=VN), case.acknowledge_due_at
    )
    assert on_saturday.working_seconds_left < on_saturday.working_day_seconds
    assert started is not None
    assert (started.kind, started.at) == ("resolve", case.resolve_due_at)
    assert late is not None
    assert (late.overdue, late.working_seconds_left) == (True, 0.0)
    assert (
        due(do(do(do(case, "acknowledge"), "start"), "resolve", note="ok"), friday_16, CALENDAR)
        is None
    )
