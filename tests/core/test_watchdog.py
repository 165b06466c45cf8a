"""The restart policy of WorkerWatchdog, driven by a clock the test advances.

The start and stop callables record calls; they stand in for the supervisor's functions, whose
real behaviour the server tests cover with real worker processes."""

from __future__ import annotations

from pathlib import Path

from cq_lsp.core.watchdog import WorkerWatchdog
from cq_lsp.worktree.project import Project


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _dog(tmp_path: Path, clock: Clock) -> tuple[WorkerWatchdog, list[str]]:
    calls: list[str] = []
    dog = WorkerWatchdog(Project(tmp_path), clock=clock, max_crashes=4, window_s=100)
    return dog, calls


def _check(dog: WorkerWatchdog, calls: list[str], state: str, pid: int, waiting: bool = True):
    return dog.check(
        {"state": state, "pid": pid},
        work_waiting=waiting,
        start=lambda: calls.append("start"),
        stop=lambda: calls.append("stop"),
    )


def test_restarts_with_exponential_backoff_then_gives_up(tmp_path: Path) -> None:
    clock = Clock()
    dog, calls = _dog(tmp_path, clock)
    delays = []
    for pid in (1, 2, 3):
        assert _check(dog, calls, "crashed", pid) is None  # scheduled, not yet
        waited = 0.0
        while _check(dog, calls, "crashed", pid) != "restarted":
            clock.now += 0.5
            waited += 0.5
        delays.append(waited)
    assert delays == [1.0, 2.0, 4.0]
    assert calls == ["start"] * 3 and dog.restarts == 3
    assert _check(dog, calls, "crashed", 4) == "gave up"
    assert dog.gave_up and "worker.log" in dog.gave_up and dog.holding_off
    clock.now += 3600
    assert _check(dog, calls, "crashed", 4) is None and calls == ["start"] * 3
    dog.reset()
    assert not dog.holding_off


def test_crashes_outside_the_window_are_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    dog, calls = _dog(tmp_path, clock)
    for pid in range(1, 10):
        _check(dog, calls, "crashed", pid)
        clock.now += 60  # one crash a minute: never 4 within 100 s
        assert _check(dog, calls, "crashed", pid) == "restarted"
    assert dog.gave_up is None and dog.restarts == 9


def test_unresponsive_worker_is_stopped_before_the_restart(tmp_path: Path) -> None:
    clock = Clock()
    dog, calls = _dog(tmp_path, clock)
    _check(dog, calls, "unresponsive", 7)
    clock.now += 1
    assert _check(dog, calls, "unresponsive", 7) == "restarted"
    assert calls == ["stop", "start"]


def test_no_restart_without_work_and_running_clears_the_schedule(tmp_path: Path) -> None:
    clock = Clock()
    dog, calls = _dog(tmp_path, clock)
    _check(dog, calls, "crashed", 1, waiting=False)
    clock.now += 10
    assert _check(dog, calls, "crashed", 1, waiting=False) is None and calls == []
    assert _check(dog, calls, "running", 2) is None
    assert not dog.holding_off


def test_failed_starts_count_like_crashes(tmp_path: Path) -> None:
    clock = Clock()
    dog, _ = _dog(tmp_path, clock)
    for _ in range(3):
        dog.start_failed("exited at once")
        assert dog.holding_off and dog.gave_up is None
    dog.start_failed("exited at once")
    assert dog.gave_up is not None
