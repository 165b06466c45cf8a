// What the status bar item says, as pure functions of the server's `cq/status` object and the
// language client's own state. No `vscode` import: the unit tests run these under plain node.

import * as path from "node:path";

export type Health = "ok" | "warning" | "error";

export interface WorkerStatus {
  state: string;
  pid?: number | null;
  lastPid?: number | null;
  uptimeS?: number | null;
  restarts?: number | null;
  rssBytes?: number | null;
  error?: string | null;
}

export interface QueueStatus {
  queued: number;
  running: number;
  failed: number;
  done: number;
  skipped?: number;
  oldestQueuedS?: number | null;
  /** Queued jobs not due yet (a hook's delay for an LLM documenter). */
  delayed?: number;
  nextDueS?: number | null;
}

/** The `cq/status` notification (docs/architecture.md "Language server"); unknown fields are kept. */
export interface CqStatus {
  root: string;
  health: Health;
  message: string;
  worker: WorkerStatus;
  queue: QueueStatus;
  index: { files: number; path?: string; stale?: number };
  initialized?: boolean;
  configError?: string | null;
  mode?: string;
  documenter?: { kind?: string; calls?: number; failures?: number };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function optNum(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/**
 * Reads a `cq/status` payload defensively: a server of another version may add or drop fields,
 * and the status bar must never throw. Returns undefined when it has no usable `root`.
 */
export function parseStatus(raw: unknown): CqStatus | undefined {
  if (!isRecord(raw) || typeof raw.root !== "string" || raw.root === "") {
    return undefined;
  }
  const health: Health =
    raw.health === "error" || raw.health === "warning" || raw.health === "ok" ? raw.health : "ok";
  const w = isRecord(raw.worker) ? raw.worker : {};
  const q = isRecord(raw.queue) ? raw.queue : {};
  const ix = isRecord(raw.index) ? raw.index : {};
  const doc = isRecord(raw.documenter) ? raw.documenter : undefined;
  return {
    root: raw.root,
    health,
    message: str(raw.message) ?? "",
    worker: {
      state: str(w.state) ?? "stopped",
      pid: optNum(w.pid),
      lastPid: optNum(w.lastPid),
      uptimeS: optNum(w.uptimeS),
      restarts: optNum(w.restarts),
      rssBytes: optNum(w.rssBytes),
      error: str(w.error) ?? null,
    },
    queue: {
      queued: num(q.queued),
      running: num(q.running),
      failed: num(q.failed),
      done: num(q.done),
      skipped: num(q.skipped),
      oldestQueuedS: optNum(q.oldestQueuedS),
      delayed: num(q.delayed),
      nextDueS: optNum(q.nextDueS),
    },
    index: { files: num(ix.files), path: str(ix.path), stale: num(ix.stale) },
    initialized: typeof raw.initialized === "boolean" ? raw.initialized : undefined,
    configError: str(raw.configError) ?? null,
    mode: str(raw.mode),
    documenter: doc
      ? { kind: str(doc.kind), calls: optNum(doc.calls) ?? 0, failures: optNum(doc.failures) ?? 0 }
      : undefined,
  };
}

/** The folder is not inside a git work tree: there is nothing CQ could index (or initialize). */
export function isNotGit(status: CqStatus): boolean {
  return status.initialized === false && /not a git work tree/i.test(status.message);
}

/** The language client's side of the picture. */
export type ClientPhase =
  | "starting" // interpreter check or LSP handshake in progress
  | "running"
  | "restarting" // stopped on purpose, a new server is on its way
  | "failed" // the server crashed and we gave up restarting it
  | "launchError"; // no usable interpreter: nothing was started

export interface ViewInput {
  phase: ClientPhase;
  /** The status object of the folder the active editor is in, when the server sent one. */
  status?: CqStatus;
  /** Why the server is not running (launchError / failed). */
  problem?: string;
  /** The most recent error the user has not seen resolved (a failed command, a crash…). */
  lastError?: string;
  folderName?: string;
  /** How the server was launched, for the tooltip (e.g. "/repo/.venv/bin/python (cq.interpreter)"). */
  interpreter?: string;
  /** No workspace folder is open. */
  noFolder?: boolean;
  /** VS Code's Restricted Mode: the workspace is not trusted. */
  restricted?: boolean;
}

export interface View {
  text: string;
  /** Markdown. */
  tooltip: string;
  background?: "error" | "warning";
  /** Read by screen readers (and the end-to-end test): the state in words. */
  accessibilityLabel: string;
}

const SPIN = "$(sync~spin)";
const LOADING = "$(loading~spin)";

/** The status bar item for one moment. Its text always starts with "CQ". */
export function statusView(input: ViewInput): View {
  const { phase, status } = input;
  const where = input.folderName ? ` — ${input.folderName}` : "";
  const details = tooltipMarkdown(input);

  if (phase === "launchError" || phase === "failed") {
    const why = input.problem ?? (phase === "failed" ? "the language server stopped" : "");
    return {
      text: "CQ error",
      tooltip: details,
      background: "error",
      accessibilityLabel: `CQ${where}: error: ${why}`,
    };
  }
  if (input.noFolder) {
    return {
      text: "CQ $(circle-slash)",
      tooltip: details,
      accessibilityLabel: "CQ: no folder open",
    };
  }
  if (status === undefined || phase !== "running") {
    const label = phase === "running" ? "waiting for status" : phase;
    return { text: `CQ ${LOADING}`, tooltip: details, accessibilityLabel: `CQ${where}: ${label}` };
  }

  const q = status.queue;
  const w = status.worker.state;
  const label = `CQ${where}: ${status.message || w}`;
  const todo = q.queued + q.running;
  const workerUp = w === "running" || w === "starting";

  if (status.health === "error" || status.configError) {
    return { text: "CQ error", tooltip: details, background: "error", accessibilityLabel: label };
  }
  if (isNotGit(status)) {
    return { text: "CQ $(circle-slash) not a git repository", tooltip: details, accessibilityLabel: label };
  }
  if (status.initialized === false) {
    // The contract marks this a warning; we show it without a coloured background: a git
    // repository nobody asked us to index is a choice, not a problem worth shouting about.
    return {
      text: "CQ $(circle-slash) not initialized",
      tooltip: details,
      accessibilityLabel: label,
    };
  }
  const background = status.health === "warning" ? "warning" : undefined;
  let text: string;
  if (todo > 0 && (workerUp || q.running > 0)) {
    text = `CQ ${SPIN} ${todo} queued`;
  } else if (todo > 0) {
    text = `CQ ${todo} queued`;
  } else if (q.failed > 0) {
    text = `CQ $(warning) ${q.failed} failed`;
  } else if (w === "stopping") {
    text = `CQ ${SPIN} stopping`;
  } else if (w === "stopped") {
    text = "CQ stopped";
  } else if (status.health === "warning") {
    text = "CQ $(warning)";
  } else {
    text = "CQ $(check)";
  }
  return { text, tooltip: details, background, accessibilityLabel: label };
}

/** Escapes text for a MarkdownString (paths and messages come from the file system and server). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "—";
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) {
    return "—";
  }
  const mib = bytes / (1024 * 1024);
  if (mib >= 1024) {
    return `${(mib / 1024).toFixed(1)} GiB`;
  }
  if (mib >= 10) {
    return `${Math.round(mib)} MiB`;
  }
  if (mib >= 1) {
    return `${mib.toFixed(1)} MiB`;
  }
  return `${Math.round(bytes / 1024)} KiB`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function workerLine(w: WorkerStatus, mode: string | undefined): string {
  const parts = [escapeMarkdown(w.state)];
  if (w.pid) {
    parts.push(`pid ${w.pid}`);
  } else if (w.lastPid && w.state === "crashed") {
    parts.push(`last pid ${w.lastPid}`);
  }
  if (w.uptimeS !== null && w.uptimeS !== undefined && w.state !== "stopped") {
    parts.push(`up ${formatDuration(w.uptimeS)}`);
  }
  if (w.rssBytes) {
    parts.push(formatBytes(w.rssBytes));
  }
  if (w.restarts) {
    parts.push(plural(w.restarts, "restart"));
  }
  if (w.state === "stopped" && mode === "auto") {
    parts.push("starts when work arrives");
  }
  return parts.join(" · ");
}

/** The tooltip: folder, state in words, counts, worker, last error, and what a click does. */
export function tooltipMarkdown(input: ViewInput): string {
  const lines: string[] = [];
  const s = input.status;
  const title = input.folderName ? `**CQ** — ${escapeMarkdown(input.folderName)}` : "**CQ**";
  lines.push(title, "");

  if (input.phase === "launchError" || input.phase === "failed") {
    lines.push(`$(error) ${escapeMarkdown(input.problem ?? "The language server is not running.")}`);
    lines.push("");
  } else if (input.noFolder) {
    lines.push("Open a folder inside a git repository to index it.", "");
  } else if (!s || input.phase !== "running") {
    lines.push(
      input.phase === "running" ? "Waiting for the first status…" : `Language server ${input.phase}…`,
      "",
    );
  }

  if (s && input.phase === "running") {
    if (s.message) {
      lines.push(escapeMarkdown(s.message), "");
    }
    if (isNotGit(s)) {
      lines.push("CQ indexes git work trees: open a folder inside a git repository (or run `git init` here).", "");
    } else if (s.initialized === false) {
      lines.push("This folder has no `.code-query/` yet: run **CQ: Initialize** to index it.", "");
    }
    const q = s.queue;
    const counts = [
      `${q.queued} queued`,
      `${q.running} running`,
      `${q.failed} failed`,
      `${q.done} done`,
    ];
    if (q.skipped) {
      counts.push(`${q.skipped} skipped`);
    }
    lines.push("| | |", "|---|---|");
    lines.push(`| Queue | ${counts.join(" · ")} |`);
    if (q.queued > 0 && q.oldestQueuedS !== null && q.oldestQueuedS !== undefined) {
      lines.push(`| Oldest queued | ${formatDuration(q.oldestQueuedS)} |`);
    }
    if (q.delayed) {
      const due = q.nextDueS !== null && q.nextDueS !== undefined ? ` (next due in ${formatDuration(q.nextDueS)})` : "";
      lines.push(`| Delayed | ${plural(q.delayed, "job")}${due} |`);
    }
    lines.push(`| Worker | ${workerLine(s.worker, s.mode)} |`);
    const stale = s.index.stale ? ` · ${s.index.stale} changed since indexed` : "";
    lines.push(`| Index | ${plural(s.index.files, "file")}${stale} |`);
    const how = [s.mode ? `${escapeMarkdown(s.mode)} mode` : undefined, s.documenter?.kind ? `${escapeMarkdown(s.documenter.kind)} documenter` : undefined].filter(
      (x): x is string => x !== undefined,
    );
    if (how.length) {
      lines.push(`| Processing | ${how.join(" · ")} |`);
    }
    lines.push(`| Root | ${escapeMarkdown(s.root)} |`);
    if (input.interpreter) {
      lines.push(`| Server | ${escapeMarkdown(input.interpreter)} |`);
    }
    lines.push("");
    if (s.configError) {
      lines.push(`$(error) **Configuration:** ${escapeMarkdown(s.configError)}`, "");
    }
    if (s.worker.error) {
      lines.push(`$(error) **Worker:** ${escapeMarkdown(s.worker.error)}`, "");
    }
    if (input.restricted && s.documenter?.kind === "command") {
      // The server's own message says `cq-lsp config trust`; in VS Code, trust is one click away.
      lines.push(
        "$(shield) **Restricted Mode:** the program this repository's config names (`processor.command`) runs only in a trusted workspace (or after `cq-lsp config trust`). Click, then **Manage Workspace Trust**.",
        "",
      );
    }
  } else if (input.interpreter) {
    lines.push(`Server: ${escapeMarkdown(input.interpreter)}`, "");
  }

  if (input.lastError && input.lastError !== input.problem) {
    lines.push(`**Last error:** ${escapeMarkdown(input.lastError)}`, "");
  }
  lines.push("_Click for actions_");
  return lines.join("\n");
}

/** True when `child` is `parent` or lies inside it (both absolute, already resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Which folder's status the item shows: the status whose root holds the active file (the
 * deepest, for nested repositories), else the one of the active file's workspace folder (none
 * yet: undefined), else — no active file, or one outside every folder — the first workspace
 * folder's, else any.
 */
export function pickStatus(
  statuses: readonly CqStatus[],
  activePath: string | undefined,
  folders: readonly string[],
): CqStatus | undefined {
  const deepest = (p: string): CqStatus | undefined => {
    let best: CqStatus | undefined;
    for (const s of statuses) {
      if (isInside(s.root, p) && (!best || s.root.length > best.root.length)) {
        best = s;
      }
    }
    return best;
  };
  const forFolder = (folder: string): CqStatus | undefined =>
    deepest(folder) ?? statuses.find((s) => isInside(folder, s.root));

  if (activePath) {
    const byFile = deepest(activePath);
    if (byFile) {
      return byFile;
    }
    const folder = folders.find((f) => isInside(f, activePath));
    if (folder) {
      // That folder's status has not arrived yet: say so rather than show another folder's.
      return forFolder(folder);
    }
  }
  for (const folder of folders) {
    const s = forFolder(folder);
    if (s) {
      return s;
    }
  }
  return statuses[0];
}
