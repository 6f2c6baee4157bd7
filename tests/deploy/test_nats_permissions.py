"""The NATS permission matrix, proven on a real nats-server with deploy/nats/accounts.conf.

Every allowed operation works; every forbidden one is refused by the server. Both lists are
spelled out below, not derived from the code under test.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import api

from sipas_contracts.streams import (
    ALL_CONSUMERS,
    DEAD_LETTERS,
    SAMPLING_DOSSIERS,
    SAMPLING_RESPONSES,
    SCORING_FUNNEL_RESPONSES,
    partition_consumers,
)
from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.nats_access import (
    SHARED_STREAMS,
    USERS,
    inbox_prefix,
    owned_streams,
    password_variable,
    render_accounts,
    service_permissions,
)
from sipas_runtime.streams import consumer_config, ensure_streams, stream_config

pytestmark = [pytest.mark.deploy, pytest.mark.nats]
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {user: f"pw-{user}-{os.getpid()}" for user in (*USERS, "system")}
PULL = "$JS.API.CONSUMER.MSG.NEXT.SIPAS_INDEXES"
CREATE = "$JS.API.CONSUMER.CREATE.SIPAS_INDEXES"

# (user, subject) publishes that must be stored (JetStream PubAck).
ALLOWED_PUBLISH = [
    ("intake", "sipas.dossier.completed.ht-nx-co-dam"),
    ("intake", "sipas.response.recorded.ht-nx-co-dam"),
    ("intake", "sipas.dlq.intake"),
    ("intake", "sipas.raw.dossier.http"),
    ("intake", "sipas.raw.dossier.import"),
    ("sampling", "sipas.invitation.sent.ht-nx-co-dam"),
    ("sampling", "sipas.invitation.closed.ht-nx-co-dam"),
    ("sampling", "sipas.dlq.sampling"),
    ("scoring", "sipas.index.updated.c2026.ht-nx-co-dam"),
    ("alerts", "sipas.alert.raised.ht-nx-co-dam"),
    ("alerts", "sipas.case.updated.ht-nx-co-dam"),
    ("tthc", "sipas.raw.dossier.one-stop"),
]
# (user, subject) publishes the server must refuse.
FORBIDDEN_PUBLISH = [
    ("intake", "sipas.invitation.sent.ht-nx-co-dam"),
    ("intake", "sipas.invitation.closed.ht-nx-co-dam"),  # only sampling closes a token
    ("intake", "sipas.index.updated.c2026.ht"),
    ("intake", "sipas.dlq.scoring"),
    ("sampling", "sipas.response.recorded.ht-nx-co-dam"),
    ("sampling", "sipas.dossier.completed.ht"),
    ("scoring", "sipas.response.recorded.ht"),
    ("scoring", "sipas.alert.raised.ht"),
    ("alerts", "sipas.index.updated.c2026.ht"),
    ("alerts", "sipas.raw.dossier.x"),
    ("tthc", "sipas.dossier.completed.ht"),
    ("tthc", "sipas.raw.dossier.http"),
    ("tthc", "sipas.raw.dossier.import"),
    ("intake", "sipas.raw.dossier.one-stop"),
    ("tthc", "sipas.response.recorded.ht"),
    ("downstream", "sipas.index.updated.c2026.ht"),
    ("downstream", "sipas.raw.dossier.x"),
    # JetStream administration that would destroy evidence
    ("intake", "$JS.API.STREAM.DELETE.SIPAS_RESPONSES"),
    ("intake", "$JS.API.STREAM.PURGE.SIPAS_RESPONSES"),
    ("scoring", "$JS.API.STREAM.MSG.DELETE.SIPAS_RESPONSES"),
    ("scoring", "$JS.API.STREAM.UPDATE.SIPAS_RESPONSES"),
    ("alerts", "$JS.API.STREAM.CREATE.SIPAS_INDEXES"),
    ("downstream", "$JS.API.STREAM.DELETE.SIPAS_INDEXES"),
    # another service's durable consumer: pulling, acking, re-creating
    ("scoring", "$JS.API.CONSUMER.MSG.NEXT.SIPAS_RAW_DOSSIERS.intake-raw-dossiers"),
    ("alerts", "$JS.API.CONSUMER.MSG.NEXT.SIPAS_RESPONSES.scoring-responses"),
    ("sampling", "$JS.ACK.SIPAS_RESPONSES.scoring-responses.1.1.1.1.1"),
    ("alerts", "$JS.API.CONSUMER.CREATE.SIPAS_RAW_DOSSIERS.intake-raw-dossiers"),
    ("downstream", "$JS.API.CONSUMER.MSG.NEXT.SIPAS_RESPONSES.scoring-responses"),
    ("scoring", "$JS.API.CONSUMER.CREATE.SIPAS_INDEXES.alerts-indexes"),
    ("sampling", "$JS.API.CONSUMER.DURABLE.CREATE.SIPAS_RESPONSES.scoring-responses"),
    ("intake", "$JS.API.CONSUMER.DELETE.SIPAS_RAW_DOSSIERS.intake-raw-dossiers"),
    # downstream's own consumers on SIPAS_INDEXES, never alerts' (it took 16 of 16 updates)
    ("downstream", "$JS.API.CONSUMER.MSG.NEXT.SIPAS_INDEXES.alerts-indexes"),
    ("downstream", "$JS.ACK.SIPAS_INDEXES.alerts-indexes.1.1.1.1.1"),
    ("downstream", "$JS.API.CONSUMER.CREATE.SIPAS_INDEXES.alerts-indexes"),
    ("downstream", "$JS.API.CONSUMER.CREATE.SIPAS_INDEXES.alerts-indexes.sipas.index.>"),
    ("downstream", "$JS.API.CONSUMER.DURABLE.CREATE.SIPAS_INDEXES.alerts-indexes"),
    ("downstream", "$JS.API.CONSUMER.DELETE.SIPAS_INDEXES.alerts-indexes"),
    # the shared streams' settings (retention) are the operators': created, never updated
    ("intake", "$JS.API.STREAM.UPDATE.SIPAS_DLQ"),
    ("sampling", "$JS.API.STREAM.UPDATE.SIPAS_DLQ"),
    ("scoring", "$JS.API.STREAM.UPDATE.SIPAS_DLQ"),
    ("alerts", "$JS.API.STREAM.UPDATE.SIPAS_DLQ"),
    ("console", "$JS.API.STREAM.UPDATE.SIPAS_DLQ"),
    ("scoring", "$JS.API.STREAM.UPDATE.SIPAS_OVERRIDES"),
    ("alerts", "$JS.API.STREAM.UPDATE.SIPAS_OVERRIDES"),
    ("alerts", "$JS.API.STREAM.DELETE.SIPAS_DLQ"),
    # asking for a dead-letter replay, or recording an override: operators (admin) only
    ("scoring", "sipas.replay.alerts"),
    ("alerts", "sipas.replay.alerts"),
    ("intake", "sipas.override.dlq-replay"),
    ("tthc", "sipas.replay.intake"),
    # reading back a stream none of one's consumers reads
    ("scoring", "$JS.API.STREAM.MSG.GET.SIPAS_RAW_DOSSIERS"),
    ("alerts", "$JS.API.STREAM.MSG.GET.SIPAS_DOSSIERS"),
    ("downstream", "$JS.API.STREAM.MSG.GET.SIPAS_RESPONSES"),
]
# (user, stream) streams a service reads back by sequence (resuming what its store lost).
ALLOWED_READ_BACK = [
    ("intake", "SIPAS_RAW_DOSSIERS"),
    ("sampling", "SIPAS_DOSSIERS"),
    ("scoring", "SIPAS_RESPONSES"),
    ("alerts", "SIPAS_INDEXES"),
]
# (user, subject) subscriptions the server must refuse.
FORBIDDEN_SUBSCRIBE = [
    ("intake", "sipas.>"),
    ("sampling", "sipas.raw.dossier.>"),
    ("scoring", "_INBOX.>"),
    ("alerts", "_INBOX_intake.>"),
    ("scoring", "_INBOX_sampling.>"),
    ("tthc", "sipas.dossier.completed.>"),
    ("downstream", "sipas.response.recorded.>"),
    ("scoring", "sipas.replay.alerts"),
    ("scoring", "sipas.replay.>"),
]
# (user, stream, durable) consumers each service may create and pull from.
ALLOWED_CONSUMERS = [
    ("intake", "SIPAS_RAW_DOSSIERS", "intake-raw-dossiers"),
    ("intake", "SIPAS_INVITATIONS", "intake-invitations"),
    ("sampling", "SIPAS_DOSSIERS", "sampling-dossiers"),
    ("sampling", "SIPAS_RESPONSES", "sampling-responses"),
    ("scoring", "SIPAS_RESPONSES", "scoring-responses"),
    ("scoring", "SIPAS_DOSSIERS", "scoring-dossiers"),
    ("scoring", "SIPAS_INVITATIONS", "scoring-invitations"),
    ("alerts", "SIPAS_RESPONSES", "alerts-responses"),
    ("alerts", "SIPAS_INDEXES", "alerts-indexes"),
    ("alerts", "SIPAS_INVITATIONS", "alerts-invitations"),
]


def secured_server(workdir: Path) -> EmbeddedNats:
    """A real nats-server with the generated users; passwords in its environment."""
    return EmbeddedNats(
        workdir,
        accounts=ROOT / "deploy" / "nats" / "accounts.conf",
        env={password_variable(u): pw for u, pw in PASSWORDS.items()},
    )


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = secured_server(tmp_path_factory.mktemp("secured-nats"))
    try:
        yield server.start()
    finally:
        server.stop()


class Session:
    """A connection as one user, collecting the server's permission errors."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.errors: list[str] = []
        self.nc: Client | None = None

    async def connect(self, url: str) -> Client:
        async def on_error(error: Exception) -> None:
            self.errors.append(str(error))

        self.nc = await nats.connect(
            url,
            user=self.user,
            password=PASSWORDS[self.user],
            inbox_prefix=inbox_prefix(self.user),
            error_cb=on_error,
            allow_reconnect=False,
        )
        return self.nc

    async def refused(self, subject: str) -> bool:
        for _ in range(40):
            if any(
                subject.lower() in e.lower() and "permissions violation" in e.lower()
                for e in self.errors
            ):
                return True
            await asyncio.sleep(0.05)
        return False


