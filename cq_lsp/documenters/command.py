"""The command documenter: an external program (an LLM CLI such as ``claude -p``) writes the record.

Run safely, unlike code-query's (notes/code-query-mcp.md §1.3, §3): the argv comes from
``processor.command`` with ``{model}``, ``{path}`` and ``{language}`` substituted inside arguments
(never a shell); the prompt, with the file, goes on stdin (never one huge argv element); the
program runs in a fresh empty temporary directory with a minimal environment (plus the names in
``processor.env``), in a session of its own so that a timeout kills it *and* its children; its
stdout is bounded and the tail of its stderr kept for the error message.

Failures raise ``DocumenterError`` subclasses with one-line messages — ``timed out after 120 s``,
``exit 2: <stderr tail>``, ``invalid JSON from LLM: <first 80 chars>`` — which the pipeline retries
(Huey) and finally records in the ledger.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from cq_lsp.documenters.answer import parse_answer, preview
from cq_lsp.documenters.base import DocumentContext, DocumenterError
from cq_lsp.documenters.prompt import build_prompt
from cq_lsp.documenters.records import FileRecord
from cq_lsp.documenters.slots import Slot, SlotLimiter

log = logging.getLogger(__name__)

# An answer for one file is a few KB (claude's JSON envelope adds a little); 8 MiB is far above
# any real answer and far below what would hurt the worker.
OUTPUT_LIMIT = 8 * 1024 * 1024
STDERR_TAIL_BYTES = 4096
MESSAGE_TAIL_CHARS = 200
# What any program needs to start and find its own files (claude keeps its login under HOME).
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
_WINDOWS_ENV = ("SYSTEMROOT", "SYSTEMDRIVE", "PATHEXT", "COMSPEC", "USERPROFILE", "APPDATA")
_PLACEHOLDER = re.compile(r"\{(model|path|language)\}")
_CHUNK = 65536


class CommandError(DocumenterError):
    """The program ran and failed (timeout, exit status, too much output): worth retrying."""


class CommandUnusable(DocumenterError):
    """The program cannot be run at all (not found, not executable): retrying will not help."""

    retryable = False


@attrs.frozen
class CommandResult:
    returncode: int
    stdout: bytes
    stderr_tail: bytes
    elapsed_s: float


# ---------------------------------------------------------------------------------------------
# Building the invocation.


def expand_argv(template: Sequence[str], *, model: str, path: str, language: str) -> list[str]:
    """``template`` with the placeholders replaced in every argument after the program.

    One pass, so a path that itself contains ``{model}`` stays as it is. A path that would read
    as an option (``-rf``) is passed as ``./-rf``.
    """
    values = {"model": model, "path": path, "language": language}
    out = [os.path.expanduser(template[0])]
    for arg in template[1:]:
        if arg == "{path}" and path.startswith("-"):
            out.append("./" + path)
        else:
            out.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg))
    return out


def minimal_env(names: Sequence[str], environ: Mapping[str, str], workdir: str) -> dict[str, str]:
    """The program's whole environment: the base names, the configured ones, TMPDIR=workdir."""
    wanted = [*BASE_ENV, *(_WINDOWS_ENV if sys.platform == "win32" else ()), *names]
    env = {n: environ[n] for n in wanted if n in environ}
    env.setdefault("PATH", os.defpath)
    for var in ("TMPDIR", "TEMP", "TMP"):
        env[var] = workdir
    return env


def resolve_program(program: str, path_var: str) -> str:
    """The absolute path of the program; ``CommandUnusable`` says what to change when it fails."""
    if os.path.isabs(program):
        if os.path.isfile(program) and os.access(program, os.X_OK):
            return program
        raise CommandUnusable(
            f"processor.command[0] {program} is not an executable file; fix the path or chmod +x it"
        )
    if os.sep in program or (os.altsep and os.altsep in program):
        raise CommandUnusable(
            f'processor.command[0] "{program}" is a relative path; give an absolute path or a '
            "program name found on PATH"
        )
    found = shutil.which(program, path=path_var)
    if found is None:
        raise CommandUnusable(
            f"program not found: {program} is not on PATH; install it, or set "
            "processor.command[0] to its absolute path"
        )
    return found


