"""Partitions and who owns them: the pure rules (issue #22, ARCHITECTURE.md "Scaling out").

State that must be exact across instances (a unit's quota) is owned by one instance at a
time. A stream is split into ``count`` partitions by the unit token of its subjects, with
the very function nats-server's subject mapping applies (``{{partition(count, n)}}``:
FNV-1a 32 of the token, modulo ``count``; checked against nats-server 2.15.1 for 1,768
subjects), so a partition's messages reach the consumer of that partition only.

Each partition is owned through a **lease**: a record (``owner``, ``revision``) that the
store of leases (a NATS KV bucket with a per-key TTL, or anything that updates by revision)
expires ``ttl`` seconds after it was written. The rules:

- a lease is claimed only when it is free or expired (or already the claimant's), and each
  claim raises the revision: the revision is the *fencing token* every effect of the owner
  carries, so a stale owner's late write is refused downstream;
- an owner counts its lease from the moment it *sent* the claim or renewal, and stops
  acting ``margin`` seconds before that lease could expire: the store expires it later
  than that, so no two instances ever act for one partition at the same time;
- who *should* own a partition is the live instance with the highest rendezvous hash of
  (instance, partition): each instance gets about ``count / instances`` partitions, and an
  instance that dies moves only its own partitions (to the others, spread the same way);
- an owner hands a partition over (releases it) as soon as its preferred owner is live,
  and nobody claims a partition whose preferred owner is live but itself: ownership
  converges to the rendezvous assignment without two claimants racing for one partition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF


def partition_of(token: str, count: int) -> int:
    """The partition of ``token`` among ``count``, as nats-server's ``partition()`` computes it."""
    if count < 1:
        msg = f"a stream has at least one partition (got {count})"
        raise ValueError(msg)
    value = _FNV_OFFSET
    for byte in token.encode():
        value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return value % count


def mapping(source: str, count: int, *, prefix: str) -> dict[str, str]:
    """A NATS subject mapping that puts the partition before the last token of ``source``.

    ``mapping("sipas.dossier.completed.*", 8, prefix="sipas.dossier.partitioned")`` maps
    ``sipas.dossier.completed.<unit>`` to ``sipas.dossier.partitioned.<p>.<unit>``.
    """
    wildcard = source.split(".").count("*")
    if wildcard == 0:
        msg = f"{source}: the partitioned token must be a '*' wildcard"
        raise ValueError(msg)
    dest = f"{prefix}.{{{{partition({count},{wildcard})}}}}.{{{{wildcard({wildcard})}}}}"
    return {"src": source, "dest": dest}


def preferred_owner(partition: int, instances: Iterable[str]) -> str | None:
    """The instance that should own ``partition`` (rendezvous hashing); None without any."""
    best: tuple[bytes, str] | None = None
    for instance in instances:
        score = hashlib.blake2b(f"{instance}|{partition}".encode(), digest_size=8).digest()
        if best is None or (score, instance) > best:
            best = (score, instance)
    return None if best is None else best[1]


def assignment(count: int, instances: Iterable[str]) -> dict[int, str]:
    """Every partition's preferred owner among ``instances`` (empty without any)."""
    live = sorted(set(instances))
    if not live:
        return {}
    return {p: preferred_owner(p, live) or live[0] for p in range(count)}


@dataclass(frozen=True)
class Lease:
    """A partition's lease as the store of leases holds it."""

    owner: str
    revision: int
    expires: float  # the store's clock: written at + ttl


@dataclass(frozen=True)
class Holding:
    """What an owner knows of its own lease: the fencing token and until when it may act."""

    partition: int
    revision: int
    until: float  # its own clock: sent at + ttl - margin


def current(lease: Lease | None, now: float) -> Lease | None:
    """The lease if it is still in force at ``now`` (an expired lease is a free partition)."""
    return lease if lease is not None and now < lease.expires else None


def may_claim(lease: Lease | None, instance: str, now: float) -> bool:
    """Whether ``instance`` may write a claim over ``lease`` at ``now``."""
    held = current(lease, now)
    return held is None or held.owner == instance


def held_from(
    partition: int, revision: int, *, sent_at: float, ttl: float, margin: float
) -> Holding:
    """The holding of a claim or renewal the store accepted; it was sent at ``sent_at``."""
    if not 0 <= margin < ttl:
        msg = f"the safety margin ({margin} s) must be shorter than the lease ({ttl} s)"
        raise ValueError(msg)
    return Holding(partition, revision, sent_at + ttl - margin)


def acts(holding: Holding | None, now: float) -> bool:
    """Whether an owner may still act for its partition at ``now``."""
    return holding is not None and now < holding.until


@dataclass(frozen=True)
class Plan:
    """What one instance does next: partitions to claim (or renew) and to hand over."""

    claim: frozenset[int]
    release: frozenset[int]


def plan(
    instance: str, count: int, leases: Mapping[int, Lease], live: Iterable[str], now: float
) -> Plan:
    """The claims and hand-overs of ``instance``, from the leases and live instances it sees."""
    alive = set(live) | {instance}
    preferred = assignment(count, alive)
    claim, release = set(), set()
    for partition in range(count):
        held = current(leases.get(partition), now)
        mine = held is not None and held.owner == instance
        if preferred[partition] == instance:
            if held is None or mine:
                claim.add(partition)
        elif mine:
            release.add(partition)
    return Plan(frozenset(claim), frozenset(release))


def live_instances(heartbeats: Mapping[str, float], now: float) -> set[str]:
    """Instances whose heartbeat (its expiry on the store's clock) has not expired."""
    return {instance for instance, expires in heartbeats.items() if now < expires}
