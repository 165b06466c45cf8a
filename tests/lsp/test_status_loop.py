"""The status loop end to end: cq/status coalesced to one per 250 ms per folder, a diagnostic at
each bad key of config.json (cleared once fixed), and a server that outlives its editor shutting
itself down. Its pieces that need no server are tested directly."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.errors import ConfigError
from cq_lsp.lsp.status_loop import DirtyRoots, config_diagnostics
from tests.conftest import run_git, survivors
from tests.lsp_harness import FAST, drained, lsp_session

pytestmark = pytest.mark.timeout(180)


async def test_bad_config_json_gets_a_diagnostic_at_the_key_and_it_clears(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    cfg = inited / ".code-query" / "config.json"
    good = cfg.read_text()
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, drained)
        data = json.loads(good)
        data.setdefault("processing", {})["batch_size"] = "five"
        cfg.write_text(json.dumps(data, indent=2))
        uri = cfg.as_uri()

        async def diags() -> list[Any]:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                d = s.client.diagnostics.get(uri)
                if d:
                    return list(d)
                await asyncio.sleep(0.05)
            return []

        found = await diags()
        assert found, "no diagnostic for the bad config.json"
        d = found[0]
        line = cfg.read_text().splitlines()[d.range.start.line]
        assert '"batch_size"' in line
        assert "processing.batch_size" in d.message
        st = await s.wait_status(inited, lambda st: st.get("configError"))
        assert st["health"] == "error"
        cfg.write_text(good)
        await s.wait_status(inited, lambda st: not st.get("configError"))
        deadline = time.monotonic() + 10
        while s.client.diagnostics.get(uri) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not s.client.diagnostics.get(uri)


async def test_status_notifications_are_coalesced(
    inited: Path, isolated_env: dict[str, str]
) -> None:
    for i in range(100):
        (inited / "bulk" / f"b{i}.py").parent.mkdir(exist_ok=True)
        (inited / "bulk" / f"b{i}.py").write_text(f"B{i} = {i}\n")
    run_git(inited, "add", "-A")
    run_git(inited, "commit", "-qm", "bulk")
    async with lsp_session([inited], isolated_env, options=FAST) as s:
        await s.wait_status(inited, lambda st: drained(st) and st["index"]["files"] == 104)
        times = [st["at"] for st in s.statuses if st.get("root") == str(inited)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # ≤ 1 per 250 ms: allow scheduling jitter, not a burst per job.
        assert all(g > 0.2 for g in gaps), gaps
        assert len(times) < 100


async def test_editor_death_is_noticed(inited: Path, isolated_env: dict[str, str]) -> None:
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        async with lsp_session(
            [inited], isolated_env, options=FAST, process_id=editor.pid, shutdown=False
        ) as s:
            st = await s.wait_status(inited, lambda st: drained(st) and st["worker"]["pid"])
            worker = st["worker"]["pid"]
            server = s.client._server
            editor.kill()
            editor.wait()
            await _wait_exit(server)
            assert server.returncode == 0  # it shut itself down, not killed
            assert survivors([worker]) == [], "the worker outlived the dead editor's server"
    finally:
        if editor.poll() is None:
            editor.kill()


async def _wait_exit(server: Any, timeout: float = 20) -> None:
    import asyncio

    await asyncio.wait_for(server.wait(), timeout)


def test_config_diagnostics_point_at_each_bad_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text('{\n  "processing": {\n    "batch_size": "five"\n  }\n}\n')
    error = ConfigError(
        "invalid configuration", problems=["processing.batch_size: must be an integer"]
    )
    [d] = config_diagnostics(cfg, error)
    assert d.range.start.line == 2
    assert "processing.batch_size" in d.message and "last good configuration" in d.message


def test_config_diagnostics_of_an_unreadable_file_still_say_what_is_wrong(tmp_path: Path) -> None:
    error = ConfigError("invalid configuration", problems=["cache: unknown key"])
    [d] = config_diagnostics(tmp_path / "missing.json", error)
    assert d.range.start.line == 0 and "cache: unknown key" in d.message


def test_dirty_roots_are_taken_once() -> None:
    dirty = DirtyRoots()
    dirty.add(Path("/a"))
    dirty.add(Path("/a"))
    dirty.add(Path("/b"))
    assert dirty.take() == {Path("/a"), Path("/b")}
    assert dirty.take() == set()
