"""Startup objects are kept out of the cyclic collector's full passes."""

from __future__ import annotations

import gc

from sipas_runtime.serving import freeze_startup_objects


def test_objects_alive_at_startup_are_frozen_and_garbage_is_collected_first():
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the cyclic collector can free it

    Node()  # garbage already, but kept alive by its cycle until a collection
    survivor = [object()]
    try:
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() > 0
        assert not any(isinstance(o, Node) for o in gc.get_objects()), "garbage frozen"
        # Frozen: in no generation the collector walks any more.
        assert all(o is not survivor for o in gc.get_objects())
    finally:
        gc.unfreeze()
