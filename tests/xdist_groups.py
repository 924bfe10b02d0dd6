"""Make `pytest.mark.xdist_group` keep a group on one worker again under `--dist loadgroup`.

The loadgroup scheduler finds a test's group in the suffix of its node id (`path::test@group`). Each
xdist worker writes that suffix in its `pytest_collection_modifyitems` by assigning `item._nodeid`.
pytest 9.2 keeps the node id in `item._id` (a structured `NodeId`; `nodeid` is a property reading it),
so the assignment lands in an attribute nothing reads: the scheduler sees no suffix and spreads a
group's tests over every worker (pytest-xdist issue #1386, still open in 3.8.0). This hook runs after
xdist's and moves the suffixed id where pytest 9.2 reads it. On a pytest that still reads `_nodeid`,
or an xdist that writes `_id` itself, the two ids already agree and it does nothing.

tests/conftest.py loads it; tests/unit/test_xdist_groups.py runs a grouped suite on two workers.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)  # after xdist's worker hook, which writes `_nodeid`
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        written = item.__dict__.get("_nodeid")
        current = getattr(item, "_id", None)
        if written and current is not None and written != item.nodeid:
            item._id = type(current).parse(written)
