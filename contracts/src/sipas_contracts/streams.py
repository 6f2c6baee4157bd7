"""JetStream streams and durable consumers, declared once for every service.

Specs are plain data (no NATS client import) so that the contracts package stays pure;
``sipas_runtime.streams`` turns them into nats-py configs. Every stream uses file storage;
replicas are chosen at deployment (1 on a single node, 3 in the cluster).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from sipas_contracts import subjects

Retention = Literal["limits", "workqueue", "interest"]


@dataclass(frozen=True)
class StreamSpec:
    """What a stream holds and how long; replicas are a deployment choice."""

    name: str
    subjects: tuple[str, ...]
    description: str
    retention: Retention = "limits"
    max_age: timedelta | None = None
    max_msgs_per_subject: int = -1
    duplicate_window: timedelta = timedelta(minutes=2)
    deny_delete: bool = True
    deny_purge: bool = True
    allow_direct: bool = False
    personal_data: bool = False
    """Messages hold personal data in clear: kept briefly, never copied into a dead letter."""
    partitioned_by: str | None = None
    """Subjects whose ``*`` token (the unit) partitions the stream when a deployment sets a
    partition count (``SIPAS_PARTITIONS``): stored with the partition before that token."""


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer owned by one service."""

    durable: str
    stream: str
    filter_subjects: tuple[str, ...]
    owner: str
    max_deliver: int = 10
    ack_wait: timedelta = timedelta(seconds=30)
    max_ack_pending: int = 5000
    description: str = ""
    pinned: bool = False
    """One instance at a time receives its messages (state kept in memory, issue #22)."""
    partitioned: bool = False
    """With a partition count (``SIPAS_PARTITIONS``), also one pinned durable per partition
    of its stream (:func:`partition_consumers`), each owned by one instance (issue #22)."""


RAW_DOSSIERS = StreamSpec(
    name="SIPAS_RAW_DOSSIERS",
    subjects=(subjects.RAW_DOSSIERS,),
    description="Raw dossier records from TTHC information systems, before validation "
    "(contacts, names and ID numbers in clear as the TTHC system sends them)",
    # As short as the purpose: intake validates a record within seconds; a week leaves time
    # to replay a dead letter from its source and to resume after a store loses its last
    # commits. Work-queue retention (gone once acked) would make both impossible.
    max_age=timedelta(days=7),
    deny_purge=False,
    personal_data=True,
)
DOSSIERS = StreamSpec(
    name="SIPAS_DOSSIERS",
    subjects=(subjects.DOSSIERS_COMPLETED,),
    description="Validated dossier-completed events (the sampling population)",
    max_age=timedelta(days=400),
    deny_purge=False,  # crypto-shredding aside, a campaign's population may be purged by policy
    partitioned_by=subjects.DOSSIERS_BY_UNIT,  # each unit's quota has one owner (issue #22)
)
CAMPAIGNS = StreamSpec(
    name="SIPAS_CAMPAIGNS",
    subjects=(subjects.CAMPAIGNS_PLANNED,),
    description="Campaign plans as sampling stores them (names, window, units, thresholds)",
)
INVITATIONS = StreamSpec(
    name="SIPAS_INVITATIONS",
    subjects=(subjects.INVITATIONS_SENT, subjects.INVITATIONS_CLOSED),
    description="Invitations sent and closed (token hashes, never contacts)",
    max_age=timedelta(days=400),
)
RESPONSES = StreamSpec(
    name="SIPAS_RESPONSES",
    subjects=(subjects.RESPONSES_RECORDED,),
    description="Recorded responses: the source of truth scoring rebuilds from",
)
INDEXES = StreamSpec(
    name="SIPAS_INDEXES",
    subjects=(subjects.INDEXES_UPDATED,),
    description="Latest index per (campaign, unit) for downstream consumers",
    max_msgs_per_subject=1,
    deny_delete=False,
    deny_purge=False,
    allow_direct=True,  # downstream reads the latest value per subject with DIRECT.GET
)
ALERTS = StreamSpec(
    name="SIPAS_ALERTS",
    subjects=(subjects.ALERTS_RAISED, subjects.CASES_UPDATED),
    description="Alerts raised and case lifecycle changes",
)
DEAD_LETTERS = StreamSpec(
    name="SIPAS_DLQ",
    subjects=(subjects.DEAD_LETTERS,),
    description="Messages a service could not process, with the reason in headers",
    max_age=timedelta(days=90),
    deny_delete=False,
    deny_purge=False,
)

OVERRIDES = StreamSpec(
    name="SIPAS_OVERRIDES",
    subjects=(subjects.OVERRIDES,),
    description="Operators' overrides (who, when, why), append-only: e.g. a dead letter "
    "replayed from its own body because its source message is gone",
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    RAW_DOSSIERS,
    DOSSIERS,
    CAMPAIGNS,
    INVITATIONS,
    RESPONSES,
    INDEXES,
    ALERTS,
    DEAD_LETTERS,
    OVERRIDES,
)
PERSONAL_DATA_STREAMS = frozenset(s.name for s in ALL_STREAMS if s.personal_data)

