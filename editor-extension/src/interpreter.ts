// Which Python runs the language server, and whether `cq_lsp` imports there. Pure logic plus one
// child process; no `vscode` import, so the unit tests run it against real interpreters.

import { spawn } from "node:child_process";
import * as path from "node:path";

import { PIP_PACKAGE } from "./constants";

export type InterpreterSource = "cq.interpreter" | "Python extension" | "default";

export interface InterpreterChoice {
  /** The executable, variables expanded. */
  command: string;
  /** Arguments placed before `-m cq_lsp --stdio`. */
  args: string[];
  source: InterpreterSource;
}

export interface ExpandContext {
  /** The workspace folder `${workspaceFolder}` stands for (the first folder in multi-root). */
  workspaceFolder?: string;
  /** Named folders for `${workspaceFolder:name}`. */
  namedFolders?: Readonly<Record<string, string>>;
  home: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** Raised for a `cq.interpreter` value that cannot be used as it is. */
export class InterpreterSettingError extends Error {}

/**
 * Expands `${workspaceFolder}`, `${workspaceFolder:name}`, `${userHome}`, `${env:NAME}` and a
 * leading `~`. A variable that cannot be resolved is an error that names it: spawning a path
 * with a literal `${workspaceFolder}` in it only ever gives a baffling ENOENT.
 */
export function expandVariables(value: string, ctx: ExpandContext): string {
  let out = value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
    if (name === "workspaceFolder") {
      if (!ctx.workspaceFolder) {
        throw new InterpreterSettingError(
          `cq.interpreter uses ${whole} but no folder is open; use an absolute path`,
        );
      }
      return ctx.workspaceFolder;
    }
    if (name.startsWith("workspaceFolder:")) {
      const folder = ctx.namedFolders?.[name.slice("workspaceFolder:".length)];
      if (folder === undefined) {
        throw new InterpreterSettingError(
          `cq.interpreter uses ${whole} but no open workspace folder has that name`,
        );
      }
      return folder;
    }
    if (name === "userHome") {
      return ctx.home;
    }
    if (name.startsWith("env:")) {
      return ctx.env[name.slice(4)] ?? "";
    }
    throw new InterpreterSettingError(
      `cq.interpreter uses ${whole}, which is not supported (use \${workspaceFolder}, \${userHome}, \${env:NAME} or ~)`,
    );
  });
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = ctx.home + out.slice(1);
  }
  return out;
}

/**
 * The interpreter, in order: the `cq.interpreter` setting, the Python extension's selected
 * interpreter, `python3` on PATH.
 */
export function chooseInterpreter(
  setting: unknown,
  pythonExtensionPath: string | undefined,
  ctx: ExpandContext,
  fallback = "python3",
): InterpreterChoice {
  if (setting !== undefined && setting !== null && !Array.isArray(setting)) {
    throw new InterpreterSettingError(
      `cq.interpreter must be an array of strings (executable first), e.g. ["~/venvs/cq/bin/python"], got ${JSON.stringify(setting)}`,
    );
  }
  const items = (Array.isArray(setting) ? (setting as unknown[]) : []).filter(
    (x) => !(typeof x === "string" && x.trim() === ""),
  );
  if (items.length > 0) {
    const bad = items.find((x) => typeof x !== "string");
    if (bad !== undefined) {
      throw new InterpreterSettingError(
        `cq.interpreter must hold only strings, got ${JSON.stringify(bad)}`,
      );
    }
    const [command, ...args] = (items as string[]).map((x) => expandVariables(x, ctx));
    return { command: command ?? fallback, args, source: "cq.interpreter" };
  }
  if (pythonExtensionPath) {
    return { command: pythonExtensionPath, args: [], source: "Python extension" };
  }
  return { command: fallback, args: [], source: "default" };
}

export function sameInterpreter(a: InterpreterChoice | undefined, b: InterpreterChoice): boolean {
  return (
    a !== undefined &&
    a.command === b.command &&
    a.args.length === b.args.length &&
    a.args.every((x, i) => x === b.args[i])
  );
}

/** Quotes an argument for display in a POSIX shell or PowerShell command line. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function displayCommand(choice: InterpreterChoice): string {
  return [choice.command, ...choice.args].map(shellQuote).join(" ");
}

export type ProbeFailure =
  | "notFound" // the executable does not exist or is not executable
  | "notPython" // it ran, but did not answer like a Python
  | "tooOld" // Python older than 3.10
  | "missingCqLsp" // cq_lsp does not import
  | "brokenCqLsp" // cq_lsp imports, but pygls/lsprotocol do not
  | "timeout";

export type ProbeResult =
  | {
      ok: true;
      executable: string;
      pythonVersion: string;
      cqLspVersion: string;
    }
  | {
      ok: false;
      failure: ProbeFailure;
      /** One sentence for the user: what is wrong and how to fix it. */
      message: string;
      /** A command that fixes it, when there is one (the pip install). */
      installCommand?: string;
      /** Output for the log. */
      detail: string;
    };

