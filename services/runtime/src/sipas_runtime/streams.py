"""Create or update the JetStream streams and durable consumers declared in contracts."""

from __future__ import annotations

from collections.abc import Collection

import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from sipas_contracts.streams import ALL_STREAMS, ConsumerSpec, StreamSpec
from sipas_runtime.partitions import mapping

log = structlog.get_logger(__name__)

_RETENTION = {
    "limits": api.RetentionPolicy.LIMITS,
    "workqueue": api.RetentionPolicy.WORK_QUEUE,
    "interest": api.RetentionPolicy.INTEREST,
}


def stream_config(spec: StreamSpec, *, replicas: int, partitions: int = 0) -> api.StreamConfig:
    """The nats-py configuration of ``spec`` with ``replicas`` copies on file storage.

    With ``partitions`` (> 0) a stream that ``spec`` says is partitioned stores each
    message with its partition before the unit token (``sipas_runtime.partitions``).
    """
    transform = None
    if partitions and spec.partitioned_by:
        source = spec.partitioned_by
        mapped = mapping(source, partitions, prefix=source.removesuffix(".*"))
        transform = api.SubjectTransform(src=mapped["src"], dest=mapped["dest"])
    return api.StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=_RETENTION[spec.retention],
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        max_age=spec.max_age.total_seconds() if spec.max_age else None,
        max_msgs_per_subject=spec.max_msgs_per_subject,
        duplicate_window=spec.duplicate_window.total_seconds(),
        deny_delete=spec.deny_delete,
        deny_purge=spec.deny_purge,
        allow_atomic=True,
        allow_direct=spec.allow_direct,
        subject_transform=transform,
    )


def consumer_config(spec: ConsumerSpec, *, max_deliver: int | None = None) -> api.ConsumerConfig:
    """The nats-py configuration of a durable pull consumer with explicit acks."""
    filters = list(spec.filter_subjects)
    return api.ConsumerConfig(
        durable_name=spec.durable,
        description=spec.description or None,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait.total_seconds(),
        # One more than the DLQ threshold: the consumer itself dead-letters the message
        # at the threshold, with a reason, before the server would give up silently.
        max_deliver=(max_deliver or spec.max_deliver) + 1,
        max_ack_pending=spec.max_ack_pending,
        filter_subject=filters[0] if len(filters) == 1 else None,
        filter_subjects=filters if len(filters) > 1 else None,
    )


async def ensure_stream(
    js: JetStreamContext,
    spec: StreamSpec,
    *,
    replicas: int,
    update: bool = True,
    partitions: int = 0,
) -> None:
    """Create ``spec``'s stream, or update it in place when it exists (unless ``update=False``)."""
    config = stream_config(spec, replicas=replicas, partitions=partitions)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        if update:
            await js.update_stream(config)


async def wait_for_stream(js: JetStreamContext, name: str, *, patience: float = 120.0) -> None:
    """Wait until a stream another party creates exists."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(patience),
        wait=wait_fixed(1.0),
        retry=retry_if_exception_type(NotFoundError),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number == 2:  # noqa: PLR2004 - log once, not every second
                log.info("waiting_for_stream", stream=name)
            await js.stream_info(name)


async def ensure_streams(
    js: JetStreamContext,
    *,
    replicas: int,
    specs: tuple[StreamSpec, ...] = ALL_STREAMS,
    manage: Collection[str] | None = None,
    create: Collection[str] = (),
    partitions: int = 0,
) -> None:
    """Create/update the streams in ``manage`` (all when None); wait for the others to exist.

    Streams in ``create`` are created when missing but never updated (shared streams whose
    settings the operators provision). ``partitions``: see :func:`stream_config`.
    """
    for spec in specs:
        if manage is None or spec.name in manage:
            await ensure_stream(js, spec, replicas=replicas, partitions=partitions)
        elif spec.name in create:
            await ensure_stream(js, spec, replicas=replicas, update=False)
        else:
            await wait_for_stream(js, spec.name)
