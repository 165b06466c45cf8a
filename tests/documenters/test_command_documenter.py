"""The command (LLM) documenter, with real fake-LLM executables (tests/fakes/llm.py).

Direct tests run ``CommandDocumenter`` on each fake; end-to-end tests go through the real CLI and
the worker it starts: trust, retries, fallback, counters, and never calling the LLM twice for the
same content.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from cq_lsp.documenters.answer import AnswerError, extract_object, parse_answer
from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.command import (
    BASE_ENV,
    CommandDocumenter,
    CommandError,
    CommandUnusable,
)
from cq_lsp.documenters.prompt import build_prompt, record_schema
from cq_lsp.documenters.records import RECORD_FIELDS
from cq_lsp.documenters.slots import SlotLimiter
from tests.conftest import SAMPLE_FILES, Cq, wait_until
from tests.fakes.llm import write_fake_llm

REPO_ROOT = Path(__file__).resolve().parents[2]
CTX = DocumentContext(model="sonnet")
INVOICE = SAMPLE_FILES["billing/invoice.py"]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _doc(fake: Path, *args: str, **kw: Any) -> CommandDocumenter:
    kw.setdefault("timeout_s", 10)
    return CommandDocumenter([str(fake), *args], **kw)


# ---------------------------------------------------------------------------------------------
# The prompt and the answer.


def test_prompt_schema_is_the_record_and_the_file_is_fenced() -> None:
    schema = record_schema()
    assert list(schema["properties"]) == list(RECORD_FIELDS)
    assert schema["required"] == ["overview"]
    assert schema["properties"]["dependencies"]["type"] == "array"
    assert schema["properties"]["ddd_context"]["type"] == ["string", "null"]
    content = 'x = "````"  # four backticks\n'
    prompt = build_prompt("src/a b.py", content, "python")
    assert "Path: src/a b.py\n" in prompt and "Language: python\n" in prompt
    assert "`````python\n" + content + "`````\n" in prompt  # longer than the content's run
    assert json.dumps(schema, separators=(",", ":")) in prompt


RECORD = {"overview": "Parses.", "functions": {"f": {"signature": "f()"}}, "dependencies": ["x"]}
ANSWERS_OK = {
    "bare": json.dumps(RECORD),
    "prose": "Sure {not json}! Here:\n" + json.dumps(RECORD, indent=2) + "\nBye {}.",
    "fence": "Here:\n```json\n" + json.dumps(RECORD) + "\n```\n",
    "claude envelope": json.dumps(
        {"type": "result", "is_error": False, "result": "```json\n" + json.dumps(RECORD) + "```"}
    ),
    "nested envelope": json.dumps({"response": {"output": RECORD}}),
    "openai": json.dumps({"choices": [{"message": {"content": json.dumps(RECORD)}}]}),
}


@pytest.mark.parametrize("shape", list(ANSWERS_OK))
def test_answer_shapes_are_read(shape: str) -> None:
    record = parse_answer(
        ANSWERS_OK[shape], path="a.py", filename="a.py", language="python", processor="command:x"
    )
    assert record.overview == "Parses."
    assert record.functions == {"f": {"signature": "f()"}}
    assert record.dependencies == ["x"]
    assert record.exports == {} and record.other_notes == [] and record.ddd_context is None


ANSWERS_BAD = {
    "": "invalid JSON from LLM: (empty output)",
    "I cannot  help\nwith that.": "invalid JSON from LLM: I cannot help with that.",
    "x" * 200: "invalid JSON from LLM: " + "x" * 80 + "…",
    '{"overview": 3}': "invalid answer from LLM: overview: must be a string, got 3",
    '{"overview": "o", "functions": ["a"]}': (
        'invalid answer from LLM: functions: must be an object ({...}), got ["a"]'
    ),
    '{"overview": "o", "dependencies": "requests"}': (
        'invalid answer from LLM: dependencies: must be a list of strings, got "requests"'
    ),
    '{"overview": "o", "other_notes": ["a", 2]}': (
        "invalid answer from LLM: other_notes[1]: must be a string, got 2"
    ),
    '{"overview": "o", "ddd_context": 5}': (
        "invalid answer from LLM: ddd_context: must be a string, got 5"
    ),
    '{"functions": {}}': 'invalid answer from LLM: "overview" is missing (keys: functions)',
    '{"type": "result", "is_error": true, "result": "Credit balance is too low"}': (
        "the LLM command reported an error: Credit balance is too low"
    ),
}


@pytest.mark.parametrize("text", list(ANSWERS_BAD))
def test_bad_answers_are_one_line_errors(text: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(text, path="a.py", filename="a.py", language="python", processor="c")
    assert str(info.value) == ANSWERS_BAD[text]
    assert info.value.retryable and info.value.fallback


def test_identity_fields_come_from_us_and_unknown_keys_are_ignored() -> None:
    text = json.dumps({"overview": "o", "path": "/etc/passwd", "processor": "x", "mood": "happy"})
    record = parse_answer(
        text, path="a/b.py", filename="b.py", language="python", processor="command:llm"
    )
    assert (record.path, record.filename, record.processor) == ("a/b.py", "b.py", "command:llm")
    assert extract_object(text)["mood"] == "happy"


# ---------------------------------------------------------------------------------------------
# The documenter with real fake programs.


@pytest.mark.parametrize("kind", ["json", "prose", "fence", "envelope"])
def test_every_answer_style_becomes_the_record(tmp_path: Path, kind: str) -> None:
    record = _doc(write_fake_llm(tmp_path, kind)).document(
        "billing/invoice.py", INVOICE, "python", CTX
    )
    assert record.overview == "Fake LLM overview of billing/invoice.py."
    assert record.path == "billing/invoice.py"  # the fake's "path" key is ignored
    assert record.filename == "invoice.py" and record.language == "python"
    assert record.processor == f"command:fake-{kind}"
    assert record.functions["fake_llm_function"]["line"] == 1
    assert record.dependencies == ["fakedep"] and record.ddd_context == "testing"


def test_argv_placeholders_neutral_cwd_and_minimal_environment(tmp_path: Path) -> None:
    fake = write_fake_llm(tmp_path, "env")
    environ = {**os.environ, "SECRET_TOKEN": "s3cret", "FAKE_ALLOWED": "yes"}
    doc = _doc(
        fake,
        "--model",
        "{model}",
        "--file={path}",
        "{language}",
        "{path}",
        "{unknown}",
        env_names=["FAKE_ALLOWED"],
        environ=environ,
    )
    record = doc.document("billing/{model}.py", "x = 1\n", "python", DocumentContext(model="opus"))
    notes = dict(n.split("=", 1) for n in record.other_notes)
    assert json.loads(notes["argv"]) == [
        "--model",
        "opus",
        "--file=billing/{model}.py",  # one pass: a placeholder inside the path stays
        "python",
        "billing/{model}.py",
        "{unknown}",
    ]
    names = set(notes["env"].split(","))
    assert "FAKE_ALLOWED" in names and "SECRET_TOKEN" not in names
    assert names <= {*BASE_ENV, "FAKE_ALLOWED", "TMPDIR", "TEMP", "TMP", "LC_CTYPE"}
    cwd = Path(notes["cwd"])
    assert cwd.parent == Path(tempfile.gettempdir()).resolve() and cwd.name.startswith("cq-lsp-")
    assert not cwd.exists()  # removed after the call
    # A path that would read as an option is passed as ./path.
    record = doc.document("-rf.py", "x = 1\n", "python", CTX)
    argv = json.loads(dict(n.split("=", 1) for n in record.other_notes)["argv"])
    assert argv[4] == "./-rf.py" and argv[2] == "--file=-rf.py"


def test_a_large_prompt_reaches_stdin_whole(tmp_path: Path) -> None:
    # Several pipe buffers' worth: the writer must not deadlock against the reader.
    content = "".join(f"def f{i}():\n    return {i}\n" for i in range(60000))
    fake = tmp_path / "hash-llm"
    fake.write_text(
        f"#!{sys.executable} -S\nimport hashlib, json, sys\n"
        "data = sys.stdin.buffer.read()\n"
        'print(json.dumps({"overview": hashlib.sha256(data).hexdigest()}))\n'
    )
    fake.chmod(0o755)
    record = _doc(fake).document("big.py", content, "python", CTX)
    expected = hashlib.sha256(build_prompt("big.py", content, "python").encode()).hexdigest()
    assert len(content) > 1_000_000 and record.overview == expected


def test_timeout_kills_the_program_and_its_children(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    environ = {**os.environ, "FAKE_LLM_PIDS": str(pids_file)}
    doc = _doc(
        write_fake_llm(tmp_path, "sleep"),
        timeout_s=1,
        env_names=["FAKE_LLM_PIDS"],
        environ=environ,
    )
    with pytest.raises(CommandError) as info:
        doc.document("a.py", "x = 1\n", "python", CTX)
    assert str(info.value) == "timed out after 1 s"
    assert info.value.retryable
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 2
    wait_until(lambda: all(_gone(p) for p in pids), timeout=5)


def test_non_zero_exit_reports_the_stderr_tail(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as info:
        _doc(write_fake_llm(tmp_path, "exit2")).document("a.py", "x\n", "text", CTX)
    assert str(info.value) == "exit 2: warming up error: quota exceeded for this fake model"


def test_output_is_bounded(tmp_path: Path) -> None:
    doc = _doc(write_fake_llm(tmp_path, "flood"), max_output_bytes=1 << 20)
    with pytest.raises(CommandError) as info:
        doc.document("a.py", "x\n", "text", CTX)
    assert str(info.value) == "output exceeded 1048576 bytes; the command was killed"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("garbage", "invalid JSON from LLM: I am sorry, I cannot document this file."),
        (
            "wrongtype",
            'invalid answer from LLM: functions: must be an object ({...}), got ["parse", '
            '"render"]',
        ),
    ],
)
def test_invalid_answers_fail(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(AnswerError) as info:
        _doc(write_fake_llm(tmp_path, kind)).document("a.py", "x\n", "text", CTX)
    assert str(info.value) == message


def test_a_program_that_cannot_run_is_not_retried(tmp_path: Path) -> None:
    cases = {
        "no-such-llm-program-4711": "program not found: no-such-llm-program-4711 is not on PATH",
        "bin/llm": 'processor.command[0] "bin/llm" is a relative path',
        str(tmp_path / "missing"): f"processor.command[0] {tmp_path / 'missing'} is not an",
    }
    for program, message in cases.items():
        with pytest.raises(CommandUnusable) as info:
            CommandDocumenter([program], timeout_s=5).document("a.py", "x\n", "text", CTX)
        assert str(info.value).startswith(message)
        assert not info.value.retryable and info.value.fallback


# ---------------------------------------------------------------------------------------------
# processor.concurrency across processes and threads.

_RUN_ONE = """
import sys
from pathlib import Path
from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.command import CommandDocumenter
from cq_lsp.documenters.slots import SlotLimiter
fake, slots, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
doc = CommandDocumenter([fake], timeout_s=timeout, limiter=SlotLimiter(Path(slots), count),
                        env_names=["FAKE_LLM_RUNNING", "FAKE_LLM_SEEN", "FAKE_LLM_PIDS"])