@pytest.fixture
async def connect(secured_nats: str) -> AsyncIterator[object]:
    sessions: list[Session] = []

    async def open_session(user: str) -> Session:
        session = Session(user)
        await session.connect(secured_nats)
        sessions.append(session)
        return session

    admin = await open_session("admin")
    assert admin.nc is not None
    await ensure_streams(admin.nc.jetstream(), replicas=1)
    yield open_session
    for session in sessions:
        if session.nc is not None:
            await session.nc.close()


async def test_unauthenticated_clients_are_refused(secured_nats):
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(secured_nats, allow_reconnect=False, max_reconnect_attempts=0)


@pytest.mark.parametrize(("user", "subject"), ALLOWED_PUBLISH)
async def test_each_producer_can_store_its_own_events(connect, user, subject):
    session = await connect(user)

    ack = await session.nc.jetstream().publish(subject, b"{}", timeout=5)

    assert ack.seq >= 1
    assert session.errors == []


@pytest.mark.parametrize(("user", "subject"), FORBIDDEN_PUBLISH)
async def test_publishing_outside_a_users_remit_is_refused(connect, user, subject):
    session = await connect(user)

    await session.nc.publish(subject, b"{}")
    await session.nc.flush()

    assert await session.refused(subject), f"{user} could publish to {subject}"


