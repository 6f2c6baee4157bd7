"""Dead letters are listed with their reasons and replayed exactly once, to the consumer that
failed them, from the source stream — never from what a letter says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from nats.aio.client import Client

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import INDEXES, RESPONSES, ConsumerSpec
from sipas_contracts.testing import response
from sipas_runtime.batches import Batch
from sipas_runtime.dlq.command import DlqError, _connect, _replay_all, read_dead_letters
from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.nats_access import USERS, password_variable
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.streams import ensure_streams
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
ROOT = Path(__file__).resolve().parents[3]
BROKEN_UNIT = "ht-nx-co-dam"


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


def spec(durable: str, stream: str = RESPONSES.name, subject: str = subjects.RESPONSES_RECORDED):
    return ConsumerSpec(durable=durable, stream=stream, filter_subjects=(subject,),
                        owner="probe", ack_wait=timedelta(seconds=2))  # fmt: skip


class Scorer:
    """One effect per fresh message; fails on BROKEN_UNIT until the cause is fixed."""

    def __init__(self, runtime: ServiceRuntime, name: str, *, broken: bool) -> None:
        self.runtime, self.name, self.broken = runtime, name, broken

    async def __call__(self, batch: Batch[Any], session: Any) -> list[Any]:
        for delivery in batch.fresh:
            unit = (
                delivery.event["unit"] if isinstance(delivery.event, dict) else delivery.event.unit
            )
            if self.broken and unit == BROKEN_UNIT:
                raise ValueError(f"unit {unit} is not configured")
            await self.runtime.db[self.name].insert_one({"seq": delivery.seq}, session=session)
        return []

    async def count(self) -> int:
        return await self.runtime.db[self.name].count_documents({})


@pytest.fixture
async def service(nats_url: str, mongo_url: str, db_name: str) -> AsyncIterator[Any]:
    settings = ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name,
                             batch_timeout=0.01)  # fmt: skip
    runtime = ServiceRuntime(settings, title="probe")
    failing = Scorer(runtime, "failing", broken=True)
    other = Scorer(runtime, "other", broken=False)
    decode = ResponseRecorded.model_validate_json
    runtime.consume(spec("probe-failing"), decode=decode, handler=failing)
    runtime.consume(spec("probe-other"), decode=decode, handler=other, dedup="sequence")
    runtime.consume(spec("probe-indexes", INDEXES.name, subjects.INDEXES_UPDATED),
                    decode=json.loads, handler=Scorer(runtime, "indexes", broken=True))  # fmt: skip
    await runtime.start()
    yield runtime, failing, other
    await runtime.stop()


async def publish(nc: Client, event: ResponseRecorded) -> int:
    subject = subjects.response_recorded(event.unit)
    ack = await nc.jetstream().publish(subject, encode(event), headers=event_headers(event))
    return int(ack.seq)


async def letters(nc: Client) -> list[Any]:
    return await read_dead_letters(nc.jetstream(), service="probe", limit=1000)


async def test_a_letter_is_applied_again_once_and_only_to_the_consumer_that_failed_it(
    service, nc, nats_url
):
    _runtime, failing, other = service
    await publish(nc, response(unit="ht-nx-xuan-hoi"))
    await publish(nc, response(unit=BROKEN_UNIT))
    await eventually(lambda: letters(nc))
    await eventually(other.count)
    [letter] = await letters(nc)
    assert (letter.consumer, letter.kind) == ("probe-failing", "handler_error")
    assert "unit ht-nx-co-dam is not configured" in letter.reason
    stored = (await nc.jetstream().stream_info(RESPONSES.name)).state.messages
    failing.broken = False  # the cause is fixed

    [first] = await _replay_all(nats_url, None, None, [letter.seq], override=None, delete=False)
    [again] = await _replay_all(nats_url, None, None, [letter.seq], override=None, delete=True)

    assert (first.consumer, first.outcome) == ("probe-failing", "applied")
    assert again.outcome == "not_dead"  # its record was taken by the first replay
    assert await failing.count() == 2
    assert await other.count() == 2  # the consumer that had applied it saw nothing again
    assert (await nc.jetstream().stream_info(RESPONSES.name)).state.messages == stored
    assert len(await letters(nc)) == 1  # not deleted: it was not applied this time


async def test_a_forged_letter_names_no_record_and_applies_nothing(service, nc, nats_url):
    _runtime, failing, _ = service
    real = await publish(nc, response(unit="ht-nx-xuan-hoi"))
    await eventually(failing.count)
    forged = response(unit="ht-nx-xuan-hoi", answers={"HL.DV.E1.1": 5})
    await nc.jetstream().publish(subjects.dead_letter("probe"), encode(forged), headers={
        "Sipas-Dlq-Consumer": "probe-failing", "Sipas-Dlq-Stream": RESPONSES.name,
        "Sipas-Dlq-Stream-Seq": str(real), "Sipas-Dlq-Subject": "sipas.response.recorded.x",
        "Sipas-Dlq-Kind": "handler_error", "Sipas-Dlq-Reason": "forged"})  # fmt: skip
    [letter] = await letters(nc)

    [answer] = await _replay_all(nats_url, None, None, [letter.seq], override=None, delete=True)

    assert answer.outcome == "not_dead"
    assert await failing.count() == 1
    assert len(await letters(nc)) == 1


async def test_a_letter_whose_source_is_gone_needs_a_recorded_override(service, nc, nats_url):
    runtime, _, _ = service
    subject = "sipas.index.updated.c2026.ht-nx-co-dam"
    ack = await nc.jetstream().publish(subject, json.dumps({"unit": BROKEN_UNIT}).encode())
    await eventually(lambda: letters(nc))
    [letter] = await letters(nc)
    await nc.jetstream().delete_msg(INDEXES.name, ack.seq)  # the source is gone

    [refused] = await _replay_all(nats_url, None, None, [letter.seq], override=None, delete=False)
    runtime._consumers[2]._handler.broken = False
    decision = ("Nguyễn Văn An", "nguồn đã hết hạn")
    [applied] = await _replay_all(
        nats_url, None, None, [letter.seq], override=decision, delete=True
    )

    assert refused.outcome == "source_gone"
    assert applied.outcome == "applied"
    record = await nc.jetstream().get_last_msg("SIPAS_OVERRIDES", subjects.DLQ_REPLAY_OVERRIDE)
    recorded = json.loads(record.data)
    assert (recorded["by"], recorded["why"], recorded["letter"]) == (
        "Nguyễn Văn An",
        "nguồn đã hết hạn",
        letter.seq,
    )
    assert recorded["at"]
    assert await runtime.db["indexes"].count_documents({}) == 1
    assert await letters(nc) == []


def sipas(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    return subprocess.run([sys.executable, "-m", "sipas_runtime.cli", "dlq", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**clean, **env, "COLUMNS": "200"}, check=False)  # fmt: skip


async def test_a_letter_that_is_not_there_or_of_a_stopped_service_is_named_so(nc, nats_url):
    js = nc.jetstream()
    await ensure_streams(js, replicas=1)
    await js.publish(subjects.dead_letter("alerts"), b"{}", headers={
        "Sipas-Dlq-Consumer": "alerts-responses", "Sipas-Dlq-Stream": RESPONSES.name,
        "Sipas-Dlq-Stream-Seq": "1", "Sipas-Dlq-Kind": "schema"})  # fmt: skip

    answers = await _replay_all(nats_url, None, None, [1, 7], override=None, delete=False)

    assert [(a.letter, a.outcome) for a in answers] == [
        (1, "service_not_running"), (7, "no_such_letter")
    ]  # fmt: skip


def test_an_empty_dlq_says_so(nats_url, nc):
    listed = sipas("list", "--url", nats_url)
    replayed = sipas("replay", "1", "--url", nats_url)

    assert listed.returncode == 0, listed.stderr
    assert "no dead letters" in listed.stdout
    assert replayed.returncode == 2
    assert "the dead-letter queue is empty" in replayed.stdout


async def test_wrong_credentials_fail_at_once(tmp_path):
    passwords = {password_variable(user): f"right-{user}" for user in (*USERS, "system")}
    server = EmbeddedNats(tmp_path / "nats", accounts=ROOT / "deploy" / "nats" / "accounts.conf",
                          env=passwords)  # fmt: skip
    url = server.start()
    try:
        started = time.monotonic()
        with pytest.raises(DlqError, match="Authorization Violation"):
            await _connect(url, "admin", "wrong")
        took = time.monotonic() - started
        listed = sipas("list", "--url", url, "--user", "admin", "--password", "wrong")
    finally:
        server.stop()

    assert took < 10  # one attempt, not a retry loop of 25 s or more
    assert listed.returncode == 2
    assert "Authorization Violation" in listed.stdout