INTAKE_RAW_DOSSIERS = ConsumerSpec(
    durable="intake-raw-dossiers",
    stream=RAW_DOSSIERS.name,
    filter_subjects=(subjects.RAW_DOSSIERS,),
    owner="intake",
    description="Validate raw TTHC records into dossier-completed events",
)
INTAKE_INVITATIONS = ConsumerSpec(
    durable="intake-invitations",
    stream=INVITATIONS.name,
    # One consumer for both: a closure is always behind its invitation in the stream.
    filter_subjects=(subjects.INVITATIONS_SENT, subjects.INVITATIONS_CLOSED),
    owner="intake",
    description="Register token hashes so the survey form can accept the response; close "
    "the token of an invitation replaced from the reserve list",
)
SAMPLING_DOSSIERS = ConsumerSpec(
    durable="sampling-dossiers",
    stream=DOSSIERS.name,
    filter_subjects=(subjects.DOSSIERS_COMPLETED,),
    owner="sampling",
    description="Decide on each completed dossier whether to invite",
    partitioned=True,
)
SAMPLING_RESPONSES = ConsumerSpec(
    durable="sampling-responses",
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="sampling",
    description="Observe response rates to adapt continuous sampling",
)
SCORING_RESPONSES = ConsumerSpec(
    durable="scoring-responses",
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="scoring",
    max_ack_pending=20000,
    description="Fold responses into per-unit aggregates",
    pinned=True,
)
SCORING_DOSSIERS = ConsumerSpec(
    durable="scoring-dossiers",
    stream=DOSSIERS.name,
    filter_subjects=(subjects.DOSSIERS_COMPLETED,),
    owner="scoring",
    description="Funnel: completed dossiers per unit",
)
SCORING_INVITATIONS = ConsumerSpec(
    durable="scoring-invitations",
    stream=INVITATIONS.name,
    filter_subjects=(subjects.INVITATIONS_SENT,),
    owner="scoring",
    description="Funnel: invitations per unit and channel",
)
SCORING_CAMPAIGNS = ConsumerSpec(
    durable="scoring-campaigns",
    stream=CAMPAIGNS.name,
    filter_subjects=(subjects.CAMPAIGNS_PLANNED,),
    owner="scoring",
    description="Campaign plans: report title, window, units and the ranking threshold",
)
ALERTS_RESPONSES = ConsumerSpec(
    durable="alerts-responses",
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="alerts",
    description="Evaluate response rules (negative ratings, extra payment, ...)",
)
ALERTS_INDEXES = ConsumerSpec(
    durable="alerts-indexes",
    stream=INDEXES.name,
    filter_subjects=(subjects.INDEXES_UPDATED,),
    owner="alerts",
    description="Evaluate index rules (threshold, drop versus previous period)",
)
ALERTS_INVITATIONS = ConsumerSpec(
    durable="alerts-invitations",
    stream=INVITATIONS.name,
    filter_subjects=(subjects.INVITATIONS_SENT,),
    owner="alerts",
    description="Count invitations per unit and day (silent units, response-rate collapse)",
)

ALL_CONSUMERS: tuple[ConsumerSpec, ...] = (
    INTAKE_RAW_DOSSIERS,
    INTAKE_INVITATIONS,
    SAMPLING_DOSSIERS,
    SAMPLING_RESPONSES,
    SCORING_RESPONSES,
    SCORING_DOSSIERS,
    SCORING_INVITATIONS,
    SCORING_CAMPAIGNS,
    ALERTS_RESPONSES,
    ALERTS_INDEXES,
    ALERTS_INVITATIONS,
)

SCORING_FUNNEL_RESPONSES = ConsumerSpec(
    durable="scoring-funnel-responses",
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="scoring",
    description="Retired (#22): marked invitations answered; the responses consumer's "
    "checkpoints write the marks now",
)
RETIRED_CONSUMERS: tuple[ConsumerSpec, ...] = (SCORING_FUNNEL_RESPONSES,)
"""Durables of earlier versions: their owner finishes their work and deletes them."""


def partition_consumers(spec: ConsumerSpec, count: int) -> tuple[ConsumerSpec, ...]:
    """``spec``'s durables of a stream partitioned ``count`` ways: ``<durable>-p<k>``.

    Each filters the subjects its partition is stored under and is pinned: one instance
    at a time owns a partition, and another takes it over when that one dies.
    """
    if not spec.partitioned or count < 1:
        return ()
    if spec.stream != DOSSIERS.name:
        msg = f"{spec.durable}: only the dossier stream is partitioned"
        raise ValueError(msg)
    return tuple(
        replace(
            spec,
            durable=f"{spec.durable}-p{k}",
            filter_subjects=(subjects.dossier_partition(k),),
            description=f"{spec.description} (partition {k} of {count})",
            pinned=True,
            partitioned=False,
        )
        for k in range(count)
    )


def consumers(partitions: int = 0) -> tuple[ConsumerSpec, ...]:
    """Every durable of a deployment whose partitioned streams have ``partitions`` partitions.

    The unpartitioned durables stay: a deployment switches by setting the count.
    """
    return ALL_CONSUMERS + tuple(
        p for spec in ALL_CONSUMERS for p in partition_consumers(spec, partitions)
    )
