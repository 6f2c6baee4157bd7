"""Least-privilege NATS users, generated from the contracts.

Who may publish what follows from which service produces which event; who may consume what
follows from the durable consumers declared in ``sipas_contracts.streams``. Rendering the
server's ``accounts`` block from those declarations keeps the permissions true when a
consumer is added (``sipas nats config --check`` fails when the committed file is stale).

Each service user may: publish its own events and its own dead letters; create, pull from
and ack only its own durable consumers (consumer-level API subjects, never another user's
durable), and read back by sequence the streams they consume; read and delete its
retired durables (``streams.RETIRED_CONSUMERS``); create/update only the
streams it owns, and only create (never update) the shared dead-letter and override
streams, whose settings the operators' ``sipas nats provision`` keeps; read stream info;
receive replies only on its private inbox prefix (``_INBOX_<service>``), so no service can
read another's pulled messages; answer operators' requests to replay its dead letters
(``sipas.replay.<service>``, and only those: ``allow_responses``). ``tthc`` (the TTHC
information system) may only publish raw
dossier records (not on intake's own ``http``/``import`` sources); ``downstream`` may only
read index updates, with consumers of its own on ``SIPAS_INDEXES`` (any name but a service's
durable: it can neither pull, ack nor reconfigure ``alerts-indexes``); ``admin`` provisions
streams.
Passwords are never in the file: NATS resolves ``$SIPAS_NATS_<USER>_PASSWORD`` from the
server's environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sipas_contracts import streams, subjects
from sipas_runtime.identity.bucket import STREAM as IDENTITY_STREAM

SERVICES = ("intake", "sampling", "scoring", "alerts", "console")
# Raw records intake's webhook and importer queue, already validated and with the contact
# sealed (``Sipas-Format: prepared``): only intake may publish them, the TTHC system may not.
INTAKE_RAW_SOURCES = (subjects.raw_dossier("http"), subjects.raw_dossier("import"))
SERVICE_PUBLISHES: dict[str, tuple[str, ...]] = {
    "intake": (subjects.DOSSIERS_COMPLETED, subjects.RESPONSES_RECORDED, *INTAKE_RAW_SOURCES),
    "sampling": (
        subjects.INVITATIONS_SENT,
        subjects.INVITATIONS_CLOSED,
        subjects.CAMPAIGNS_PLANNED,
    ),
    "scoring": (subjects.INDEXES_UPDATED,),
    "alerts": (subjects.ALERTS_RAISED, subjects.CASES_UPDATED),
    "console": (),
}
# Core subscriptions (no JetStream consumer): the console's live pages.
SERVICE_SUBSCRIBES: dict[str, tuple[str, ...]] = {
    "console": (subjects.INDEXES_UPDATED, subjects.CASES_UPDATED, subjects.ALERTS_RAISED),
}
STREAM_OWNERS: dict[str, str] = {
    streams.RAW_DOSSIERS.name: "intake",
    streams.DOSSIERS.name: "intake",
    streams.RESPONSES.name: "intake",
    streams.INVITATIONS.name: "sampling",
    streams.CAMPAIGNS.name: "sampling",
    streams.INDEXES.name: "scoring",
    streams.ALERTS.name: "alerts",
    IDENTITY_STREAM: "console",  # the identity bucket: the keys the console publishes
}
SHARED_STREAMS = (streams.DEAD_LETTERS.name, streams.OVERRIDES.name)
USERS = (*SERVICES, "tthc", "downstream", "admin")
JS = "$JS.API"


def inbox_prefix(user: str) -> str:
    """The private reply-subject prefix of ``user``."""
    return f"_INBOX_{user}"


def password_variable(user: str) -> str:
    """Environment variable holding ``user``'s password on the NATS server side."""
    return f"SIPAS_NATS_{user.upper()}_PASSWORD"


def owned_streams(service: str) -> tuple[str, ...]:
    """Streams ``service`` creates and updates (the shared ones it may only create)."""
    return tuple(name for name, owner in STREAM_OWNERS.items() if owner == service)


def _consumer_api(stream: str, consumer: str) -> list[str]:
    """Every API subject that names one consumer: create/update, info, pull, ack."""
    return [
        f"{JS}.CONSUMER.CREATE.{stream}.{consumer}",
        f"{JS}.CONSUMER.CREATE.{stream}.{consumer}.>",
        f"{JS}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
        f"{JS}.CONSUMER.INFO.{stream}.{consumer}",
        f"{JS}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
    ]


