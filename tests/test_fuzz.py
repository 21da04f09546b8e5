"""A short property-based fuzz run in the suite (bench/fuzz.py; the long one is
``python -m bench.fuzz --minutes 10``): documents drawn from the schema, valid and
invalid, and raw requests of every shape, against a real gateway in front of the
simulated systems. No answer is a 5xx or hangs, every refusal from /graphql is coded
JSON, /healthz answers throughout, and nothing is logged with a traceback.

Queries only: mutations would write into the session's seeded systems, which other
tests count on; the long run has systems of its own and draws mutations too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.fuzz import fuzz
from tests.conftest import _gateway
from tests.test_error_paths import Records, log, no_traceback  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow  # a fuzz run of twenty seconds

SECONDS = 20.0


@pytest.fixture(scope="module")
def url(systems: dict[str, str]) -> Iterator[str]:
    """An open gateway without a rate limit: the fuzzer is one client, and a 429 would
    stand between it and what it means to reach."""
    yield from _gateway(systems, cache=False, rate_limit_per_s=0.0)


def test_a_short_fuzz_run_finds_no_5xx_no_hang_no_uncoded_refusal_and_no_traceback(
    url: str,
    log: Records,  # noqa: F811
) -> None:
    tally = fuzz(url, SECONDS, mutations=False, seed_value=15)
    assert tally.tried > 100
    assert tally.server_errors == []
    assert tally.uncoded == []
    assert tally.hangs == []
    assert tally.healthz_asked > 0
    assert tally.healthz_failed == 0
    assert no_traceback(log)
