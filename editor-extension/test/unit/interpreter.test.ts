// Interpreter resolution, and the probe run against real interpreters: this repository's venv
// (cq_lsp installed), fresh venvs made here (without it, or with a broken one), a missing path,
// a program that is not Python, and small executables standing in for what cannot run here (an
// old Python, one that hangs).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

import {
  chooseInterpreter,
  displayCommand,
  expandVariables,
  type InterpreterChoice,
  InterpreterSettingError,
  probeInterpreter,
  sameInterpreter,
  serverCommand,
  shellQuote,
} from "../../src/interpreter";

const repo = path.resolve(__dirname, "..", "..");
const ctx = { workspaceFolder: "/ws/shop", namedFolders: { api: "/ws/api" }, home: "/home/ada", env: { VENV: "/opt/venv" } };

describe("expandVariables", () => {
  it("expands ${workspaceFolder}, ${workspaceFolder:name}, ${userHome}, ${env:X} and ~", () => {
    assert.equal(expandVariables("${workspaceFolder}/.venv/bin/python", ctx), "/ws/shop/.venv/bin/python");
    assert.equal(expandVariables("${workspaceFolder:api}/py", ctx), "/ws/api/py");
    assert.equal(expandVariables("${userHome}/py", ctx), "/home/ada/py");
    assert.equal(expandVariables("${env:VENV}/bin/python", ctx), "/opt/venv/bin/python");
    assert.equal(expandVariables("${env:NOPE}x", ctx), "x");
    assert.equal(expandVariables("~/venvs/cq/bin/python", ctx), "/home/ada/venvs/cq/bin/python");
    assert.equal(expandVariables("~", ctx), "/home/ada");
    assert.equal(expandVariables("a~b", ctx), "a~b");
  });

  it("names a variable it cannot resolve", () => {
    assert.throws(() => expandVariables("${workspaceFolder}/py", { ...ctx, workspaceFolder: undefined }), /no folder is open/);
    assert.throws(() => expandVariables("${workspaceFolder:web}/py", ctx), /no open workspace folder has that name/);
    assert.throws(() => expandVariables("${config:python.path}", ctx), (e: unknown) => e instanceof InterpreterSettingError && /\$\{config:python\.path\}, which is not supported/.test(e.message));
  });
});

describe("chooseInterpreter", () => {
  it("prefers cq.interpreter, then the Python extension, then python3", () => {
    assert.deepEqual(chooseInterpreter(["~/py", "-X", "utf8"], "/ext/python", ctx), {
      command: "/home/ada/py",
      args: ["-X", "utf8"],
      source: "cq.interpreter",
    });
    assert.deepEqual(chooseInterpreter([], "/ext/python", ctx), { command: "/ext/python", args: [], source: "Python extension" });
    assert.deepEqual(chooseInterpreter(undefined, undefined, ctx), { command: "python3", args: [], source: "default" });
    assert.deepEqual(chooseInterpreter(["", "  "], undefined, ctx).source, "default");
  });

  it("rejects a setting that is not an array of strings", () => {
    assert.throws(() => chooseInterpreter("/usr/bin/python3", undefined, ctx), /must be an array of strings/);
    assert.throws(() => chooseInterpreter(["/py", 3], undefined, ctx), /only strings, got 3/);
  });

  it("builds the server command and compares choices", () => {
    const c: InterpreterChoice = { command: "/p y/python", args: ["-X", "dev"], source: "cq.interpreter" };
    assert.deepEqual(serverCommand(c), { command: "/p y/python", args: ["-X", "dev", "-m", "cq_lsp", "--stdio"] });
    assert.equal(displayCommand(c), "'/p y/python' -X dev");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.ok(sameInterpreter(c, { ...c, args: ["-X", "dev"] }));
    assert.ok(!sameInterpreter(c, { ...c, args: [] }));
    assert.ok(!sameInterpreter(undefined, c));
  });
});

