"""Partition ownership rules (sipas_runtime.partitions): one owner per partition, hence per unit.

The leases live in a model of a store that updates by revision and expires a record ``ttl``
after it was written (what a NATS KV bucket with per-key TTL does). Instances act on stale
snapshots, their requests are delivered late (or after they crashed), and time jumps: no
unit is ever acted for by two instances at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count as counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sipas_runtime.partitions import (
    Holding,
    Lease,
    acts,
    assignment,
    held_from,
    live_instances,
    mapping,
    may_claim,
    partition_of,
    plan,
)

TTL = 10.0
UNITS = [f"ht-{n:03d}" for n in range(40)]
# As nats-server 2.15.1 mapped subjects with {{partition(n,1)}} (the stored subjects read back).
SERVER_MAPPED = [
    ("ht-nx-co-dam", 3, 2), ("ht-nx-co-dam", 64, 16), ("ht-nx-xuan-an", 4, 3),
    ("ht-nx-xuan-an", 8, 3), ("u0042", 64, 26), ("x", 8, 7),
]  # fmt: skip


@pytest.mark.parametrize(("token", "count", "expected"), SERVER_MAPPED)
def test_partition_is_the_one_nats_server_maps_to(token, count, expected):
    assert partition_of(token, count) == expected


def test_partition_count_and_mapping_are_checked():
    with pytest.raises(ValueError, match="at least one partition"):
        partition_of("ht-001", 0)
    assert mapping("sipas.dossier.completed.*", 8, prefix="sipas.dossier.partitioned") == {
        "src": "sipas.dossier.completed.*",
        "dest": "sipas.dossier.partitioned.{{partition(8,1)}}.{{wildcard(1)}}",
    }
    with pytest.raises(ValueError, match="wildcard"):
        mapping("sipas.dossier.completed.>", 8, prefix="p")
    with pytest.raises(ValueError, match="margin"):
        held_from(0, 1, sent_at=0.0, ttl=1.0, margin=1.0)


@settings(max_examples=40)
@given(
    st.sets(st.text("abcdefgh", min_size=1, max_size=3), min_size=2, max_size=6),
    st.integers(1, 32),
    st.data(),
)
def test_a_dead_instance_moves_only_its_own_partitions(instances, count, data):
    dead = data.draw(st.sampled_from(sorted(instances)))
    before = assignment(count, instances)
    after = assignment(count, instances - {dead})
    assert set(before) == set(after) == set(range(count))
    assert {p for p in before if before[p] != after[p]} == {p for p in before if before[p] == dead}
    assert dead not in after.values()


def test_ownership_spreads_and_converges_to_the_assignment():
    world = World(count=16, margin=1.0)
    names = [world.start() for _ in range(4)]
    for _ in range(3):  # observe, then claim and hand over; twice over for the hand-overs
        for name in names:
            world.observe(name)
            world.send(name)
            while world.pending[name]:
                world.deliver(name)
    owners = {p: n for n in names for p, h in world.holdings[n].items() if acts(h, world.now)}
    assert owners == assignment(16, names)
    assert all(list(owners.values()).count(n) >= 2 for n in names)


@dataclass
class World:
    """The store of leases, the heartbeats and the instances, on one clock."""

    count: int
    margin: float
    now: float = 0.0
    leases: dict[int, Lease] = field(default_factory=dict)
    heartbeats: dict[str, float] = field(default_factory=dict)
    alive: set[str] = field(default_factory=set)
    holdings: dict[str, dict[int, Holding]] = field(default_factory=dict)
    seen: dict[str, tuple[dict[int, Lease], set[str]]] = field(default_factory=dict)
    pending: dict[str, list[tuple[str, int, float, int | None]]] = field(default_factory=dict)
    revisions: counter[int] = field(default_factory=lambda: counter(1))
    names: counter[int] = field(default_factory=counter)

    def start(self) -> str:
        name = f"i{next(self.names)}"
        self.alive.add(name)
        self.holdings[name], self.pending[name] = {}, []
        self.heartbeats[name] = self.now + TTL
        self.seen[name] = ({}, set())
        return name

    def observe(self, name: str) -> None:
        self.seen[name] = (dict(self.leases), live_instances(self.heartbeats, self.now))

    def send(self, name: str) -> None:
        """Run the plan on the (maybe stale) snapshot: stop acting, then ask the store."""
        self.heartbeats[name] = self.now + TTL
        leases, live = self.seen[name]
        todo = plan(name, self.count, leases, live, self.now)
        for p in sorted(todo.release):
            held = self.holdings[name].pop(p, None)
            if held is not None:
                self.pending[name].append(("release", p, self.now, held.revision))
        for p in sorted(todo.claim):
            lease = leases.get(p)
            if may_claim(lease, name, self.now):
                expected = lease.revision if lease and self.now < lease.expires else None
                self.pending[name].append(("claim", p, self.now, expected))

    def deliver(self, name: str) -> None:
        """The store applies the oldest request of ``name`` (even if ``name`` died since)."""
        kind, p, sent_at, expected = self.pending[name].pop(0)
        lease = self.leases.get(p)
        live = lease if lease is not None and self.now < lease.expires else None
        if kind == "release":
            if live is not None and live.owner == name and live.revision == expected:
                del self.leases[p]
            return
        if expected is None and live is not None:
            return  # create refused: someone holds it
        if expected is not None and (live is None or live.revision != expected):
            return  # update refused: the record changed or expired
        revision = next(self.revisions)
        self.leases[p] = Lease(name, revision, self.now + TTL)
        if name in self.alive:  # the answer reaches a living instance only
            self.holdings[name][p] = held_from(
                p, revision, sent_at=sent_at, ttl=TTL, margin=self.margin
            )

    def acting(self, partition: int) -> list[str]:
        return [n for n in self.alive if acts(self.holdings[n].get(partition), self.now)]


class Ownership(RuleBasedStateMachine):
    """Random interleavings of observing, claiming, delivering, crashing and time passing."""

    def __init__(self) -> None:
        super().__init__()
        self.world = World(count=3, margin=0.5)
        for _ in range(2):
            self.world.start()

    def _names(self) -> list[str]:
        return sorted(self.world.alive)

    @precondition(lambda self: self.world.alive)
    @rule(data=st.data())
    def observe(self, data):
        self.world.observe(data.draw(st.sampled_from(self._names())))

    @precondition(lambda self: self.world.alive)
    @rule(data=st.data())
    def send(self, data):
        self.world.send(data.draw(st.sampled_from(self._names())))

    @precondition(lambda self: self.world.alive)
    @rule(data=st.data())
    def round(self, data):  # the usual turn: a fresh look, the plan, the store's answers
        name = data.draw(st.sampled_from(self._names()))
        self.world.observe(name)
        self.world.send(name)
        while self.world.pending[name]:
            self.world.deliver(name)

    @precondition(lambda self: any(self.world.pending.values()))
    @rule(data=st.data())
    def deliver(self, data):
        waiting = sorted(n for n, p in self.world.pending.items() if p)
        self.world.deliver(data.draw(st.sampled_from(waiting)))

    @precondition(lambda self: self.world.alive)
    @rule(data=st.data())
    def crash(self, data):  # kill -9: its memory and holdings are gone, its requests may land
        name = data.draw(st.sampled_from(self._names()))
        self.world.alive.discard(name)
        self.world.holdings[name] = {}

    @precondition(lambda self: len(self.world.alive) < 3)
    @rule()
    def start(self):
        self.world.start()

    @rule(seconds=st.sampled_from([0.25, TTL - 0.25, TTL]))
    def advance(self, seconds):
        self.world.now += seconds

    @invariant()
    def no_partition_has_two_acting_owners(self):
        for p in range(self.world.count):
            assert len(self.world.acting(p)) <= 1, (p, self.world.leases)

    @invariant()
    def no_unit_has_two_acting_owners(self):
        for unit in UNITS:
            assert len(self.world.acting(partition_of(unit, self.world.count))) <= 1


TestOwnership = Ownership.TestCase
TestOwnership.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