def identity_reader() -> list[str]:
    """What watching the identity bucket takes (an ordered consumer on its stream)."""
    stream = IDENTITY_STREAM
    return [
        f"{JS}.CONSUMER.CREATE.{stream}",
        f"{JS}.CONSUMER.CREATE.{stream}.>",
        f"{JS}.CONSUMER.INFO.{stream}.>",
        f"{JS}.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def identity_writer() -> list[str]:
    """What publishing keys takes (the console): writing and reading single entries."""
    stream = IDENTITY_STREAM
    return [
        f"$KV.{IDENTITY_STREAM.removeprefix('KV_')}.>",
        f"{JS}.DIRECT.GET.{stream}",
        f"{JS}.DIRECT.GET.{stream}.>",
        f"{JS}.STREAM.MSG.GET.{stream}",
    ]


def service_permissions(service: str, partitions: int = 0) -> dict[str, Any]:
    """Publish/subscribe allow-lists of one service user (its partitions' durables too)."""
    publish = [*SERVICE_PUBLISHES[service], subjects.dead_letter(service), f"{JS}.INFO"]
    publish += [f"{JS}.STREAM.INFO.*", *identity_reader()]
    if STREAM_OWNERS[IDENTITY_STREAM] == service:
        publish += identity_writer()
    for stream in owned_streams(service):
        publish += [f"{JS}.STREAM.CREATE.{stream}", f"{JS}.STREAM.UPDATE.{stream}"]
    # Creating an existing stream with other settings fails: the shared streams' settings
    # (retention, limits) stay as the operators provisioned them.
    publish += [f"{JS}.STREAM.CREATE.{stream}" for stream in SHARED_STREAMS]
    for spec in streams.consumers(partitions):
        if spec.owner == service:
            publish += _consumer_api(spec.stream, spec.durable)
            # sipas_runtime.pinning: hand over on stop; recreate an old durable. A partitioned
            # durable may run pinned unpartitioned too (sampling's decisions in memory).
            if spec.pinned or spec.partitioned:
                where = f"{spec.stream}.{spec.durable}"
                publish += [f"{JS}.CONSUMER.UNPIN.{where}", f"{JS}.CONSUMER.DELETE.{where}"]
            # Read back by sequence what its consumers consume (resuming a lost commit).
            publish.append(f"{JS}.STREAM.MSG.GET.{spec.stream}")
    for spec in streams.RETIRED_CONSUMERS:  # the owner reads where it stopped, then deletes it
        if spec.owner == service:
            where = f"{spec.stream}.{spec.durable}"
            publish += [f"{JS}.CONSUMER.INFO.{where}", f"{JS}.CONSUMER.DELETE.{where}"]
    return {
        "publish": {"allow": sorted(set(publish))},
        # Replay requests come from operators (admin) only; the answer goes to their inbox.
        "subscribe": {
            "allow": [
                *SERVICE_SUBSCRIBES.get(service, ()),
                f"{inbox_prefix(service)}.>",
                subjects.replay_request(service),
            ]
        },
        "allow_responses": True,
    }


def user_permissions(user: str, partitions: int = 0) -> dict[str, Any]:
    """Allow-lists of any SIPAS user (services, tthc, downstream, admin)."""
    if user in SERVICES:
        return service_permissions(user, partitions)
    if user == "tthc":
        return {
            "publish": {"allow": [subjects.RAW_DOSSIERS], "deny": list(INTAKE_RAW_SOURCES)},
            "subscribe": {"allow": [f"{inbox_prefix(user)}.>"]},
        }
    if user == "downstream":
        return downstream_permissions()
    if user == "admin":
        return {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
    msg = f"unknown NATS user {user!r}"
    raise ValueError(msg)


def downstream_permissions() -> dict[str, Any]:
    """Index updates only: its own consumers on SIPAS_INDEXES, never a service's durable.

    NATS wildcards match whole tokens, so "any consumer but the services'" is an allow of
    ``*`` and a deny of each service durable on the stream (deny wins; generated from the
    contracts, so a new durable is denied as soon as it is declared).
    """
    stream = streams.INDEXES.name
    own = "*"  # any name: ephemeral (server-named) or an integrator's durable
    services_consumers = [c.durable for c in streams.consumers() if c.stream == stream]
    return {
        "publish": {
            "allow": [
                f"{JS}.INFO",
                f"{JS}.STREAM.INFO.{stream}",
                # Not the ephemeral-create subject (CONSUMER.CREATE.<stream>): it names no
                # consumer, and a name in its body updates that consumer (alerts-indexes).
                # Clients name their ephemeral consumers (nats-py pull_subscribe does).
                *_consumer_api(stream, own),
                f"{JS}.DIRECT.GET.{stream}",
                f"{JS}.DIRECT.GET.{stream}.>",
            ],
            "deny": sorted(
                subject
                for durable in services_consumers
                for subject in _consumer_api(stream, durable)
            ),
        },
        "subscribe": {"allow": [subjects.INDEXES_UPDATED, f"{inbox_prefix('downstream')}.>"]},
    }


def _users(users: Iterable[str], partitions: int) -> str:
    lines = []
    for user in users:
        allowed = user_permissions(user, partitions)
        permissions = json.dumps(allowed, indent=2).replace("\n", "\n      ")
        lines.append(
            f"    {{\n      user: {user}\n      password: ${password_variable(user)}\n"
            f"      permissions: {permissions}\n    }}"
        )
    return "\n".join(lines)


def render_accounts(partitions: int = 0) -> str:
    """The ``accounts`` block of the NATS server configuration (include it from nats.conf).

    ``partitions``: the deployment's ``SIPAS_PARTITIONS`` (its partitions' durables).
    """
    return (
        "# Generated by `sipas nats config` from the SIPAS contracts. Do not edit by hand.\n"
        "# Passwords come from the server's environment: SIPAS_NATS_<USER>_PASSWORD.\n"
        "accounts {\n"
        "  SIPAS {\n"
        "    jetstream: enabled\n"
        "    users: [\n"
        f"{_users(USERS, partitions)}\n"
        "    ]\n"
        "  }\n"
        "  SYS {\n"
        "    users: [{user: system, password: $SIPAS_NATS_SYSTEM_PASSWORD}]\n"
        "  }\n"
        "}\n"
        "system_account: SYS\n"
    )
