"""The dossier stream partitioned by unit (issue #22), as nats-server stores it.

With ``SIPAS_PARTITIONS`` unset the stream is as it always was; with a count, an existing
stream is updated in place and each dossier published from then on is stored with its
partition (``sipas_runtime.partitions.partition_of`` of its unit) before the unit, so a
consumer of one partition sees exactly its units and ``sipas.dossier.completed.>`` still
sees every dossier.
"""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.js import api

from sipas_contracts import subjects
from sipas_contracts.streams import DOSSIERS
from sipas_runtime.partitions import partition_of
from sipas_runtime.streams import ensure_stream

pytestmark = [pytest.mark.nats]
COUNT = 4
UNITS = [f"ht-nx-{n:02d}" for n in range(12)]


async def pending(js, durable: str, subject: str) -> int:
    config = api.ConsumerConfig(durable_name=durable, filter_subject=subject)
    info = await js.add_consumer(DOSSIERS.name, config)
    return info.num_pending


async def test_partitioned_stream_stores_each_dossier_under_its_units_partition(nc: Client):
    js = nc.jetstream()
    await ensure_stream(js, DOSSIERS, replicas=1)  # unpartitioned: stored as published
    await js.publish(subjects.dossier_completed("ht-nx-before"), b"{}")
    await ensure_stream(js, DOSSIERS, replicas=1, partitions=COUNT)  # updated in place
    for unit in UNITS:
        await js.publish(subjects.dossier_completed(unit), b"{}")

    stored = [(await js.get_msg(DOSSIERS.name, seq)).subject for seq in range(1, 14)]
    assert stored[0] == "sipas.dossier.completed.ht-nx-before"
    assert stored[1:] == [
        f"sipas.dossier.completed.{partition_of(unit, COUNT)}.{unit}" for unit in UNITS
    ]
    per_partition = [
        await pending(js, f"p{k}", subjects.dossier_partition(k)) for k in range(COUNT)
    ]
    expected = [sum(partition_of(u, COUNT) == k for u in UNITS) for k in range(COUNT)]
    assert per_partition == expected
    assert sum(1 for n in expected if n) > 1  # the units really are spread
    assert await pending(js, "all", subjects.DOSSIERS_COMPLETED) == len(UNITS) + 1
