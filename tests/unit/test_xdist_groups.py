"""`--dist loadgroup` keeps each `xdist_group` on one worker (tests/xdist_groups.py makes it so on pytest 9.2)."""

from __future__ import annotations

import os
import re
from collections import defaultdict

import pytest

from smarketing.paths import PROJECT_ROOT

# Two groups of four tests, marked the three ways the suite marks them (module `pytestmark`, a mark on a
# function, a mark on a parametrised function), and ungrouped tests the scheduler may put anywhere.
GROUPED = """
import time

import pytest

pytestmark = pytest.mark.xdist_group("alpha")


@pytest.mark.parametrize("n", range(3))
def test_alpha(n):
    time.sleep(0.2)


def test_alpha_plain():
    time.sleep(0.2)
"""

MIXED = """
import time

import pytest


@pytest.mark.xdist_group(name="beta")
@pytest.mark.parametrize("n", ["a@b", "c"])
def test_beta(n):
    time.sleep(0.2)


@pytest.mark.xdist_group("beta")
def test_beta_more():
    time.sleep(0.2)


@pytest.mark.xdist_group("beta")
def test_beta_last():
    time.sleep(0.2)


@pytest.mark.parametrize("n", range(6))
def test_free(n):
    time.sleep(0.2)
"""

LINE = re.compile(r"^\[(gw\d+)\] .*?PASSED (\S+)[ \t]*$", re.MULTILINE)


def test_each_group_runs_on_one_worker(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest('pytest_plugins = ("tests.xdist_groups",)\n')
    pytester.makepyfile(test_grouped=GROUPED, test_mixed=MIXED)
    monkeypatch.setenv("PYTHONPATH", f"{PROJECT_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=14)

    workers: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in LINE.findall(result.stdout.str()):
        group = nodeid.rpartition("@")[2] if nodeid.rfind("@") > nodeid.rfind("]") else "-"
        workers[group].add(worker)
    assert set(workers) == {"alpha", "beta", "-"}, result.stdout.str()
    assert len(workers["alpha"]) == 1 and len(workers["beta"]) == 1, dict(workers)
    # Both workers ran something: the groups were scheduled, not the whole run serialised.
    assert len(set().union(*workers.values())) == 2, dict(workers)
