"""The stream sequences a filtered durable's cursor passed over (sipas_runtime.passed).

A small model of the server: a stream whose messages are ours or another subject's; a
cursor that hands out each of ours once, in order, with a delivery sequence raised for
every delivery; redeliveries of earlier ones and deliveries to another instance
(which this one never sees) interleaved. What ``PassedOver`` reports must never hold a
message of ours, and when this instance sees every delivery it must cover every other
sequence between the first and the last it saw.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipas_runtime.passed import Delivery, PassedOver


def deliveries(ours: list[bool], steps: list[str]) -> list[tuple[Delivery, bool]]:
    """Run the model: each delivery with whether this instance sees it."""
    cursor, consumer_seq, handed, out = 0, 0, [], []
    for step in steps:
        if step == "redeliver" and handed:
            consumer_seq += 1
            out.append((Delivery(consumer_seq, handed[len(handed) // 2], first=False), True))
            continue
        while cursor < len(ours) and not ours[cursor]:
            cursor += 1  # another subject: the cursor passes it over
        if cursor == len(ours):
            break
        consumer_seq += 1
        seq = cursor + 1
        handed.append(seq)
        cursor += 1
        out.append((Delivery(consumer_seq, seq, first=True), step != "elsewhere"))
    return out


@given(
    st.lists(st.booleans(), min_size=1, max_size=60),
    st.lists(st.sampled_from(["next", "next", "redeliver", "elsewhere"]), max_size=80),
)
def test_nothing_of_ours_is_ever_passed_over(ours, steps):
    passed, covered = PassedOver(), set()

    for delivery, seen in deliveries(ours, steps):
        if seen:
            span = passed.see(delivery)
            if span is not None:
                covered.update(range(span[0], span[1] + 1))

    assert not {seq for seq in covered if ours[seq - 1]}


@given(st.lists(st.booleans(), min_size=1, max_size=60))
def test_seeing_every_first_delivery_covers_every_other_sequence_between_them(ours):
    passed, covered = PassedOver(), set()
    seen = deliveries(ours, ["next"] * len(ours))

    for delivery, _ in seen:
        span = passed.see(delivery)
        if span is not None:
            covered.update(range(span[0], span[1] + 1))

    handed = [d.stream_seq for d, _ in seen]
    if handed:
        between = set(range(handed[0], handed[-1] + 1)) - set(handed)
        assert covered == between


def test_a_start_from_the_servers_last_delivery_covers_what_precedes_the_next():
    passed = PassedOver()
    passed.start(consumer_seq=4, stream_seq=10)

    span = passed.see(Delivery(5, 14, first=True))

    assert span == (11, 13)


def test_a_delivery_handed_to_another_instance_breaks_the_chain():
    passed = PassedOver()
    passed.see(Delivery(1, 2, first=True))

    span = passed.see(Delivery(3, 9, first=True))  # 2 went elsewhere: it may hold one of ours

    assert span is None
    assert passed.see(Delivery(4, 12, first=True)) == (10, 11)


def test_another_pin_breaks_the_chain():
    passed = PassedOver()
    passed.see(Delivery(1, 2, first=True, pin="a"))

    span = passed.see(Delivery(2, 9, first=True, pin="b"))  # the durable created again

    assert span is None


def test_a_redelivery_does_not_move_the_cursor():
    passed = PassedOver()
    passed.see(Delivery(1, 5, first=True))
    passed.see(Delivery(2, 1, first=False))

    span = passed.see(Delivery(3, 8, first=True))

    assert span == (6, 7)


def test_after_a_reset_nothing_is_covered_until_two_deliveries_follow():
    passed = PassedOver()
    passed.see(Delivery(1, 2, first=True))
    passed.reset()

    assert passed.see(Delivery(2, 5, first=True)) is None
    assert passed.see(Delivery(3, 7, first=True)) == (6, 6)
