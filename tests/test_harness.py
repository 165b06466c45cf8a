"""The test harness itself: a failed wait must say what it waited for and what it saw."""

from __future__ import annotations

import pytest

from tests.conftest import wait_until


def test_a_failed_wait_names_the_condition_and_the_last_value() -> None:
    box = {"n": 1}
    with pytest.raises(AssertionError) as exc:
        wait_until(lambda: box["n"] > 5, timeout=0.1)
    assert 'lambda: box["n"] > 5' in str(exc.value)
    assert "last seen: False" in str(exc.value)


def test_a_failed_wait_shows_what_the_caller_asks_for() -> None:
    with pytest.raises(AssertionError) as exc:
        wait_until(lambda: None, timeout=0.1, what="the worker to stop", show=lambda: {"pid": 7})
    assert "for the worker to stop; last seen: {'pid': 7}" in str(exc.value)
