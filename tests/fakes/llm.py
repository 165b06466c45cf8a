"""Fake LLM command-line programs, written as real executables for the command documenter.

Each fake reads the prompt on stdin, takes the file's path from its ``Path:`` line, appends that
path to ``$FAKE_LLM_LOG`` when set (so tests count invocations), and answers in one manner:

- ``json``: a bare JSON record (exits 2 instead when ``$FAKE_LLM_FAIL_ON`` occurs in the path);
- ``prose``: the record between sentences; ``fence``: in a ```json fence;
- ``envelope``: claude's ``--output-format json`` envelope whose ``result`` holds a fenced record;
- ``sleep``: starts a child, writes "<its pid> <child pid>" to ``$FAKE_LLM_PIDS``, sleeps 60 s;
- ``exit2``: a message on stderr, exit status 2;
- ``flood``: writes to stdout forever; ``garbage``: prose without any JSON;
- ``wrongtype``: JSON whose ``functions`` is a list;
- ``env``: a record whose notes report its cwd, environment names and argv;
- ``timed``: sleeps ``$FAKE_LLM_SLEEP_S`` (default 0.2 s), appends "done <path> <sha256 of the
  file's body>" to ``$FAKE_LLM_LOG`` and answers (calls that finished, for "documented once");
- ``concurrent``: marks itself running in ``$FAKE_LLM_RUNNING``, logs how many fakes run at
  once, sleeps ``$FAKE_LLM_HOLD_S`` (default 0.3 s), then answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

KINDS = (
    "json",
    "prose",
    "fence",
    "envelope",
    "sleep",
    "exit2",
    "flood",
    "garbage",
    "wrongtype",
    "env",
    "concurrent",
    "timed",
)

_HEAD = """\
import json, os, subprocess, sys, time
prompt = sys.stdin.read()
path = next((l[6:] for l in prompt.splitlines() if l.startswith("Path: ")), "?")
log = os.environ.get("FAKE_LLM_LOG")
if log:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(path + "\\n")
record = {
    "overview": "Fake LLM overview of " + path + ".",
    "functions": {"fake_llm_function": {"signature": "fake_llm_function()", "doc": "invented",
                                        "line": 1}},
    "dependencies": ["fakedep"],
    "other_notes": ["written by the fake LLM"],
    "ddd_context": "testing",
    "path": "must/be/ignored.py",
}
"""

_BODIES = {
    "json": """\
fail_on = os.environ.get("FAKE_LLM_FAIL_ON")
if fail_on and fail_on in path:
    sys.stderr.write("error: the fake LLM refuses " + path + "\\n")
    sys.exit(2)
print(json.dumps(record))
""",
    "prose": """\
print("Sure! Here is the documentation you asked for:\\n")
print(json.dumps(record, indent=2))
print("\\nLet me know if you need anything else.")
""",
    "fence": """\
print("```json\\n" + json.dumps(record, indent=2) + "\\n```")
""",
    "envelope": """\
text = "Here you go:\\n```json\\n" + json.dumps(record) + "\\n```"
print(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": text,
                  "session_id": "fake", "total_cost_usd": 0.0}))
""",
    "sleep": """\
child = subprocess.Popen([sys.executable, "-S", "-c", "import time; time.sleep(60)"])
pids = os.environ.get("FAKE_LLM_PIDS")
if pids:
    with open(pids, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {child.pid}\\n")
time.sleep(60)
print(json.dumps(record))
""",
    "exit2": """\
sys.stderr.write("warming up\\nerror: quota exceeded for this fake model\\n")
sys.exit(2)
""",
    "flood": """\
chunk = b"x" * 65536
while True:
    sys.stdout.buffer.write(chunk)
""",
    "garbage": """\
print("I am sorry, I cannot document this file.")
""",
    "wrongtype": """\
print(json.dumps({"overview": "A file.", "functions": ["parse", "render"]}))
""",
    "env": """\
record["other_notes"] = ["cwd=" + os.getcwd(), "env=" + ",".join(sorted(os.environ)),
                         "argv=" + json.dumps(sys.argv[1:])]
print(json.dumps(record))
""",
    "concurrent": """\
running = os.environ["FAKE_LLM_RUNNING"]
mark = os.path.join(running, str(os.getpid()))
open(mark, "w").close()
with open(os.environ["FAKE_LLM_SEEN"], "a", encoding="utf-8") as fh:
    fh.write(f"{len(os.listdir(running))}\\n")
time.sleep(float(os.environ.get("FAKE_LLM_HOLD_S", "0.3")))
os.unlink(mark)
print(json.dumps(record))
""",
    "timed": """\
import hashlib
time.sleep(float(os.environ.get("FAKE_LLM_SLEEP_S", "0.2")))
body = prompt.split("\\n```", 1)[-1]
if log:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("done " + path + " " + hashlib.sha256(body.encode()).hexdigest()[:12] + "\\n")
print(json.dumps(record))
""",
}


def write_fake_llm(directory: Path, kind: str, name: str | None = None) -> Path:
    """Write the ``kind`` fake as an executable file in ``directory``; return its path."""
    if kind not in _BODIES:
        raise ValueError(f"unknown fake LLM kind {kind!r}; known: {', '.join(KINDS)}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"fake-{kind}")
    # -S: no site import, so each call starts in ~10 ms (the interpreter is the test's own).
    path.write_text(f"#!{sys.executable} -S\n{_HEAD}{_BODIES[kind]}", encoding="utf-8")
    path.chmod(0o755)
    return path
