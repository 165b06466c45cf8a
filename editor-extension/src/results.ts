// One-line summaries of server command results (the CLI's JSON), for the status bar message
// and notifications. Pure functions.

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function pid(r: Record<string, unknown>): string {
  return typeof r.pid === "number" ? ` (pid ${r.pid})` : "";
}

/** cq.worker.start|stop|restart → "worker started (pid 12)", "worker already running"… */
export function describeWorker(result: unknown): string {
  if (!isRecord(result)) {
    return "worker: no answer";
  }
  if (isRecord(result.stopped) && "started" in result) {
    // restart: {"stopped": {...}, "started": bool, "pid": n}
    return result.started === true
      ? `worker restarted${pid(result)}`
      : `worker: ${typeof result.message === "string" ? result.message : "not restarted"}`;
  }
  if (result.started === true) {
    return `worker started${pid(result)}`;
  }
  if (result.stopped === true) {
    return `worker stopped${pid(result)}${result.graceful === false ? " (it had to be killed)" : ""}`;
  }
  if (typeof result.message === "string" && result.message) {
    return result.message;
  }
  if (typeof result.state === "string") {
    return `worker ${result.state}${pid(result)}`;
  }
  return "worker: done";
}

/** cq.index / cq.queue.add → "4 queued, 2 unchanged, 1 skipped". */
export function describeEnqueue(result: unknown): string {
  if (!isRecord(result)) {
    return "nothing queued";
  }
  const n = (k: string): number => (typeof result[k] === "number" ? result[k] : 0);
  const refused = Array.isArray(result.refused) ? result.refused.length : 0;
  const parts = [`${n("queued")} queued`, `${n("unchanged")} unchanged`];
  if (n("removed")) {
    parts.push(`${n("removed")} removed`);
  }
  if (refused || n("skipped")) {
    parts.push(`${Math.max(refused, n("skipped"))} skipped`);
  }
  return parts.join(", ");
}

export interface HooksSummary {
  text: string;
  /** Steps the user must take by hand (another hook manager owns the hooks), if any. */
  instructions?: string;
  notes: string[];
}

/** cq.hooks.install|uninstall → "post-commit written, post-merge unchanged (lefthook)". */
export function describeHooks(result: unknown, verb: "installed" | "uninstalled"): HooksSummary {
  if (!isRecord(result)) {
    return { text: `git hooks ${verb}`, notes: [] };
  }
  const hooks = Array.isArray(result.hooks) ? result.hooks : [];
  const items = hooks.map((h) => {
    if (!isRecord(h)) {
      return String(h);
    }
    const name = typeof h.name === "string" ? h.name : "hook";
    const action = typeof h.action === "string" ? h.action : typeof h.state === "string" ? h.state : "";
    // "post-commit installed" after "git hooks installed:" says nothing new.
    return action && action !== verb ? `${name} ${action}` : name;
  });
  const manager = typeof result.manager === "string" && result.manager && result.manager !== "git" ? ` (${result.manager})` : "";
  const text = `git hooks ${verb}${manager}${items.length ? `: ${items.join(", ")}` : ""}`;
  const notes = Array.isArray(result.notes) ? result.notes.filter((x): x is string => typeof x === "string") : [];
  const instructions = typeof result.instructions === "string" && result.instructions ? result.instructions : undefined;
  return { text, instructions, notes };
}
