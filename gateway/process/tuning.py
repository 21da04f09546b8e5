"""Process-wide tuning a server does once, when it has started.

A GraphQL request allocates tens of thousands of short-lived objects (paths, resolve
infos, records, futures). With Python's default collector settings the youngest
generation is scanned every 700 net allocations, and every older scan walks the
whole start-up heap as well (the schema, zeep's WSDL models, graphql-core's caches).
Frozen out of the scans, and with the youngest generation scanned every 10,000
allocations, a cached Customer360 costs about a sixth less CPU (in process, one core:
4.6 -> 3.9 ms per request).

Under load a scan is dearer than its threshold says: it walks every young object still
alive, and with 64 requests in flight most of them are (their records, levels and
results), so each scan walks the same live objects again and promotes them, to be
walked again by the older generations' scans. Scanned every 100,000 allocations, a
cold PeerStockCheck at 64 in flight costs 9.95 ms of CPU instead of 10.73 and a cold
Customer360 15.9 instead of 17.5 (one gateway on one core, 4 alternating rounds of
512 each), with the same peak memory (145-148 MB); 30,000 and 300,000 gave the same
as 100,000. Reference counting still frees almost everything at once; the collector
is only for cycles.
"""

from __future__ import annotations

import gc


def tune_garbage_collection(young_threshold: int) -> None:
    """Freeze what exists now (start-up's objects live as long as the process) and
    scan the youngest generation every ``young_threshold`` allocations; 0 leaves
    Python's defaults alone."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
