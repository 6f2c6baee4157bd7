"""What a device is told about each item it queued when a service refuses it (pure)."""

from __future__ import annotations

from sipas_console.clients import ServiceCallError, ServiceUnavailableError
from sipas_console.web.field_sync import CONFLICTS, REPLACED, REPLACED_PROBLEM, result_of_refusal

INTERVIEW = {"id": "0190a1b2-0000-7000-8000-00000000a001", "kind": "interview"}
OUTCOME = {"id": "0190a1b2-0000-7000-8000-00000000b002", "kind": "outcome"}


def refusal(service: str, status: int) -> ServiceCallError:
    return ServiceCallError(service, status, {"detail": "in the service's words"})


def test_an_interview_someone_else_recorded_is_a_conflict_said_by_the_console():
    result = result_of_refusal(INTERVIEW, refusal("intake", 409))

    assert result == {
        "id": INTERVIEW["id"],
        "status": "conflict",
        "message": CONFLICTS[("interview", 409)],
    }


def test_an_interview_intake_refuses_for_a_replaced_person_says_so():
    replaced = ServiceCallError("intake", 409, {"type": REPLACED_PROBLEM, "detail": "closed"})

    assert result_of_refusal(INTERVIEW, replaced) == {
        "id": INTERVIEW["id"],
        "status": "conflict",
        "message": REPLACED,
    }


def test_an_interview_for_a_reserve_intake_has_not_heard_of_yet_is_sent_again():
    result = result_of_refusal(INTERVIEW, refusal("intake", 404))

    assert result["status"] == "retry"


def test_a_refusal_for_a_person_unknown_to_sampling_is_a_conflict_not_a_retry():
    result = result_of_refusal(OUTCOME, refusal("sampling", 404))

    assert (result["status"], result["message"]) == ("conflict", CONFLICTS[("outcome", 404)])


def test_a_service_out_of_reach_keeps_the_item_for_later():
    down = result_of_refusal(OUTCOME, ServiceUnavailableError("sampling", "timed out"))
    failing = result_of_refusal(INTERVIEW, refusal("intake", 500))

    assert (down["status"], failing["status"]) == ("retry", "retry")


def test_no_conflict_repeats_a_services_english_detail():
    statuses = (400, 403, 404, 409, 410, 422)

    messages = {
        result_of_refusal(item, refusal("intake", status))["message"]
        for item in (INTERVIEW, OUTCOME)
        for status in statuses
    }

    assert "in the service's words" not in messages