@pytest.mark.parametrize(("user", "subject"), FORBIDDEN_SUBSCRIBE)
async def test_reading_outside_a_users_remit_is_refused(connect, user, subject):
    session = await connect(user)

    await session.nc.subscribe(subject)
    await session.nc.flush()

    assert await session.refused(subject), f"{user} could subscribe to {subject}"


@pytest.mark.parametrize(("user", "stream", "durable"), ALLOWED_CONSUMERS)
async def test_each_service_can_create_pull_and_ack_its_own_consumer(
    connect, user, stream, durable
):
    spec = next(c for c in ALL_CONSUMERS if c.durable == durable)
    admin = await connect("admin")
    await admin.nc.jetstream().publish(spec.filter_subjects[0].replace(">", "probe.x"), b"{}")
    session = await connect(user)
    js = session.nc.jetstream()

    await js.add_consumer(stream, consumer_config(spec))
    sub = await js.pull_subscribe_bind(
        durable, stream=stream, inbox_prefix=f"{inbox_prefix(user)}.".encode()
    )
    [msg] = await sub.fetch(1, timeout=5)
    await msg.ack_sync()

    info = await js.consumer_info(stream, durable)
    assert info.num_ack_pending == 0
    assert session.errors == []


@pytest.mark.parametrize(("user", "stream"), ALLOWED_READ_BACK)
async def test_each_service_can_read_back_what_its_consumers_read(connect, user, stream):
    admin = await connect("admin")
    subject = {"SIPAS_RAW_DOSSIERS": "sipas.raw.dossier.probe", "SIPAS_DOSSIERS":
               "sipas.dossier.completed.u", "SIPAS_RESPONSES": "sipas.response.recorded.u",
               "SIPAS_INDEXES": "sipas.index.updated.c.u"}[stream]  # fmt: skip
    ack = await admin.nc.jetstream().publish(subject, b"{}")
    session = await connect(user)

    message = await session.nc.jetstream().get_msg(stream, ack.seq)

    assert message.subject == subject
    assert session.errors == []


