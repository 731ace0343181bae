"""Setup for the edge worker's end-to-end tests (run by `cargo xtask test`, stage `worker`).

Environment (set by xtask, which starts and stops workerd):
    EDGEPORT_WORKER_URL        the worker under test, e.g. http://127.0.0.1:40123
    EDGEPORT_WORKER_PANIC_URL  the same worker built with the `panic-test` feature (optional)
    EDGEPORT_BIN               the release CLI whose output the worker must match
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("EDGEPORT_WORKER_URL"):
        return
    skip = pytest.mark.skip(reason="EDGEPORT_WORKER_URL is not set (run `cargo xtask test --only worker`)")
    for item in items:
        if "tests/worker/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


def _ours(report) -> bool:
    nodeid = report.nodeid.replace(os.sep, "/")
    return nodeid.startswith("worker/") or "tests/worker/" in nodeid


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    count = lambda key: sum(1 for r in stats.get(key, []) if _ours(r))  # noqa: E731
    passed, failed, skipped = count("passed"), count("failed") + count("error"), count("skipped")
    if passed or failed or skipped:
        tail = f", {skipped} skipped" if skipped else ""
        terminalreporter.write_line(f"worker: {passed} passed, {failed} failed{tail}")
