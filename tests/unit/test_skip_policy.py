"""Under CI=true a skip fails the run (the hooks in tests/conftest.py); elsewhere it stays a skip."""

from __future__ import annotations

import pytest

# Every way a test here can end up skipped: a skip inside a fixture (shared data, Airflow metadata DB),
# a skip mark, pytest.skip in the test, importorskip of a module that fails to import.
SKIPPING = """
import pytest


@pytest.fixture()
def shared_data():
    pytest.skip("shared data not found at /nowhere")


def test_needs_shared_data(shared_data):
    pass


@pytest.mark.skipif(True, reason="no binaries")
def test_marked():
    pass


def test_skips_itself():
    pytest.skip("not today")


def test_imports_or_skips():
    pytest.importorskip("smarketing_no_such_module")


@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    assert False


def test_runs():
    pass
"""

MODULE_SKIP = """
import pytest

pytest.skip("whole module", allow_module_level=True)


def test_never_collected():
    pass
"""


@pytest.fixture()
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(
        "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport\n"
    )
    pytester.makepyfile(test_skipping=SKIPPING)
    return pytester


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_under_ci_every_skip_fails(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    result = suite.runpytest("-rA")
    # Skips in setup (fixture, mark) count as errors, skips in the test body as failures.
    result.assert_outcomes(passed=1, failed=2, errors=2, xfailed=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true, which counts as a failure: shared data not found*"])
    result.stdout.fnmatch_lines(["*skipped under CI=true*smarketing_no_such_module*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_outside_ci_a_skip_stays_a_skip(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_under_ci_a_module_skipped_whole_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport\n"
    )
    pytester.makepyfile(test_module_skip=MODULE_SKIP)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true, which counts as a failure: *whole module*"])
    assert result.ret != pytest.ExitCode.OK