@pytest.mark.parametrize("user", ["intake", "sampling", "scoring", "alerts"])
async def test_a_service_answers_an_operators_replay_request(connect, user):
    service = await connect(user)

    async def answer(msg) -> None:
        await msg.respond(b'{"outcome": "applied"}')

    await service.nc.subscribe(f"sipas.replay.{user}", queue="replay", cb=answer)
    admin = await connect("admin")

    reply = await admin.nc.request(f"sipas.replay.{user}", b"{}", timeout=5)

    assert json.loads(reply.data) == {"outcome": "applied"}
    assert service.errors == []


async def test_downstream_reads_index_updates_and_nothing_else(connect):
    admin = await connect("admin")
    await admin.nc.jetstream().publish(
        "sipas.index.updated.c2026.ht-nx-co-dam", json.dumps({"v": 1}).encode()
    )
    reader = await connect("downstream")
    js = reader.nc.jetstream()

    latest = await js.get_last_msg(
        "SIPAS_INDEXES", "sipas.index.updated.c2026.ht-nx-co-dam", direct=True
    )
    ephemeral = await js.pull_subscribe(
        "sipas.index.updated.>",
        stream="SIPAS_INDEXES",
        config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT),
        inbox_prefix=f"{inbox_prefix('downstream')}.".encode(),
    )
    messages = await ephemeral.fetch(1, timeout=5)

    assert json.loads(latest.data) == {"v": 1}
    assert messages
    assert reader.errors == []


async def test_downstream_cannot_take_or_reconfigure_alerts_consumer(connect):
    alerts = await connect("alerts")
    spec = next(c for c in ALL_CONSUMERS if c.durable == "alerts-indexes")
    await alerts.nc.jetstream().add_consumer("SIPAS_INDEXES", consumer_config(spec))
    admin = await connect("admin")
    await admin.nc.jetstream().purge_stream("SIPAS_INDEXES")  # this test's updates only
    for unit in ("u1", "u2", "u3"):
        await admin.nc.jetstream().publish(f"sipas.index.updated.c2026.{unit}", b"{}")
    thief = await connect("downstream")
    before = (await admin.nc.jetstream().consumer_info("SIPAS_INDEXES", "alerts-indexes")).config
    # Only settings an update may change: the server would apply them to alerts' consumer.
    rewrite = consumer_config(spec).evolve(
        durable_name=None, name="alerts-indexes", max_ack_pending=1, filter_subject="sipas.x.>"
    )

    request = {"stream_name": "SIPAS_INDEXES", "config": rewrite.as_dict()}

    answers = [  # pulling alerts' consumer; rewriting it through the API subjects
        await answer(thief, f"{PULL}.alerts-indexes", {"batch": 16}),
        # the ephemeral-create subject names no consumer: a name in the body would update it
        await answer(thief, CREATE, request),
        await answer(thief, f"{CREATE}.mine", request),
        await answer(thief, f"{CREATE}.mine.sipas.x.>", request),
    ]
    after = (await admin.nc.jetstream().consumer_info("SIPAS_INDEXES", "alerts-indexes")).config
    names = {c.name for c in await admin.nc.jetstream().consumers_info("SIPAS_INDEXES")}
    taken = await alerts.nc.jetstream().pull_subscribe_bind(
        "alerts-indexes", stream="SIPAS_INDEXES", inbox_prefix=b"_INBOX_alerts."
    )
    messages = await taken.fetch(3, timeout=5)

    assert answers == ["refused", "refused", "ok", "ok"]  # ok: the subject's name wins ...
    assert "mine" in names  # ... downstream made its own "mine"
    assert after == before
    assert len(messages) == 3  # none taken by downstream


