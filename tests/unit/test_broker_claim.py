"""Throwaway deployments on one machine never share a Redis broker database (`claim_redis_db`)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.cluster.topology import claim_redis_db

# Only the lock files are involved (in a temp folder of the test's own), Redis is never asked.
CANDIDATES = range(1011, 1013)


@pytest.fixture(autouse=True)
def own_lock_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_each_claim_gets_its_own_database_until_released() -> None:
    first, first_lock = claim_redis_db(CANDIDATES)
    second, second_lock = claim_redis_db(CANDIDATES)
    assert {first, second} == set(CANDIDATES)
    with pytest.raises(RuntimeError, match="every Redis database 1011-1012"):
        claim_redis_db(CANDIDATES)
    first_lock.close()
    again, again_lock = claim_redis_db(CANDIDATES)
    assert again == first
    again_lock.close()
    second_lock.close()


def test_a_component_that_outlives_the_session_keeps_the_database() -> None:
    db, lock = claim_redis_db(CANDIDATES)
    # What Cluster.script does: every component inherits the open lock file.
    orphan = subprocess.Popen(["sleep", "60"], pass_fds=(lock.fileno(),))
    try:
        lock.close()  # the test session ends (or dies); the component lives on
        other, other_lock = claim_redis_db(CANDIDATES)
        assert other != db
        other_lock.close()
    finally:
        orphan.kill()
        orphan.wait()
    freed, freed_lock = claim_redis_db(CANDIDATES)
    assert freed == db
    freed_lock.close()
