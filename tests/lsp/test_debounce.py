"""The debouncer on a real event loop: saves of one path coalesce, git bursts reconcile once, the
hand-over runs one batch at a time, and what still waits at shutdown is returned, not lost.
Then the same guarantee end to end: saves within the debounce queue the file once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.lsp.debounce import Debouncer
from tests.conftest import Cq
from tests.lsp_harness import drained, lsp_session

A = Path("/repo/a")
B = Path("/repo/b")
WAIT_S = 10.0  # for an eventual state only; the debouncer takes milliseconds


class Recorder:
    """The debouncer's callbacks, recording each hand-over and waking whoever waits for one."""

    def __init__(self) -> None:
        self.saves: list[tuple[Path, list[str]]] = []
        self.gits: list[Path] = []
        self.tasks: list[asyncio.Future[None]] = []
        self.active = 0
        self.most_active = 0
        self.changed = asyncio.Event()
        #: run inside the next save hand-over (then cleared)
        self.during_save: Callable[[], Awaitable[None]] | None = None
        self.during_git: Callable[[], None] | None = None

    def debouncer(self, **kwargs: Any) -> Debouncer:
        return Debouncer(on_saves=self.on_saves, on_git=self.on_git, spawn=self.spawn, **kwargs)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def on_saves(self, root: Path, paths: list[str]) -> None:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(0)  # as the io pool does: other callbacks may run meanwhile
            hook, self.during_save = self.during_save, None
            if hook is not None:
                await hook()
            self.saves.append((root, list(paths)))
        finally:
            self.active -= 1
            self.changed.set()

    async def on_git(self, root: Path) -> None:
        hook, self.during_git = self.during_git, None
        if hook is not None:
            hook()
        self.gits.append(root)
        self.changed.set()

    def handed(self) -> list[str]:
        return [p for _root, paths in self.saves for p in paths]

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(
                f"waited {WAIT_S} s for {what}; saves {self.saves}, git {self.gits}"
            ) from None

    async def settled(self) -> None:
        """Every flush started so far has ended, and none failed."""
        await asyncio.gather(*self.tasks)


async def test_saves_of_one_path_within_its_delay_are_handed_over_once() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()
    for _ in range(3):
        debouncer.add(A, A / "x.py", 0.0)
    await rec.until(lambda: len(rec.saves) == 1, "the first hand-over")
    debouncer.add(A, A / "y.py", 0.0)
    # One flush at a time: y.py is handed over only after the flush that took x.py ended.
    await rec.until(lambda: len(rec.saves) == 2, "the second hand-over")
    await rec.settled()
    assert rec.saves == [(A, [str(A / "x.py")]), (A, [str(A / "y.py")])]
    assert debouncer.close() == {}


async def test_another_save_within_the_delay_starts_the_wait_again() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()
    debouncer.add(A, A / "x.py", 0.0)
    debouncer.add(A, A / "x.py", 60.0)  # saved again: now due in a minute
    debouncer.add(A, A / "y.py", 0.0)
    await rec.until(lambda: str(A / "y.py") in rec.handed(), "y.py handed over")
    await rec.settled()
    assert str(A / "x.py") not in rec.handed()
    # Shutting down returns what still waits, for the server to queue there and then.
    assert debouncer.close() == {A: [str(A / "x.py")]}


async def test_each_folder_gets_its_own_paths() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()
    debouncer.add(A, A / "x.py", 0.0)
    debouncer.add(B, B / "z.py", 0.0)
    await rec.until(lambda: len(rec.handed()) == 2, "both folders' paths")
    await rec.settled()
    assert sorted(rec.saves) == [(A, [str(A / "x.py")]), (B, [str(B / "z.py")])]


async def test_a_flood_is_handed_over_in_batches_one_at_a_time() -> None:
    rec = Recorder()
    debouncer = rec.debouncer(batch_size=2)
    for i in range(5):
        debouncer.add(A, A / f"f{i}.py", 0.0)
    await rec.until(lambda: len(rec.handed()) == 5, "all five paths")
    await rec.settled()
    assert [len(paths) for _root, paths in rec.saves] == [2, 2, 1]
    assert rec.most_active == 1
    assert debouncer.close() == {}


