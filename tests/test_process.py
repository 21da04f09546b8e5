"""Process-wide tuning at start-up (gateway/process/tuning.py): the garbage collector
leaves start-up's objects out of its scans and scans the youngest generation less
often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway.app import create_app
from gateway.process.tuning import tune_garbage_collection
from legacy.common.runner import ServerThread
from tests.conftest import gateway_settings


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Each test starts from Python's defaults and leaves them as it found them."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, *before[1:])
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_start_up_objects_are_frozen_and_the_young_threshold_raised() -> None:
    older = gc.get_threshold()[1:]
    tune_garbage_collection(10_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (10_000, *older)


def test_zero_leaves_pythons_defaults() -> None:
    tune_garbage_collection(0)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[0] == 700


def test_the_gateway_tunes_the_collector_when_it_starts(systems: dict[str, str]) -> None:
    server = ServerThread(create_app(gateway_settings(systems, gc_young_threshold=12_345)))
    server.start()
    try:
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0
    finally:
        server.stop()
