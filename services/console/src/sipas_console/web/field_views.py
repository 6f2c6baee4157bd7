"""What the enumerator's screens show, built from the services' answers (pure, no I/O).

The day's list comes from sampling (``/assignments``: per unit and kind, the official list
in draw order, then the reserves in order) and the counts beside it from intake
(``/v1/fieldwork``: interviews, online answers and paper forms per unit). The interview
form is intake's questionnaire (``/v1/forms``); its posted fields become the body of
``POST /v1/interviews``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sipas_runtime.i18n import _

KINDS = ("individual", "organisation")
KIND_LABELS = {"individual": _("Individuals"), "organisation": _("Organisations")}
STATE_LABELS = {
    "listed": _("To visit"),
    "queued": _("Invitation being sent"),
    "sent": _("Invited"),
    "retry": _("Invitation being sent"),
    "await_report": _("Invited"),
    "answered": _("Answered"),
    "substituted": _("Replaced from the reserve"),
    "lapsed": _("Expired"),
    "undeliverable": _("Not reachable"),
    "standby": _("Reserve, not needed yet"),
    "shredded": _("Closed"),
    "closed": _("Closed"),
}
OPEN_STATES = frozenset({"listed", "queued", "sent", "retry", "await_report", "undeliverable"})
MODES = ("face_to_face", "phone")


@dataclass
class Person:
    """One row of the list as the screen shows it."""

    invitation_id: str
    dossier_id: str
    unit: str
    kind: str
    list: str
    rank: int | None
    state: str
    name: str
    address: str
    phone: str
    email: str

    @property
    def open(self) -> bool:
        """Whether the person can still be interviewed or reported refused / unreachable."""
        return self.state in OPEN_STATES

    @property
    def standby(self) -> bool:
        """A reserve no substitution has brought in yet."""
        return self.state == "standby"


@dataclass
class UnitList:
    """A unit's people by kind, and its answers so far."""

    code: str
    name: str
    people: dict[str, list[Person]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def person(row: Mapping[str, Any]) -> Person:
    """A row of sampling's assignments (contacts empty when the viewer may not see them)."""
    contact = row.get("contact") or {}
    return Person(
        invitation_id=str(row["invitation_id"]),
        dossier_id=str(row["dossier_id"]),
        unit=str(row["unit"]),
        kind=str(row["kind"]),
        list=str(row["list"]),
        rank=row.get("rank"),
        state=str(row["state"]),
        name=contact.get("name", ""),
        address=contact.get("address", ""),
        phone=contact.get("phone", ""),
        email=contact.get("email", ""),
    )


def counts_of(unit: Mapping[str, Any] | None) -> dict[str, int]:
    """Interviews by mode, online answers and paper forms of one unit of intake's summary."""
    invited = dict((unit or {}).get("invited") or {})
    paper = dict((unit or {}).get("paper") or {})
    return {
        "face_to_face": int(invited.get("face_to_face", 0)),
        "phone": int(invited.get("phone", 0)),
        "online": int(invited.get("online", 0)) + int(invited.get("kiosk", 0)),
        "paper": sum(int(n) for n in paper.values()),
    }


def unit_lists(rows: Iterable[Mapping[str, Any]], fieldwork: Mapping[str, Any]) -> list[UnitList]:
    """Rows grouped by unit (in the order sampling gave them), then kind, with the counts."""
    summary = {u["unit"]: u for u in fieldwork.get("units", [])}
    units: dict[str, UnitList] = {}
    for row in rows:
        code = str(row["unit"])
        unit = units.setdefault(code, UnitList(code, str(row.get("unit_name") or code)))
        unit.people.setdefault(str(row["kind"]), []).append(person(row))
    for unit in units.values():
        unit.counts = counts_of(summary.get(unit.code))
    return list(units.values())


def interview_body(
    fields: Mapping[str, str], invitation_id: str, items: Iterable[str]
) -> dict[str, Any]:
    """``POST /v1/interviews``'s body from the interview form's fields (blank = unanswered)."""
    answers: dict[str, int | str] = {}
    for item in items:
        value = (fields.get(f"a.{item}") or "").strip()
        if value:
            answers[item] = int(value) if value.isdecimal() else value
    body: dict[str, Any] = {
        "invitation_id": invitation_id,
        "mode": fields.get("mode") if fields.get("mode") in MODES else "face_to_face",
        "answers": answers,
    }
    if (comment := (fields.get("comment") or "").strip()) != "":
        body["comment"] = comment
    if fields.get("submission_id"):
        body["submission_id"] = fields["submission_id"]
    return body


def item_ids(form: Mapping[str, Any]) -> list[str]:
    """Every item of intake's questionnaire document, in order."""
    return [
        item["id"]
        for section in form.get("sections", [])
        for group in section.get("groups", [])
        for item in group.get("items", [])
    ]


def with_choices(form: Mapping[str, Any]) -> dict[str, Any]:
    """Intake's questionnaire with each item's options as (code, label) pairs for the page."""
    sections = []
    for section in form.get("sections", []):
        groups = []
        for group in section.get("groups", []):
            items = [
                {**item, "choices": [(o["code"], o["label"]) for o in item.get("options", [])]}
                for item in group.get("items", [])
            ]
            groups.append({**group, "items": items})
        sections.append({**section, "groups": groups})
    return {**form, "sections": sections}
