from __future__ import annotations

import sys
from datetime import date

import pytest

from sipas_contracts.units import UnitHierarchyError
from sipas_intake.domain.units import CachedUnits

ON = date(2026, 11, 20)


def test_answers_and_failures_are_the_hierarchys(hierarchy):
    units = CachedUnits(hierarchy)

    assert units.resolve("UBND xã Xuân Hội", ON) == "ht-nx-xuan-hoi"
    assert units.resolve("UBND xã Xuân Hội", ON) == "ht-nx-xuan-hoi"
    with pytest.raises(UnitHierarchyError, match="matches 'Xã Ma'"):
        units.resolve("Xã Ma", ON)
    assert units.is_active("ht-nx-xuan-hoi", ON)


def test_a_repeated_failure_does_not_grow_its_traceback(hierarchy):
    units = CachedUnits(hierarchy)
    depths = []
    for _ in range(50):
        try:
            units.resolve("000.99.99.H42", ON)
        except UnitHierarchyError:
            tb, depth = sys.exc_info()[2], 0
            while tb is not None:
                depth, tb = depth + 1, tb.tb_next
            depths.append(depth)

    assert depths[-1] == depths[1]
