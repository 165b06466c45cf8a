import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  type CqStatus,
  escapeMarkdown,
  formatBytes,
  formatDuration,
  parseStatus,
  pickStatus,
  statusView,
  tooltipMarkdown,
} from "../../src/status";

/** A status object shaped like the server's (docs/architecture.md), with overrides. */
function status(over: Record<string, unknown> = {}): CqStatus {
  const raw = {
    root: "/work/shop",
    health: "ok",
    message: "120 documented · worker running",
    worker: { state: "running", pid: 4242, uptimeS: 75.4, restarts: 0, rssBytes: 41_000_000 },
    queue: { queued: 0, running: 0, failed: 0, done: 120, skipped: 2, oldestQueuedS: null },
    index: { files: 120 },
    mode: "auto",
    documenter: { kind: "static", calls: 120, failures: 0 },
    ...over,
  };
  const parsed = parseStatus(raw);
  assert.ok(parsed);
  return parsed;
}

const running = (s: CqStatus) => statusView({ phase: "running", status: s, folderName: "shop" });

describe("parseStatus", () => {
  it("reads the contract's object", () => {
    const s = status();
    assert.equal(s.root, "/work/shop");
    assert.equal(s.worker.pid, 4242);
    assert.equal(s.queue.done, 120);
    assert.equal(s.index.files, 120);
    assert.equal(s.documenter?.kind, "static");
  });

  it("rejects payloads without a root and tolerates missing or wrong-typed parts", () => {
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus({ health: "ok" }), undefined);
    assert.equal(parseStatus({ root: "" }), undefined);
    const s = parseStatus({ root: "/r", health: "purple", worker: "x", queue: { queued: "3" } });
    assert.ok(s);
    assert.equal(s.health, "ok");
    assert.equal(s.worker.state, "stopped");
    assert.equal(s.queue.queued, 0);
    assert.equal(s.index.files, 0);
  });
});

describe("statusView text", () => {
  it("idle with a running worker is a check mark", () => {
    const v = running(status());
    assert.equal(v.text, "CQ $(check)");
    assert.equal(v.background, undefined);
    assert.match(v.accessibilityLabel, /^CQ — shop: 120 documented · worker running$/);
  });

  it("spins with the number of files left while the worker works", () => {
    const v = running(status({ queue: { queued: 3, running: 1, failed: 0, done: 10 } }));
    assert.equal(v.text, "CQ $(sync~spin) 4 queued");
  });

  it("shows plain queued files when no worker runs (manual mode)", () => {
    const v = running(
      status({ worker: { state: "stopped" }, queue: { queued: 3, running: 0, failed: 0, done: 1 }, mode: "manual" }),
    );
    assert.equal(v.text, "CQ 3 queued");
  });

  it("says stopped when the worker is stopped and nothing waits", () => {
    const v = running(status({ worker: { state: "stopped" }, message: "120 documented · worker stopped" }));
    assert.equal(v.text, "CQ stopped");
    assert.equal(v.background, undefined);
    assert.match(v.tooltip, /stopped · starts when work arrives/);
  });

  it("failed files are a warning", () => {
    const v = running(status({ health: "warning", queue: { queued: 0, running: 0, failed: 2, done: 5 } }));
    assert.equal(v.text, "CQ $(warning) 2 failed");
    assert.equal(v.background, "warning");
  });

  it("a crashed worker or a config error is an error", () => {
    const crashed = running(status({ health: "error", worker: { state: "crashed", lastPid: 99 } }));
    assert.equal(crashed.text, "CQ error");
    assert.equal(crashed.background, "error");
    assert.match(crashed.tooltip, /crashed · last pid 99/);
    const config = running(status({ health: "error", configError: 'processing.batch_size: must be an integer from 1 to 100, got "five"' }));
    assert.equal(config.text, "CQ error");
    assert.match(config.tooltip, /Configuration:.*batch\\_size/);
  });

  it("a folder without .code-query/ invites CQ: Initialize without a warning colour", () => {
    const v = running(status({ health: "warning", initialized: false, message: "not initialized — run CQ: Initialize" }));
    assert.equal(v.text, "CQ $(circle-slash) not initialized");
    assert.equal(v.background, undefined);
    assert.match(v.tooltip, /CQ: Initialize/);
  });

  it("a folder outside any git work tree says so (Initialize would not help)", () => {
    const v = running(
      status({ health: "warning", initialized: false, message: "not a git work tree: /tmp/notes is not inside a git work tree" }),
    );
    assert.equal(v.text, "CQ $(circle-slash) not a git repository");
    assert.equal(v.background, undefined);
    assert.match(v.tooltip, /open a folder inside a git repository/);
    assert.doesNotMatch(v.tooltip, /CQ: Initialize/);
  });

  it("follows the client: starting, no interpreter, crashed server, no folder", () => {
    assert.equal(statusView({ phase: "starting" }).text, "CQ $(loading~spin)");
    assert.equal(statusView({ phase: "restarting", status: status() }).text, "CQ $(loading~spin)");
    const launch = statusView({ phase: "launchError", problem: "cq-lsp is not installed for /usr/bin/python3" });
    assert.equal(launch.text, "CQ error");
    assert.equal(launch.background, "error");
    assert.match(launch.tooltip, /cq\\-lsp is not installed/);
    assert.match(launch.accessibilityLabel, /error: cq-lsp is not installed/);
    const dead = statusView({ phase: "failed", status: status() });
    assert.equal(dead.text, "CQ error");
    assert.equal(statusView({ phase: "running", noFolder: true }).text, "CQ $(circle-slash)");
  });

  it("every text starts with CQ", () => {
    const views = [
      running(status()),
      running(status({ queue: { queued: 1, running: 0, failed: 0, done: 0 } })),
      statusView({ phase: "failed" }),
      statusView({ phase: "starting" }),
    ];
    for (const v of views) {
      assert.ok(v.text.startsWith("CQ"), v.text);
    }
  });
});