describe("probeInterpreter (real processes)", () => {
  let tmp: string;
  let emptyVenvPython: string;
  let brokenVenvPython: string;

  before(() => {
    // Spaces and non-ASCII in the path: launches must never go through a shell.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cq ext probé "));
    for (const name of ["empty", "broken"]) {
      execFileSync("python3", ["-m", "venv", "--without-pip", path.join(tmp, name)]);
    }
    emptyVenvPython = path.join(tmp, "empty", "bin", "python");
    brokenVenvPython = path.join(tmp, "broken", "bin", "python");
    // A cq_lsp package without its dependencies (pygls, lsprotocol).
    const site = execFileSync(brokenVenvPython, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).trim();
    fs.mkdirSync(path.join(site, "cq_lsp"));
    fs.writeFileSync(path.join(site, "cq_lsp", "__init__.py"), '__version__ = "0.0.1"\n');
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const opts = () => ({ cwd: tmp, timeoutMs: 20000 });

  it("accepts this repository's venv, which has cq_lsp", async (t) => {
    const python = path.join(repo, ".venv", "bin", "python");
    if (!fs.existsSync(python)) {
      t.skip("no .venv (run scripts/setup.sh)");
      return;
    }
    const r = await probeInterpreter({ command: python, args: [], source: "cq.interpreter" }, opts());
    assert.ok(r.ok, JSON.stringify(r));
    assert.match(r.pythonVersion, /^3\.\d+\.\d+$/);
    assert.match(r.cqLspVersion, /^\d+\.\d+/);
  });

  it("says how to install cq-lsp in a Python that lacks it", async () => {
    const r = await probeInterpreter({ command: emptyVenvPython, args: [], source: "cq.interpreter" }, opts());
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.failure, "missingCqLsp");
    assert.match(r.message, /cq-lsp is not installed for .*empty\/bin\/python/);
    assert.equal(r.installCommand, `${shellQuote(emptyVenvPython)} -m pip install cq-lsp`);
    assert.match(r.detail, /ModuleNotFoundError/);
  });

  it("spots a cq_lsp without its dependencies", async () => {
    const r = await probeInterpreter({ command: brokenVenvPython, args: [], source: "cq.interpreter" }, opts());
    assert.ok(!r.ok);
    assert.equal(r.failure, "brokenCqLsp");
    assert.match(r.message, /dependencies pygls, lsprotocol are missing/);
    assert.match(r.installCommand ?? "", /--force-reinstall$/);
  });

  it("names a missing interpreter and the setting to fix", async () => {
    const r = await probeInterpreter({ command: path.join(tmp, "no", "python"), args: [], source: "cq.interpreter" }, opts());
    assert.ok(!r.ok);
    assert.equal(r.failure, "notFound");
    assert.match(r.message, /no\/python' \(cq\.interpreter\) was not found\. Fix the cq\.interpreter setting/);
    const d = await probeInterpreter({ command: "cq-no-such-python-3", args: [], source: "default" }, opts());
    assert.ok(!d.ok);
    assert.match(d.message, /Install Python 3\.10\+ with cq-lsp, or set cq\.interpreter/);
  });

  it("refuses a program that is not Python", async () => {
    const r = await probeInterpreter({ command: "/bin/true", args: [], source: "cq.interpreter" }, opts());
    assert.ok(!r.ok);
    assert.equal(r.failure, "notPython");
    assert.match(r.message, /did not run as a Python interpreter \(exit code 0\)/);
  });

  it("refuses a Python older than 3.10", async () => {
    // An old Python cannot be installed here: a small executable answers like Python 3.8 would.
    const old = path.join(tmp, "python3.8");
    fs.writeFileSync(old, '#!/bin/sh\necho \'CQ-PROBE {"executable": "/usr/bin/python3.8", "version": [3, 8, 18]}\'\n', { mode: 0o755 });
    const r = await probeInterpreter({ command: old, args: [], source: "cq.interpreter" }, opts());
    assert.ok(!r.ok);
    assert.equal(r.failure, "tooOld");
    assert.match(r.message, /is Python 3\.8\.18; CQ needs Python 3\.10 or newer/);
  });

  it("gives up on an interpreter that hangs", async () => {
    const hang = path.join(tmp, "hang");
    fs.writeFileSync(hang, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    const r = await probeInterpreter({ command: hang, args: [], source: "Python extension" }, { cwd: tmp, timeoutMs: 300 });
    assert.ok(!r.ok);
    assert.equal(r.failure, "timeout");
    assert.match(r.message, /hang' did not answer within 0\.3 s\. Check it in a terminal/);
  });

  it("passes the interpreter's own arguments first", async () => {
    const r = await probeInterpreter({ command: emptyVenvPython, args: ["-X", "utf8"], source: "cq.interpreter" }, opts());
    assert.ok(!r.ok);
    assert.equal(r.failure, "missingCqLsp");
  });
});
