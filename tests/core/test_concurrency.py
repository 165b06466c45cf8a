"""Many producers at once: no "database is locked" reaches anyone, no job is lost or duplicated."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from cq_lsp.core.workspace import Workspace
from cq_lsp.worktree.project import Project
from tests.conftest import Cq

PRODUCERS = 8
PER_PRODUCER = 1000
SHARED = 50

PRODUCER = r"""
import sys
from cq_lsp.worktree.project import Project
from cq_lsp.core.workspace import Workspace

root, me, n, shared = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ws = Workspace(Project(root))
for i in range(n):
    # One call per file, as editors and hooks do: the worst case for lock contention.
    ws.enqueue_paths([f"p{me}/f{i}.py"], source=f"producer{me}")
    if i % 20 == 0:
        ws.enqueue_paths([f"shared/s{(i // 20) % shared}.py"], source=f"producer{me}")
print("ok")
"""


def test_eight_producers_thousand_enqueues_each(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")  # nothing consumes: count what arrived
    for me in range(PRODUCERS):
        d = repo / f"p{me}"
        d.mkdir()
        for i in range(PER_PRODUCER):
            (d / f"f{i}.py").write_text(f"X_{me}_{i} = {i}\n")
    (repo / "shared").mkdir()
    for i in range(SHARED):
        (repo / "shared" / f"s{i}.py").write_text(f"S_{i} = {i}\n")

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(repo), str(me), str(PER_PRODUCER), str(SHARED)],
            env=cq.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me in range(PRODUCERS)
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert out.strip() == "ok"
        assert "locked" not in err

    ws = Workspace(Project(repo))
    try:
        jobs = ws.ledger.jobs(states=["queued"])
        expected = PRODUCERS * PER_PRODUCER + SHARED
        assert len(jobs) == expected
        # Exactly one task per job on the queue: the shared files were sent once, not 8 times.
        pending = Counter(t.args[0] for t in ws.transport.huey.pending())
        assert len(pending) == expected
        assert max(pending.values()) == 1
    finally:
        ws.close()