describe("tooltip", () => {
  it("has counts, worker pid, uptime, memory, the interpreter and the last error", () => {
    const t = tooltipMarkdown({
      phase: "running",
      status: status({ queue: { queued: 3, running: 1, failed: 1, done: 120, oldestQueuedS: 2.1 } }),
      folderName: "shop",
      interpreter: "/venv/bin/python (Python 3.11.2, cq-lsp 0.1.0) from cq.interpreter",
      lastError: "Search: invalid search syntax",
    });
    assert.match(t, /\*\*CQ\*\* — shop/);
    assert.match(t, /Queue \| 3 queued · 1 running · 1 failed · 120 done \|/);
    assert.match(t, /Oldest queued \| 2\.1 s/);
    assert.match(t, /running · pid 4242 · up 1 min 15 s · 39 MiB/);
    assert.match(t, /Index \| 120 files/);
    assert.match(t, /auto mode · static documenter/);
    assert.match(t, /Last error:\*\* Search: invalid search syntax/);
    assert.match(t, /_Click for actions_$/);
  });

  it("in Restricted Mode, says how to let a repository's processor.command run", () => {
    const command = status({ documenter: { kind: "command", calls: 0, failures: 2 }, queue: { queued: 0, running: 0, failed: 2, done: 0 } });
    const t = tooltipMarkdown({ phase: "running", status: command, folderName: "vault", restricted: true });
    assert.match(t, /\$\(shield\) \*\*Restricted Mode:\*\* .*`processor\.command`.* trusted workspace .*`cq-lsp config trust`.*Manage Workspace Trust/);
    // Trusted, or nothing that trust would change (the static documenter): no such line.
    assert.doesNotMatch(tooltipMarkdown({ phase: "running", status: command, restricted: false }), /Restricted Mode/);
    assert.doesNotMatch(tooltipMarkdown({ phase: "running", status: status(), restricted: true }), /Restricted Mode/);
  });

  it("escapes Markdown in paths and messages", () => {
    assert.equal(escapeMarkdown("a_b*[x](y)"), "a\\_b\\*\\[x\\]\\(y\\)");
    const t = tooltipMarkdown({ phase: "running", status: status({ root: "/w/my_[repo]" }) });
    assert.match(t, /\/w\/my\\_\\\[repo\\\]/);
  });
});

describe("formatting", () => {
  it("durations", () => {
    assert.equal(formatDuration(2.14), "2.1 s");
    assert.equal(formatDuration(42), "42 s");
    assert.equal(formatDuration(60), "1 min");
    assert.equal(formatDuration(3725), "1 h 2 min");
    assert.equal(formatDuration(90000), "1 d 1 h");
    assert.equal(formatDuration(null), "—");
    assert.equal(formatDuration(-1), "—");
  });

  it("bytes", () => {
    assert.equal(formatBytes(512 * 1024), "512 KiB");
    assert.equal(formatBytes(1.5 * 1024 * 1024), "1.5 MiB");
    assert.equal(formatBytes(41_000_000), "39 MiB");
    assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
    assert.equal(formatBytes(undefined), "—");
  });
});

describe("pickStatus (multi-root)", () => {
  const a = status({ root: "/ws/a" });
  const b = status({ root: "/ws/b" });
  const nested = status({ root: "/ws/a/vendor/lib" });
  const folders = ["/ws/a", "/ws/b"];

  it("shows the active file's folder", () => {
    assert.equal(pickStatus([a, b], "/ws/b/src/x.py", folders), b);
    assert.equal(pickStatus([a, b], "/ws/a/x.py", folders), a);
  });

  it("prefers the deepest root for nested repositories", () => {
    assert.equal(pickStatus([a, nested, b], "/ws/a/vendor/lib/m.py", folders), nested);
    assert.equal(pickStatus([a, nested, b], "/ws/a/main.py", folders), a);
  });

  it("does not show another folder's status while the active folder's is missing", () => {
    assert.equal(pickStatus([a], "/ws/b/x.py", folders), undefined);
  });

  it("without an active file in any folder, shows the first folder", () => {
    assert.equal(pickStatus([b, a], undefined, folders), a);
    assert.equal(pickStatus([b, a], "/elsewhere/x.py", folders), a);
    assert.equal(pickStatus([b], undefined, folders), b);
  });

  it("matches a folder that is a subfolder of the git work tree", () => {
    const tree = status({ root: "/repo" });
    assert.equal(pickStatus([tree], "/repo/pkg/x.py", ["/repo/pkg"]), tree);
    assert.equal(pickStatus([tree], undefined, ["/repo/pkg"]), tree);
  });

  it("does not confuse sibling prefixes", () => {
    const ab = status({ root: "/ws/ab" });
    assert.equal(pickStatus([a, ab], "/ws/ab/x.py", ["/ws/a", "/ws/ab"]), ab);
  });
});