async def test_a_path_saved_again_during_its_hand_over_waits_for_its_new_due_time() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()

    async def save_again() -> None:
        debouncer.add(A, A / "x.py", 60.0)

    rec.during_save = save_again
    debouncer.add(A, A / "x.py", 0.0)
    await rec.until(lambda: len(rec.saves) == 1, "the first hand-over")
    await rec.settled()
    assert debouncer.close() == {A: [str(A / "x.py")]}


async def test_a_burst_of_git_changes_reconciles_once() -> None:
    rec = Recorder()
    debouncer = rec.debouncer(git_settle_s=0.0)
    for _ in range(3):  # HEAD, a ref and the index of one checkout
        debouncer.add_git_change(A)
    await rec.until(lambda: rec.gits == [A], "one reconciliation")
    debouncer.add(A, A / "x.py", 0.0)
    await rec.until(lambda: len(rec.saves) == 1, "the save after it")
    await rec.settled()
    assert rec.gits == [A]


async def test_a_git_change_during_a_reconciliation_is_reconciled_again() -> None:
    rec = Recorder()
    debouncer = rec.debouncer(git_settle_s=0.0)
    rec.during_git = lambda: debouncer.add_git_change(A)
    debouncer.add_git_change(A)
    await rec.until(lambda: len(rec.gits) >= 2, "a second reconciliation")
    await rec.settled()
    # Reconciled again for the change made meanwhile, and only once more: no loop.
    assert rec.gits == [A, A]


async def test_what_waits_at_shutdown_is_returned_with_the_batch_in_flight() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()
    in_flight = asyncio.Event()
    release = asyncio.Event()

    async def pool_shuts_down() -> None:
        in_flight.set()
        await release.wait()
        raise RuntimeError("cannot schedule new futures after shutdown")

    rec.during_save = pool_shuts_down
    debouncer.add(A, A / "x.py", 0.0)
    debouncer.add(A, A / "later.py", 60.0)
    await asyncio.wait_for(in_flight.wait(), WAIT_S)
    # The server closes while a batch is being handed over: the batch is not known to be
    # queued, so it is returned with the rest (queueing a path twice is harmless).
    assert debouncer.close() == {A: [str(A / "x.py"), str(A / "later.py")]}
    release.set()
    await rec.settled()  # the flush ends quietly on the shut-down pool
    assert rec.saves == []


async def test_a_folder_that_left_is_forgotten() -> None:
    rec = Recorder()
    debouncer = rec.debouncer()
    debouncer.add(A, A / "x.py", 60.0)
    debouncer.add_git_change(A)
    debouncer.add(B, B / "z.py", 60.0)
    debouncer.forget(A)
    assert debouncer.close() == {B: [str(B / "z.py")]}
    assert rec.gits == []


@pytest.mark.timeout(180)
async def test_saves_within_debounce_queue_the_file_once(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    options = {"config": {"processing": {"debounce_ms": 600}}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        await s.wait_status(inited, drained)
        f = inited / "notes.py"
        for i in range(5):
            f.write_text(f"VALUE = {i}\n")
            s.save(f)
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 5)
        history = await s.command("cq.queue.history", {"n": 50})
        saves = [h for h in history["history"] if h["source"] == "save" and h["op"] == "enqueue"]
        assert sum(h["count"] for h in saves) == 1, history


async def test_a_save_inside_its_debounce_is_queued_at_shutdown(
    inited: Path, isolated_env: dict[str, str], cq: Cq
) -> None:
    options = {"config": {"processing": {"debounce_ms": 60000}}}
    async with lsp_session([inited], isolated_env, options=options) as s:
        await s.wait_status(inited, drained)
        f = inited / "late.py"
        f.write_text("LATE = 1\n")
        s.save(f)
        await s.command("cq.status")  # the save was read before shutdown
    history = cq.json("queue", "history", "-n", "50")
    saves = [h for h in history["history"] if h["source"] == "save" and h["op"] == "enqueue"]
    assert sum(h["count"] for h in saves) == 1, history
