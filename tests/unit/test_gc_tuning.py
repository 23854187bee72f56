"""After startup: threshold 0 is the setting's, the objects of startup are frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.unit.test_settings import BASE
from verify import gc_tuning
from verify.settings import Settings, SettingsError


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_startup_and_raises_only_threshold_0() -> None:
    gc.set_threshold(700, 11, 12)
    made_at_startup = [object() for _ in range(10)]
    gc_tuning.settle(12_345)
    assert gc.get_threshold() == (12_345, 11, 12)
    assert gc.get_freeze_count() >= 1
    assert gc.get_count()[0] < 700  # collected before the freeze
    assert made_at_startup


def test_the_threshold_is_a_setting() -> None:
    assert Settings.from_env(BASE).gc_gen0 == gc_tuning.DEFAULT_GEN0
    assert Settings.from_env({**BASE, "VERIFY_GC_GEN0": "700"}).gc_gen0 == 700
    with pytest.raises(SettingsError, match="VERIFY_GC_GEN0"):
        Settings.from_env({**BASE, "VERIFY_GC_GEN0": "0"})