async def test_scoring_may_read_and_delete_its_retired_durable_but_not_pull_from_it(connect):
    spec = SCORING_FUNNEL_RESPONSES
    admin = await connect("admin")
    await admin.nc.jetstream().add_consumer(spec.stream, consumer_config(spec))
    scoring = await connect("scoring")
    where = f"{spec.stream}.{spec.durable}"

    answers = [
        await answer(scoring, f"$JS.API.CONSUMER.INFO.{where}", {}),
        await answer(scoring, f"$JS.API.CONSUMER.MSG.NEXT.{where}", {"batch": 1}),
        await answer(scoring, f"$JS.API.CONSUMER.DELETE.{where}", {}),
    ]

    assert answers == ["ok", "refused", "ok"]
    names = {c.name for c in await admin.nc.jetstream().consumers_info(spec.stream)}
    assert spec.durable not in names


async def answer(session: Session, subject: str, body: dict[str, object]) -> str:
    """What the server answers ``session``'s request: refused, an error, or ok."""
    try:
        reply = await session.nc.request(subject, json.dumps(body).encode(), timeout=1)
    except nats.errors.TimeoutError:
        return "refused" if await session.refused(subject) else "no answer"
    error = json.loads(reply.data).get("error")
    return f"error {error['description']}" if error else "ok"


@pytest.mark.parametrize("user", ["scoring", "alerts"])
async def test_a_service_cannot_change_the_dead_letter_streams_retention(connect, user):
    admin = await connect("admin")
    kept = (await admin.nc.jetstream().stream_info("SIPAS_DLQ")).config.max_age
    service = await connect(user)
    js = service.nc.jetstream(timeout=1)
    shorter = stream_config(DEAD_LETTERS, replicas=1).evolve(max_age=3600.0)

    with pytest.raises(nats.errors.TimeoutError):
        await js.update_stream(shorter)
    with pytest.raises(nats.js.errors.BadRequestError):  # exists with other settings
        await js.add_stream(shorter)

    assert await service.refused("$JS.API.STREAM.UPDATE.SIPAS_DLQ")
    assert (await admin.nc.jetstream().stream_info("SIPAS_DLQ")).config.max_age == kept


@pytest.mark.parametrize("user", ["intake", "sampling", "scoring", "alerts", "console"])
async def test_a_service_starts_with_its_own_rights_only(connect, user):
    """What a service does at start: update its streams, create the shared ones if missing."""
    session = await connect(user)

    await ensure_streams(
        session.nc.jetstream(), replicas=1, manage=owned_streams(user), create=SHARED_STREAMS
    )

    assert session.errors == []


def test_a_partitioned_deployment_lets_sampling_own_each_partitions_durable():
    """SIPAS_PARTITIONS=4: sampling may create, pull, ack, unpin and recreate p0-p3 (#22)."""
    allowed = set(service_permissions("sampling", 4)["publish"]["allow"])
    for k in range(4):
        where = f"SIPAS_DOSSIERS.sampling-dossiers-p{k}"
        assert {
            f"$JS.API.CONSUMER.CREATE.{where}",
            f"$JS.API.CONSUMER.MSG.NEXT.{where}",
            f"$JS.ACK.{where}.>",
            f"$JS.API.CONSUMER.UNPIN.{where}",
            f"$JS.API.CONSUMER.DELETE.{where}",
        } <= allowed
    assert "$JS.API.CONSUMER.MSG.NEXT.SIPAS_DOSSIERS.sampling-dossiers" in allowed
    assert not any("sampling-dossiers-p4" in subject for subject in allowed)
    assert not any("-p0" in s for s in service_permissions("scoring", 4)["publish"]["allow"])
    assert render_accounts(0) == render_accounts() != render_accounts(4)
    assert [c.filter_subjects for c in partition_consumers(SAMPLING_DOSSIERS, 2)] == [
        ("sipas.dossier.completed.0.*",),
        ("sipas.dossier.completed.1.*",),
    ]
    assert partition_consumers(SAMPLING_RESPONSES, 4) == ()
