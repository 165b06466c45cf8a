import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { describeEnqueue, describeHooks, describeWorker } from "../../src/results";

describe("describeWorker", () => {
  it("summarises the supervisor's answers", () => {
    assert.equal(describeWorker({ started: true, pid: 12, root: "/r" }), "worker started (pid 12)");
    assert.equal(describeWorker({ started: false, pid: 12, message: "worker already running" }), "worker already running");
    assert.equal(describeWorker({ stopped: true, pid: 12, graceful: true }), "worker stopped (pid 12)");
    assert.equal(describeWorker({ stopped: true, pid: 12, graceful: false }), "worker stopped (pid 12) (it had to be killed)");
    assert.equal(describeWorker({ stopped: false, message: "worker not running" }), "worker not running");
    assert.equal(describeWorker({ stopped: { stopped: true, pid: 1 }, started: true, pid: 13 }), "worker restarted (pid 13)");
    assert.equal(describeWorker({ state: "running", pid: 5 }), "worker running (pid 5)");
    assert.equal(describeWorker(null), "worker: no answer");
  });
});

describe("describeEnqueue", () => {
  it("counts queued, unchanged, removed and skipped files", () => {
    assert.equal(describeEnqueue({ queued: 4, unchanged: 0, removed: 0, skipped: 0, refused: [] }), "4 queued, 0 unchanged");
    assert.equal(
      describeEnqueue({ queued: 1, unchanged: 9, removed: 2, skipped: 1, refused: [{ path: "a.bin", reason: "binary" }] }),
      "1 queued, 9 unchanged, 2 removed, 1 skipped",
    );
    assert.equal(describeEnqueue(undefined), "nothing queued");
  });
});

describe("describeHooks", () => {
  it("lists each hook and what was done", () => {
    const s = describeHooks(
      { manager: "git", hooks: [{ name: "post-commit", action: "written" }, { name: "post-merge", action: "unchanged" }], notes: [], instructions: null },
      "installed",
    );
    assert.equal(s.text, "git hooks installed: post-commit written, post-merge unchanged");
    assert.equal(s.instructions, undefined);
    const same = describeHooks({ hooks: [{ name: "post-commit", action: "installed" }, { name: "post-merge", action: "installed" }] }, "installed");
    assert.equal(same.text, "git hooks installed: post-commit, post-merge");
  });

  it("names another hook manager and passes its instructions on", () => {
    const s = describeHooks(
      { manager: "lefthook", hooks: [{ name: "*", action: "printed" }], notes: ["lefthook merges them"], instructions: "add a cq-lsp command" },
      "installed",
    );
    assert.equal(s.text, "git hooks installed (lefthook): * printed");
    assert.equal(s.instructions, "add a cq-lsp command");
    assert.deepEqual(s.notes, ["lefthook merges them"]);
  });
});
