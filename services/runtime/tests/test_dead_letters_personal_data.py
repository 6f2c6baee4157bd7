"""A raw TTHC record that is dead-lettered leaves its personal data in the source stream only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from sipas_contracts import subjects
from sipas_contracts.streams import RAW_DOSSIERS, ConsumerSpec
from sipas_runtime.batches import Batch
from sipas_runtime.dlq.command import _replay_all, read_dead_letters
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
RECORD = {"MaHoSo": "H42-1", "SoDienThoai": "0912 345 678", "ChuHoSo": "Nguyễn Văn An"}


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


async def refuse(batch: Batch[Any], session: Any) -> list[Any]:
    raise ValueError("this record cannot be read yet")


@pytest.fixture
async def probe(nats_url: str, mongo_url: str, db_name: str) -> AsyncIterator[ServiceRuntime]:
    settings = ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name,
                             batch_timeout=0.01)  # fmt: skip
    runtime = ServiceRuntime(settings, title="probe")
    spec = ConsumerSpec(durable="probe-raw", stream=RAW_DOSSIERS.name, owner="probe",
                        filter_subjects=(subjects.RAW_DOSSIERS,),
                        ack_wait=timedelta(seconds=2))  # fmt: skip
    runtime.consume(spec, decode=json.loads, handler=refuse)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_the_letter_of_a_raw_record_keeps_no_body_and_cannot_be_replayed_from_it(
    probe, nc, nats_url
):
    js = nc.jetstream()
    await js.publish(subjects.raw_dossier("one-stop"), json.dumps(RECORD).encode())
    await eventually(lambda: read_dead_letters(js, service="probe"))
    [letter] = await read_dead_letters(js, service="probe")
    await js.purge_stream(RAW_DOSSIERS.name)  # the week is over

    [answer] = await _replay_all(
        nats_url, None, None, [letter.seq], override=("Trần Thị B", "hết hạn"), delete=False
    )

    assert letter.withheld
    assert letter.data == b""
    assert "0912" not in letter.reason
    assert answer.outcome == "body_withheld"
    assert (await js.stream_info("SIPAS_OVERRIDES")).state.messages == 0
