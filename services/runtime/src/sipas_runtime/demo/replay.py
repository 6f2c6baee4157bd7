"""A previous period replayed quickly: a batch plan (seed 002) run end to end.

What a district does once a year, through the system's own doors, in about a minute:

1. the one-stop software exports the dossiers completed in the plan's window, which the
   TTHC system posts to intake's batch webhook (``POST /v1/dossiers/batch``);
2. once sampling holds the whole population, the operator draws the official and reserve
   lists (``POST /v1/campaigns/<id>/draw``);
3. enumerators interview everyone on the official lists and enter the answers
   (intake's ``POST /v1/interviews``), taking their assignments from the invitation-sent
   events, as the enumerator app would from its list;
4. scoring ranks every unit on the plan's forms (seed 002: 25 per commune);
5. (``publish``) a specialist drafts the publication, a deputy director approves it, and it
   is published: the public site and the report then show it.

The plan is read from sampling's API (window, units, procedure fields, quotas), so the
replay follows whatever the plan says.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from nats.aio.client import Client
from nats.aio.msg import Msg

from sipas_contracts import subjects
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.demo.simulator import answer_form

VIETNAM = timedelta(hours=7)
DRAFTER = {"name": "Lê Văn Bình", "title": "Chuyên viên Phòng Cải cách hành chính"}
APPROVER = {"name": "Nguyễn Thị Hoa", "title": "Phó Giám đốc", "authority": "KT. Giám đốc"}
EXCLUDED_PER_UNIT = 2  # online submissions the plan leaves out of its population
INTERVIEWERS = 12


class ReplayError(RuntimeError):
    """Raised when the system refuses a step of the replay (with the answer it gave)."""


@dataclass(frozen=True)
class FieldTeam:
    """Machine keys of the operator, the enumerators and the approver (development keys).

    The operator drafts the period's publication; the approver (the development supervisor
    key, another identity) approves and publishes it.
    """

    operator_key: str
    enumerator_key: str
    approver_key: str

    @property
    def interviewer_key(self) -> str:
        """The key interviews are recorded with (its id names the enumerator)."""
        return self.enumerator_key

    @classmethod
    def of(cls, dev_keys: dict[str, str]) -> FieldTeam:
        """The team of a development stack (``Stack.dev_keys``)."""
        return cls(
            operator_key=dev_keys["operator"],
            enumerator_key=dev_keys["enumerator"],
            approver_key=dev_keys["supervisor"],
        )


@dataclass
class Progress:
    """How far the replay got (the demo board shows it)."""

    campaign_id: str = ""
    exported: int = 0
    drawn: int = 0
    interviewed: int = 0
    stage: str = "waiting"


def _moment(rng: random.Random, start: date, end: date) -> datetime:
    day = start + timedelta(days=rng.randrange((end - start).days + 1))
    local = datetime.combine(day, time(8)) + timedelta(minutes=rng.randrange(9 * 60))
    return (local - VIETNAM).replace(tzinfo=UTC)


class PeriodReplay:
    """Runs a stored batch plan through intake, sampling, enumerators and scoring."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        nc: Client,
        urls: dict[str, str],
        tthc_key: str,
        team: FieldTeam,
        hierarchy: UnitHierarchy,
        quality: dict[str, float],
        rng: random.Random,
    ) -> None:
        self._http = http
        self._nc = nc
        self._urls = urls
        self._tthc_key = tthc_key
        self._team = team
        self._hierarchy = hierarchy
        self._quality = quality
        self._rng = rng
        self.progress = Progress()
        self._assignments: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def run(self, campaign_id: str) -> Progress:
        """Every step, in order; returns the progress reached."""
        self.progress.campaign_id = campaign_id
        plan = await self._get("sampling", f"/v1/campaigns/{campaign_id}")
        earlier = await self._http.get(
            f"{self._urls['sampling']}/v1/campaigns/{campaign_id}/draw",
            headers={"Authorization": f"Bearer {self._team.operator_key}"},
        )
        if earlier.status_code == 200:  # noqa: PLR2004 - replayed on an earlier run
            self.progress.stage = "drawn earlier"
            return self.progress
        sub = await self._nc.subscribe(subjects.INVITATIONS_SENT, cb=self._on_invitation)
        try:
            self.progress.stage = "export"
            await self.export(plan)
            self.progress.stage = "population"
            await self._wait_population(campaign_id)
            self.progress.stage = "draw"
            drawn = await self._post("sampling", f"/v1/campaigns/{campaign_id}/draw", None)
            self.progress.drawn = int(drawn["official"])
            self.progress.stage = "interviews"
            await self.interview(plan["campaign"]["instrument_id"])
            self.progress.stage = "done"
        finally:
            await sub.unsubscribe()
        return self.progress

    def records(self, plan: dict[str, Any]) -> list[dict[str, Any]]:
        """The one-stop software's export of the plan's window, for every unit in scope."""
        definition = plan["campaign"]
        window = definition["window"]
        start, end = date.fromisoformat(window["start"]), date.fromisoformat(window["end"])
        fields = definition["population"]["procedure_fields"] or ["Tư pháp - Hộ tịch"]
        quota = definition["allocation"]["fixed_per_unit"]
        out = []
        for u, unit in enumerate(plan["units_in_scope"]):
            kinds = ["individual"] * (2 * quota["individual"]) + ["organisation"] * (
                2 * quota["organisation"]
            )
            kinds += ["online"] * EXCLUDED_PER_UNIT
            for i, kind in enumerate(kinds):
                delivered = _moment(self._rng, start, end)
                out.append(
                    {
                        "dossier_id": f"000.00.{u:02d}.H42-{delivered:%y%m%d}-{i:04d}",
                        "unit": self._hierarchy.get(unit).name_vi,
                        "procedure_code": "1.001193",
                        "procedure_field": self._rng.choice(fields),
                        "applicant_kind": "individual" if kind == "online" else kind,
                        "applicant_id": f"{u:03d}{i:09d}",
                        "submission_channel": "online" if kind == "online" else "direct",
                        "result_delivery": "counter",
                        "received_at": (delivered - timedelta(days=4)).isoformat(),
                        "delivered_at": delivered.isoformat(),
                        "contact": {"phone": f"09{u:02d}{i:06d}"},
                    }
                )
        return out

    async def export(self, plan: dict[str, Any]) -> None:
        """Post the export to intake in batches, as the one-stop software would."""
        records = self.records(plan)
        for start in range(0, len(records), 500):
            chunk = records[start : start + 500]
            result = await self._post("intake", "/v1/dossiers/batch", chunk, key=self._tthc_key)
            if result["rejected"]:
                raise ReplayError(f"intake rejected records: {json.dumps(result)[:500]}")
            self.progress.exported += len(chunk)

    async def _wait_population(self, campaign_id: str) -> None:
        path = f"/v1/campaigns/{campaign_id}"
        for _ in range(600):
            counts = (await self._get("sampling", path)).get("population") or {}
            if sum(counts.values()) >= self.progress.exported:
                return
            await asyncio.sleep(0.1)
        raise ReplayError(f"sampling saw {counts} of {self.progress.exported} dossiers")

    async def _on_invitation(self, msg: Msg) -> None:
        event = json.loads(msg.data)
        if event["campaign_id"] == self.progress.campaign_id and event["attempt"] == 1:
            await self._assignments.put(event)

    async def interview(self, instrument_id: str) -> None:
        """Enumerators take every official invitation and enter the answers."""
        catalogue = load_catalogue(instrument_id)
        remaining = self.progress.drawn

        async def enumerator() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                try:
                    async with asyncio.timeout(60):
                        invitation = await self._assignments.get()
                except TimeoutError:
                    return
                answers, comment = answer_form(
                    catalogue, self._quality.get(invitation["unit"], 0.8), self._rng
                )
                await self._enter(invitation["invitation_id"], answers, comment)

        await asyncio.gather(*(enumerator() for _ in range(INTERVIEWERS)))

    async def _enter(
        self, invitation_id: str, answers: dict[str, Any], comment: str | None
    ) -> None:
        body = {"invitation_id": invitation_id, "mode": "face_to_face", "answers": answers}
        if comment:
            body["comment"] = comment
        headers = {"Authorization": f"Bearer {self._team.interviewer_key}"}
        for _ in range(100):  # intake learns the invitation from the same event stream
            answer = await self._http.post(
                f"{self._urls['intake']}/v1/interviews", json=body, headers=headers
            )
            if answer.status_code == 201:  # noqa: PLR2004
                self.progress.interviewed += 1
                return
            if answer.status_code != 404:  # noqa: PLR2004
                raise ReplayError(f"interview refused: {answer.status_code} {answer.text[:300]}")
            await asyncio.sleep(0.1)
        raise ReplayError(f"intake never learnt invitation {invitation_id}")

    async def publish(self) -> str:
        """Draft, approve (someone else) and publish the period once scoring counts it all."""
        scoring, campaign = self._urls["scoring"], self.progress.campaign_id
        for _ in range(600):
            table = await self._get("scoring", f"/v1/indices?campaign={campaign}&level=province")
            if sum(r["responses"] for r in table["rows"]) >= self.progress.interviewed:
                break
            await asyncio.sleep(0.2)
        steps = [
            ("/v1/publications", {"campaign_id": campaign, **DRAFTER}, self._team.operator_key),
            ("/v1/publications/{id}/approve", APPROVER, self._team.approver_key),
            ("/v1/publications/{id}/publish", {"number": "01"}, self._team.approver_key),
        ]
        publication = ""
        for path, body, key in steps:
            answer = await self._http.post(
                scoring + path.format(id=publication),
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            if answer.status_code not in {200, 201}:
                raise ReplayError(f"publication: {answer.status_code} {answer.text[:300]}")
            publication = answer.json()["id"]
        self.progress.stage = "published"
        return publication

    async def _get(self, service: str, path: str) -> Any:  # noqa: ANN401 - JSON document
        answer = await self._http.get(
            f"{self._urls[service]}{path}",
            headers={"Authorization": f"Bearer {self._team.operator_key}"},
        )
        if answer.status_code != 200:  # noqa: PLR2004
            raise ReplayError(f"GET {service}{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def _post(self, service: str, path: str, body: object, *, key: str | None = None) -> Any:  # noqa: ANN401 - JSON document
        answer = await self._http.post(
            f"{self._urls[service]}{path}",
            json=body,
            headers={"Authorization": f"Bearer {key or self._team.operator_key}"},
        )
        if answer.status_code not in {200, 201, 202}:
            raise ReplayError(f"POST {service}{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()