// Runs in the candidate interpreter. Python-2-compatible syntax, so an old interpreter still
// answers (and hears that it is too old) instead of failing with a SyntaxError.
const PROBE = [
  "import json, sys",
  "out = {'executable': sys.executable, 'version': list(sys.version_info[:3])}",
  "try:",
  "    import cq_lsp",
  "    out['cq_lsp'] = getattr(cq_lsp, '__version__', '?')",
  "    import importlib.util",
  "    out['missing'] = [m for m in ('pygls', 'lsprotocol') if importlib.util.find_spec(m) is None]",
  "except Exception as e:",
  "    out['error'] = '%s: %s' % (type(e).__name__, e)",
  "sys.stdout.write('CQ-PROBE ' + json.dumps(out) + '\\n')",
].join("\n");

export const MIN_PYTHON: readonly [number, number] = [3, 10];

export interface ProbeOptions {
  /** The probe's working directory: never the workspace, whose files must not be imported. */
  cwd: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs the interpreter once to learn whether it can start the server, and if not, why. */
export function probeInterpreter(
  choice: InterpreterChoice,
  options: ProbeOptions,
): Promise<ProbeResult> {
  const shown = displayCommand(choice);
  const install = (exe: string): string =>
    `${shellQuote(exe)} -m pip install ${PIP_PACKAGE}`;
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    let child;
    try {
      child = spawn(choice.command, [...choice.args, "-c", PROBE], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ["ignore", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (e) {
      finish({
        ok: false,
        failure: "notFound",
        message: `Cannot run the Python interpreter ${shown}: ${String(e)}. Set cq.interpreter to a Python 3.10+ that has ${PIP_PACKAGE} installed.`,
        detail: String(e),
      });
      return;
    }
    const timeoutMs = options.timeoutMs ?? 20000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({
        ok: false,
        failure: "timeout",
        message: `The Python interpreter ${shown} did not answer within ${(timeoutMs / 1000).toFixed(timeoutMs < 10000 ? 1 : 0)} s. Check it in a terminal, or set cq.interpreter to another one.`,
        detail: stderr,
      });
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "ENOENT" ? "was not found" : e.code === "EACCES" ? "is not executable" : `failed to start (${e.message})`;
      const hint =
        choice.source === "default"
          ? `Install Python 3.10+ with ${PIP_PACKAGE}, or set cq.interpreter to the Python that has it.`
          : choice.source === "cq.interpreter"
            ? "Fix the cq.interpreter setting (an array: the executable first)."
            : "Select another interpreter in the Python extension, or set cq.interpreter.";
      finish({
        ok: false,
        failure: "notFound",
        message: `The Python interpreter ${shown} (${choice.source}) ${why}. ${hint}`,
        detail: e.message,
      });
    });
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("CQ-PROBE "));
      if (!line) {
        finish({
          ok: false,
          failure: "notPython",
          message: `${shown} (${choice.source}) did not run as a Python interpreter (exit code ${String(code)}). Set cq.interpreter to a Python 3.10+ executable.`,
          detail: (stderr || stdout).trim(),
        });
        return;
      }
      let info: {
        executable?: string;
        version?: number[];
        cq_lsp?: string;
        missing?: string[];
        error?: string;
      };
      try {
        info = JSON.parse(line.slice("CQ-PROBE ".length)) as typeof info;
      } catch {
        finish({ ok: false, failure: "notPython", message: `${shown} gave an unreadable answer.`, detail: line });
        return;
      }
      const exe = info.executable || choice.command;
      const version = (info.version ?? []).join(".");
      const [major = 0, minor = 0] = info.version ?? [];
      if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
        finish({
          ok: false,
          failure: "tooOld",
          message: `${exe} is Python ${version}; CQ needs Python ${MIN_PYTHON.join(".")} or newer. Set cq.interpreter to a newer Python.`,
          detail: stderr.trim(),
        });
        return;
      }
      if (info.error !== undefined || info.cq_lsp === undefined) {
        finish({
          ok: false,
          failure: "missingCqLsp",
          message: `${PIP_PACKAGE} is not installed for ${exe} (Python ${version}). Install it with: ${install(exe)} — or pick another interpreter.`,
          installCommand: install(exe),
          detail: info.error ?? "",
        });
        return;
      }
      if (info.missing && info.missing.length > 0) {
        finish({
          ok: false,
          failure: "brokenCqLsp",
          message: `${PIP_PACKAGE} is installed for ${exe} but its dependencies ${info.missing.join(", ")} are missing. Reinstall it with: ${install(exe)} --force-reinstall`,
          installCommand: `${install(exe)} --force-reinstall`,
          detail: "",
        });
        return;
      }
      finish({ ok: true, executable: exe, pythonVersion: version, cqLspVersion: info.cq_lsp });
    });
  });
}

/** The server's command line for an interpreter that passed the probe. */
export function serverCommand(choice: InterpreterChoice): { command: string; args: string[] } {
  return { command: choice.command, args: [...choice.args, "-m", "cq_lsp", "--stdio"] };
}

/** A short description for the tooltip and the log. */
export function describeInterpreter(choice: InterpreterChoice, probe?: ProbeResult): string {
  const version = probe?.ok ? ` (Python ${probe.pythonVersion}, cq-lsp ${probe.cqLspVersion})` : "";
  const exe = probe?.ok && path.isAbsolute(probe.executable) ? probe.executable : displayCommand(choice);
  return `${exe}${version} from ${choice.source}`;
}
