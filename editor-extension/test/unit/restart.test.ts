import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CrashBackoff, SerialRestarter } from "../../src/restart";

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A task that records its runs and takes `ms` to finish, like stopping and starting a server. */
function recorder(ms = 20) {
  const runs: string[] = [];
  let active = 0;
  let maxActive = 0;
  const task = async (reason: string) => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs.push(reason);
    await tick(ms);
    active--;
  };
  return { runs, task, maxActive: () => maxActive };
}

describe("SerialRestarter", () => {
  it("coalesces a burst of requests into one run", async () => {
    const r = recorder();
    const s = new SerialRestarter(r.task, 10);
    await Promise.all([s.request("a"), s.request("b"), s.request("a"), s.request("c")]);
    assert.deepEqual(r.runs, ["a, b, c"]);
  });

  it("serves requests made during a run with exactly one more run, never two at once", async () => {
    const r = recorder(40);
    const s = new SerialRestarter(r.task, 5);
    const first = s.request("setting");
    await tick(20); // the first run is in progress now
    assert.ok(s.busy);
    const second = Promise.all([s.request("trust"), s.request("interpreter")]);
    await first;
    await second;
    assert.deepEqual(r.runs, ["setting", "trust, interpreter"]);
    assert.equal(r.maxActive(), 1);
    assert.ok(!s.busy);
  });

  it("keeps going after a failed run and reports the error", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const s = new SerialRestarter(
      async () => {
        n++;
        await tick(1);
        if (n === 1) {
          throw new Error("no python");
        }
      },
      1,
      (e) => errors.push(e),
    );
    await s.request("one");
    await s.request("two");
    assert.equal(n, 2);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /no python/);
  });

  it("after dispose, runs nothing more and releases waiters", async () => {
    const r = recorder();
    const s = new SerialRestarter(r.task, 50);
    const pending = s.request("late");
    s.dispose();
    await pending;
    await s.request("after");
    assert.deepEqual(r.runs, []);
  });
});

describe("CrashBackoff", () => {
  it("restarts after 1, 2, 4 s, then gives up on the 4th crash within 3 minutes", () => {
    const b = new CrashBackoff();
    assert.deepEqual(b.onCrash(0), { restart: true, delayMs: 1000 });
    assert.deepEqual(b.onCrash(5_000), { restart: true, delayMs: 2000 });
    assert.deepEqual(b.onCrash(10_000), { restart: true, delayMs: 4000 });
    assert.deepEqual(b.onCrash(20_000), { restart: false, crashes: 4 });
  });

  it("forgets crashes older than the window", () => {
    const b = new CrashBackoff(3, 60_000);
    b.onCrash(0);
    b.onCrash(30_000);
    // The crash at 0 s has left the window: this is the 2nd of 3 allowed, not the 3rd.
    assert.deepEqual(b.onCrash(70_000), { restart: true, delayMs: 2000 });
  });

  it("caps the delay and starts over after reset", () => {
    const b = new CrashBackoff(100, 1e9, 1000, 5000);
    let last = { restart: true, delayMs: 0 } as ReturnType<CrashBackoff["onCrash"]>;
    for (let i = 0; i < 10; i++) {
      last = b.onCrash(i);
    }
    assert.deepEqual(last, { restart: true, delayMs: 5000 });
    b.reset();
    assert.deepEqual(b.onCrash(11), { restart: true, delayMs: 1000 });
  });
});