# ---------------------------------------------------------------------------------------------
# Running it.


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the program's whole process group: its children too, however they hang."""
    if sys.platform == "win32":  # pragma: no cover
        proc.kill()
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def run_command(
    argv: Sequence[str],
    stdin: bytes,
    *,
    timeout_s: float,
    env: Mapping[str, str],
    cwd: str,
    max_output: int = OUTPUT_LIMIT,
    on_start: Callable[[int], None] | None = None,
) -> CommandResult:
    """Run ``argv`` with ``stdin``; ``CommandError`` on timeout or too much output.

    A non-zero exit is returned, not raised: the caller words it with the stderr tail.
    """
    import selectors

    started = time.monotonic()
    deadline = started + timeout_s
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise CommandUnusable(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    failure: str | None = None
    out = bytearray()
    err = bytearray()
    try:
        if on_start is not None:
            on_start(proc.pid)
        sel = selectors.DefaultSelector()
        view = memoryview(stdin)
        sent = 0
        if stdin:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while sel.get_map() and failure is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failure = f"timed out after {timeout_s:g} s"
                break
            for key, _ in sel.select(remaining):
                stream = key.fileobj
                if stream is proc.stdin:
                    try:
                        sent += os.write(key.fd, view[sent : sent + _CHUNK])
                    except BlockingIOError:
                        continue
                    except OSError:  # the program does not read its stdin: its choice
                        sent = len(view)
                    if sent >= len(view):
                        sel.unregister(stream)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(stream)
                elif stream is proc.stdout:
                    out += chunk
                    if len(out) > max_output:
                        failure = f"output exceeded {max_output} bytes; the command was killed"
                        break
                else:
                    err += chunk
                    if len(err) > 2 * STDERR_TAIL_BYTES:
                        del err[:-STDERR_TAIL_BYTES]
        sel.close()
        if failure is None:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                failure = f"timed out after {timeout_s:g} s"
        if failure is not None:
            # Killed before it is reaped, so the group id cannot belong to anyone else yet.
            _kill_group(proc)
            proc.wait()
            raise CommandError(failure)
        # Children it left behind (the group outlives its leader) go too.
        _kill_group(proc)
    except BaseException:
        if proc.returncode is None:
            _kill_group(proc)
            proc.wait()
        raise
    finally:
        _close(proc)
    return CommandResult(
        returncode=proc.returncode,
        stdout=bytes(out),
        stderr_tail=bytes(err[-STDERR_TAIL_BYTES:]),
        elapsed_s=time.monotonic() - started,
    )


def _tail(data: bytes) -> str:
    text = " ".join(data.decode("utf-8", "replace").split())
    return text if len(text) <= MESSAGE_TAIL_CHARS else "…" + text[-MESSAGE_TAIL_CHARS:]


def exit_message(result: CommandResult) -> str:
    """``exit 2: <stderr tail>`` (or the signal that killed it)."""
    code = result.returncode
    if code < 0:
        try:
            head = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            head = f"killed by signal {-code}"
    else:
        head = f"exit {code}"
    tail = _tail(result.stderr_tail)
    if tail:
        return f"{head}: {tail}"
    if result.stdout:
        return f"{head} (no stderr); stdout: {preview(result.stdout.decode('utf-8', 'replace'))}"
    return f"{head} (no output)"


# ---------------------------------------------------------------------------------------------
# Processes a dead worker left behind.


def _slot_note(pid: int) -> str:
    try:
        import psutil

        return f"{pid} {psutil.Process(pid).create_time():.3f}"
    except Exception:  # it may already be gone; then there is nothing to reap later
        return ""


def reap_orphan(note: str) -> bool:
    """Kill the process group named by a slot note that its (dead) holder left behind.

    The group leader is identified by pid and create time, so a reused pid is never signalled;
    when the leader is gone its pid cannot be reused while group members live, so the group id
    still names only them.
    """
    if sys.platform == "win32":  # pragma: no cover
        return False
    try:
        pid_text, ctime_text = note.split()
        pid, ctime = int(pid_text), float(ctime_text)
    except ValueError:
        return False
    import psutil

    try:
        if abs(psutil.Process(pid).create_time() - ctime) > 0.01:
            return False
    except psutil.NoSuchProcess:
        pass
    except psutil.Error:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    log.warning("killed LLM process group %d left running by a dead worker", pid)
    return True


# ---------------------------------------------------------------------------------------------
# The documenter.


class CommandDocumenter:
    """Documents a file by running ``argv`` and reading the record from its stdout."""

    name = "command"

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env_names: Sequence[str] = (),
        limiter: SlotLimiter | None = None,
        max_output_bytes: int = OUTPUT_LIMIT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("argv must name a program")
        self.argv = tuple(argv)
        self.timeout_s = timeout_s
        self.env_names = tuple(env_names)
        self.limiter = limiter
        self.max_output_bytes = max_output_bytes
        self._environ = environ
        #: what the record's ``processor`` says, e.g. "command:claude".
        self.processor = "command:" + posixpath.basename(self.argv[0].replace("\\", "/"))

    def document(
        self, path: str, content: str, language: str, context: DocumentContext
    ) -> FileRecord:
        environ = os.environ if self._environ is None else self._environ
        argv = expand_argv(self.argv, model=context.model, path=path, language=language)
        prompt = build_prompt(path, content, language).encode("utf-8", "surrogateescape")
        if self.limiter is None:
            result = self._run(argv, prompt, environ, None)
        else:
            with self.limiter.hold() as slot:
                if slot.previous:
                    reap_orphan(slot.previous)
                result = self._run(argv, prompt, environ, slot)
        log.info(
            "LLM command for %s: exit %d in %.2f s, %d bytes out",
            path,
            result.returncode,
            result.elapsed_s,
            len(result.stdout),
        )
        if result.returncode != 0:
            raise CommandError(exit_message(result))
        text = result.stdout.decode("utf-8", "replace")
        try:
            return parse_answer(
                text,
                path=path,
                filename=posixpath.basename(path),
                language=language,
                processor=self.processor,
            )
        except DocumenterError as exc:
            tail = _tail(result.stderr_tail)
            if not text.strip() and tail:
                raise type(exc)(f"{exc}; stderr: {tail}") from None
            raise

    def _run(
        self, argv: list[str], prompt: bytes, environ: Mapping[str, str], slot: Slot | None
    ) -> CommandResult:
        with tempfile.TemporaryDirectory(prefix="cq-lsp-llm-") as workdir:
            env = minimal_env(self.env_names, environ, workdir)
            argv = [resolve_program(argv[0], env["PATH"]), *argv[1:]]
            on_start = None if slot is None else (lambda pid: slot.note(_slot_note(pid)))
            return run_command(
                argv,
                prompt,
                timeout_s=self.timeout_s,
                env=env,
                cwd=workdir,
                max_output=self.max_output_bytes,
                on_start=on_start,
            )
