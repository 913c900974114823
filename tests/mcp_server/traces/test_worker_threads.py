"""Tools run in anyio's worker threads, which come and go: the store's connections must not."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio._backends._asyncio import WorkerThread

from store import Database
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.descriptors import open_files
from tests.support.mcp_session import session

CONCURRENT_CALLS = 8


async def test_reader_connections_stay_bounded_over_many_bursts_of_tool_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # anyio retires a worker thread idle for 10 s; at 0 every burst runs on fresh threads, as
    # bursts ten seconds apart do in a served store.
    monkeypatch.setattr(WorkerThread, "MAX_IDLE_TIME", 0)
    db = Database(tmp_path / "traces.db")
    try:
        small_trace(db)
        counts = []
        async with session(db) as client:

            async def read() -> None:
                assert (await client.call("GetTraceInfo", trace_id=TRACE_ID))["trace_id"] == TRACE_ID

            for _ in range(30):
                async with anyio.create_task_group() as group:
                    for _ in range(CONCURRENT_CALLS):
                        group.start_soon(read)
                counts.append(open_files(tmp_path)["traces.db"])
        # The writer, a reader per thread at work, and as many again whose threads were retired
        # but not yet reclaimed or kept idle for the next ones; 30 bursts of new threads without
        # reuse open well over a hundred.
        assert max(counts) <= 1 + 3 * CONCURRENT_CALLS, counts
    finally:
        db.close()
    assert open_files(tmp_path) == {}