for i in range(int(sys.argv[5])):
    doc.document(f"p{i}.py", "x = 1\\n", "python", DocumentContext())
"""


def _concurrent_env(tmp_path: Path) -> dict[str, str]:
    running = tmp_path / "running"
    running.mkdir(exist_ok=True)
    seen = tmp_path / "seen"
    seen.write_text("")
    return {**os.environ, "FAKE_LLM_RUNNING": str(running), "FAKE_LLM_SEEN": str(seen)}


def _run_threads(doc: CommandDocumenter, n: int) -> None:
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            doc.document(f"t{i}.py", "x = 1\n", "python", CTX)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_concurrency_limit_holds_across_processes_and_threads(tmp_path: Path) -> None:
    fake = write_fake_llm(tmp_path, "concurrent")
    env = _concurrent_env(tmp_path)
    names = ["FAKE_LLM_RUNNING", "FAKE_LLM_SEEN"]
    # Control: without a limiter the same load runs more than two at once.
    _run_threads(_doc(fake, env_names=names, environ=env), 4)
    assert max(int(x) for x in (tmp_path / "seen").read_text().split()) >= 3

    env = _concurrent_env(tmp_path)
    slots = tmp_path / "slots"
    others = [
        subprocess.Popen(
            [sys.executable, "-c", _RUN_ONE, str(fake), str(slots), "2", "10", "2"],
            env=env,
            cwd=REPO_ROOT,
        )
        for _ in range(2)
    ]
    limited = _doc(fake, env_names=names, environ=env, limiter=SlotLimiter(slots, 2))
    _run_threads(limited, 3)
    assert [p.wait(timeout=60) for p in others] == [0, 0]
    seen = [int(x) for x in (tmp_path / "seen").read_text().split()]
    assert len(seen) == 7 and max(seen) == 2


def test_an_llm_left_by_a_killed_worker_is_killed_by_the_next_holder(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    env = {**os.environ, "FAKE_LLM_PIDS": str(pids_file)}
    slots = tmp_path / "slots"
    fake = write_fake_llm(tmp_path, "sleep")
    holder = subprocess.Popen(
        [sys.executable, "-c", _RUN_ONE, str(fake), str(slots), "1", "60", "1"],
        env=env,
        cwd=REPO_ROOT,
    )
    wait_until(lambda: pids_file.exists() and len(pids_file.read_text().split()) == 2)
    os.kill(holder.pid, signal.SIGKILL)  # the "worker" dies; its LLM lives on in its session
    holder.wait()
    pids = [int(p) for p in pids_file.read_text().split()]
    assert not any(_gone(p) for p in pids)
    doc = _doc(write_fake_llm(tmp_path, "json"), limiter=SlotLimiter(slots, 1))
    assert doc.document("a.py", "x\n", "python", CTX).overview == "Fake LLM overview of a.py."
    wait_until(lambda: all(_gone(p) for p in pids), timeout=5)


# ---------------------------------------------------------------------------------------------
# End to end: the CLI and the worker it starts.


def _user_config(env: dict[str, str], processor: dict[str, Any], **processing: Any) -> None:
    path = Path(env["CQ_LSP_CONFIG_HOME"]) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema_version": 2, "processor": {"kind": "command", **processor}}
    data["processing"] = {"retry_delay_s": 0, **processing}
    path.write_text(json.dumps(data), encoding="utf-8")


def _init_without_processor(cq: Cq, repo: Path) -> None:
    """`cq-lsp init`, then a repository config that leaves the documenter to the user file (as
    a teammate's committed config would; init writes every default, shadowing the user file)."""
    cq.run("init")
    (repo / ".code-query" / "config.json").write_text('{"schema_version": 2}\n')


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _jobs(cq: Cq) -> dict[str, dict[str, Any]]:
    return {j["path"]: j for j in cq.json("queue", "list")["jobs"]}


def test_user_config_command_runs_in_the_worker_and_never_twice_for_same_content(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    log = tmp_path / "llm.log"
    cq.env["FAKE_LLM_LOG"] = str(log)
    fake = write_fake_llm(tmp_path / "bin", "json")
    _user_config(cq.env, {"command": [str(fake), "{path}"], "env": ["FAKE_LLM_LOG"]})
    _init_without_processor(cq, repo)
    cq.run("index", "--wait")
    assert sorted(_calls(log)) == sorted(SAMPLE_FILES)
    shown = cq.json("show", "billing/invoice.py")
    assert shown["processor"] == "command:fake-json"
    assert shown["overview"] == "Fake LLM overview of billing/invoice.py."
    hits = cq.json("search", "fake_llm_function")["results"]
    assert {h["path"] for h in hits} == set(SAMPLE_FILES)
    doc = cq.json("status")["documenter"]
    assert (doc["kind"], doc["llmCalls"], doc["llmFailures"]) == ("command", 4, 0)
    assert "LLM       4 calls, 0 failed" in cq.run("status").stdout

    cq.run("index", "--wait")  # nothing changed
    os.utime(repo / "billing" / "invoice.py")  # a new mtime, the same content
    cq.run("index", "--wait")
    assert len(_calls(log)) == 4
    (repo / "README.md").write_text("# Sample shop\n\nChanged.\n")
    cq.run("index", "--wait")
    assert _calls(log)[4:] == ["README.md"]
    assert cq.json("status")["documenter"]["llmCalls"] == 5


def test_repo_command_runs_only_after_trust_and_again_after_an_edit(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    log = tmp_path / "llm.log"
    cq.env["FAKE_LLM_LOG"] = str(log)
    fake = write_fake_llm(tmp_path / "bin", "json")
    cq.run("init")
    cq.run("config", "set", "processor.command", json.dumps([str(fake), "{path}"]))
    cq.run("config", "set", "processor.kind", "command")
    cq.run("config", "set", "processor.env", '["FAKE_LLM_LOG"]')
    cq.run("config", "set", "processing.retry_delay_s", "0")

    proc = cq.run("index", "--wait", check=False)
    assert proc.returncode == 1
    jobs = _jobs(cq)
    assert {j["state"] for j in jobs.values()} == {"failed"}
    job = jobs["billing/invoice.py"]
    assert job["attempts"] == 1  # refused at once: retrying cannot help, nor falls back
    assert job["error"].startswith("not run: the repository's .code-query/config.json sets")
    assert f"run `cq-lsp config trust` in {repo}" in job["error"]
    assert "trust the workspace in your editor" in job["error"]
    assert not _calls(log)
    status = cq.json("status")
    assert status["health"] == "warning" and "run `cq-lsp config trust`" in status["message"]
    shown = cq.run("show", "billing/invoice.py", check=False)
    assert shown.returncode == 1 and "cq-lsp config trust" in shown.stderr

    cq.run("config", "trust")
    cq.run("queue", "retry")
    cq.run("index", "--wait")
    assert sorted(_calls(log)) == sorted(SAMPLE_FILES)
    assert cq.json("show", "README.md")["processor"] == "command:fake-json"
    assert cq.json("status")["health"] == "ok"

    # Any edit of the file withdraws the trust (the worker keeps running meanwhile).
    cq.run("config", "set", "processor.timeout_s", "30")
    (repo / "README.md").write_text("# Sample shop\n\nEdited.\n")
    assert cq.run("index", "--wait", check=False).returncode == 1
    assert "cq-lsp config trust" in _jobs(cq)["README.md"]["error"]
    assert len(_calls(log)) == 4
    cq.run("config", "trust")
    cq.run("queue", "retry")
    cq.run("index", "--wait")
    assert _calls(log)[4:] == ["README.md"]


def test_a_trusted_editor_workspace_runs_the_repo_command(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    fake = write_fake_llm(tmp_path / "bin", "json")
    cq.run("init")
    cq.run("config", "set", "processor.command", json.dumps([str(fake)]))
    cq.run("config", "set", "processor.kind", "command")
    # The language server hands the editor's trust to the worker it starts through a hand-off
    # file keyed by its own pid (cq_lsp.core.editor_env); this process plays the server.
    server = (
        "import sys; from pathlib import Path; from cq_lsp.core import editor_env; "
        "from cq_lsp.core.supervisor import start_worker; from cq_lsp.worktree.project import "
        "Project; editor_env.encode(None, True, Path(sys.argv[1])); "
        "start_worker(Project(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", server, str(repo)], env=cq.env, check=True, timeout=60)
    cq.run("index", "billing/invoice.py", "--wait")
    assert cq.json("show", "billing/invoice.py")["processor"] == "command:fake-json"


def test_failures_are_retried_then_fail_with_their_reason_while_other_jobs_finish(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    log = tmp_path / "llm.log"
    cq.env.update(FAKE_LLM_LOG=str(log), FAKE_LLM_FAIL_ON="render")
    fake = write_fake_llm(tmp_path / "bin", "json")
    _user_config(
        cq.env,
        {"command": [str(fake)], "env": ["FAKE_LLM_LOG", "FAKE_LLM_FAIL_ON"], "fallback": "none"},
        max_retries=2,
    )
    _init_without_processor(cq, repo)
    proc = cq.run("index", "--wait", check=False)
    assert proc.returncode == 1
    jobs = _jobs(cq)
    failed = jobs.pop("billing/render.ts")
    assert failed["state"] == "failed" and failed["attempts"] == 3
    assert failed["error"] == "exit 2: error: the fake LLM refuses billing/render.ts"
    assert {j["state"] for j in jobs.values()} == {"done"}
    calls = _calls(log)
    assert calls.count("billing/render.ts") == 3 and len(calls) == 6
    status = cq.json("status")
    assert status["queue"]["failed"] == 1 and status["health"] == "warning"
    assert "1 failed" in status["message"]
    assert (status["documenter"]["llmCalls"], status["documenter"]["llmFailures"]) == (6, 3)
    listed = cq.run("queue", "list").stdout
    assert "exit 2: error: the fake LLM refuses" in " ".join(listed.split())


def test_retries_back_off(cq: Cq, repo: Path, tmp_path: Path) -> None:
    times = tmp_path / "times"
    fake = tmp_path / "bin" / "failing-llm"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable} -S\nimport os, sys, time\nsys.stdin.read()\n"
        f"open({str(times)!r}, 'a').write(f'{{time.time()}}\\n')\nsys.exit(3)\n"
    )
    fake.chmod(0o755)
    _user_config(cq.env, {"command": [str(fake)], "fallback": "none"}, max_retries=2)
    _init_without_processor(cq, repo)
    cq.run("config", "set", "processing.retry_delay_s", "1")
    assert cq.run("index", "README.md", "--wait", check=False).returncode == 1
    t = [float(x) for x in times.read_text().split()]
    assert len(t) == 3
    # Huey never runs a retry early: 1 s, then 2 s (lower bounds, not timings).
    assert t[1] - t[0] >= 1.0 and t[2] - t[1] >= 2.0
    assert _jobs(cq)["README.md"]["error"] == "exit 3 (no output)"


def test_a_hung_llm_is_killed_and_the_static_record_stands_in(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    cq.env["FAKE_LLM_PIDS"] = str(pids_file)
    fake = write_fake_llm(tmp_path / "bin", "sleep")
    _user_config(
        cq.env,
        {"command": [str(fake)], "env": ["FAKE_LLM_PIDS"], "timeout_s": 1, "fallback": "static"},
        max_retries=1,
    )
    _init_without_processor(cq, repo)
    cq.run("index", "billing/invoice.py", "--wait")
    # Counted before show and search: in auto mode the staleness check of status, show and
    # search queues the repository's other files, and the worker starts the LLM for them too.
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 4  # two attempts, each a program and its child
    doc = cq.json("status")["documenter"]
    assert (doc["llmCalls"], doc["llmFailures"], doc["llmFallbacks"]) == (2, 2, 1)
    shown = cq.json("show", "billing/invoice.py")
    assert shown["processor"] == "static (fallback: timed out after 1 s)"
    assert shown["other_notes"][0] == (
        "documented by the static documenter because the LLM command failed: timed out after 1 s"
    )
    assert "parse_invoice" in shown["functions"]
    hits = cq.json("search", "parse_invoice")["results"]
    assert hits[0]["path"] == "billing/invoice.py"
    assert _jobs(cq)["billing/invoice.py"]["state"] == "done"
    wait_until(lambda: all(_gone(p) for p in pids), timeout=5)


def test_foreground_processing_falls_back_on_an_invalid_answer(
    cq: Cq, repo: Path, tmp_path: Path
) -> None:
    fake = write_fake_llm(tmp_path / "bin", "garbage")
    _user_config(cq.env, {"command": [str(fake)]}, max_retries=0, mode="manual")
    _init_without_processor(cq, repo)
    cq.run("queue", "add", "billing/render.ts")
    cq.run("queue", "process")
    shown = cq.json("show", "billing/render.ts")
    assert shown["processor"] == (
        "static (fallback: invalid JSON from LLM: I am sorry, I cannot document this file.)"
    )
    assert "renderInvoiceHtml" in shown["functions"]
    assert cq.json("worker", "status")["state"] == "stopped"  # manual mode: no worker ran
