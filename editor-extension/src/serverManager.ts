// Owns the one language server process of this window: finds the interpreter, checks that
// `cq_lsp` imports there, starts the client, restarts it (serialised, coalesced, backed off after
// crashes) and tells listeners what state it is in.

import * as os from "node:os";
import * as path from "node:path";

import * as vscode from "vscode";

import type { ClientHandle } from "./client";
import { CLIENT_NAME, CMD, CONFIG_SECTION } from "./constants";
import {
  chooseInterpreter,
  describeInterpreter,
  displayCommand,
  type InterpreterChoice,
  InterpreterSettingError,
  probeInterpreter,
  type ProbeResult,
  sameInterpreter,
  serverCommand,
} from "./interpreter";
import { pythonExtensionInterpreter } from "./pythonExtension";
import { CrashBackoff, SerialRestarter } from "./restart";
import { serverSettings, type ServerSettings } from "./settings";
import type { ClientPhase } from "./status";

/** dist/client.js, loaded on the first server start (see client.ts for why). */
function loadClientModule(): typeof import("./client") {
  // A computed path keeps esbuild from bundling it into extension.js.
  const file = path.join(__dirname, "client.js");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as typeof import("./client");
}

/** Raised by execute() when no server runs; its message says why and what to do. */
export class ServerNotRunning extends Error {}

export interface LaunchProblem {
  message: string;
  /** The pip command that fixes it, for an "Install" button. */
  installCommand?: { executable: string; args: string[]; display: string };
}

export class ServerManager implements vscode.Disposable {
  private client: ClientHandle | undefined;
  private readonly restarter: SerialRestarter;
  private readonly backoff = new CrashBackoff();
  private crashTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly crashed = new WeakSet<ClientHandle>();
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly statusEmitter = new vscode.EventEmitter<unknown>();
  private readonly disposables: { dispose(): unknown }[] = [];
  private disposed = false;
  private stopping = false;
  private lastShownProblem: string | undefined;
  /**
   * The workspace trust the running server was started with. A server keeps it for its life:
   * granting trust restarts it (the workspace's cq.interpreter may apply now), and VS Code's
   * configuration event at the same moment must not make the old server restart its worker
   * with the new trust first (the server pulls `cq` settings on any configuration change).
   */
  private serverTrusted: boolean | undefined;

  phase: ClientPhase = "starting";
  problem: LaunchProblem | undefined;
  lastError: string | undefined;
  interpreter: InterpreterChoice | undefined;
  interpreterLabel: string | undefined;

  /** Fires on any change of phase, problem or last error. */
  readonly onDidChange = this.changed.event;
  /** Fires with each raw `cq/status` payload. */
  readonly onStatus = this.statusEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.restarter = new SerialRestarter((reason) => this.restartNow(reason), 250, (e) =>
      this.log.error(`Restart failed: ${String(e)}`),
    );
    this.disposables.push(this.changed, this.statusEmitter);
  }

  /** Starts the server, or restarts it; requests arriving together give one restart. */
  restart(reason: string, options: { byUser?: boolean } = {}): Promise<void> {
    if (options.byUser) {
      this.backoff.reset();
      this.lastShownProblem = undefined;
    }
    if (this.crashTimer !== undefined) {
      clearTimeout(this.crashTimer);
      this.crashTimer = undefined;
    }
    return this.restarter.request(reason);
  }

  /** Restarts only when the interpreter resolves differently now (or the server is not running). */
  async restartIfInterpreterChanged(reason: string): Promise<void> {
    try {
      const next = await this.resolveInterpreter();
      if (this.phase === "running" && sameInterpreter(this.interpreter, next)) {
        this.log.debug(`${reason}: same interpreter, no restart`);
        return;
      }
    } catch {
      // An unusable setting: the restart reports it.
    }
    await this.restart(reason, { byUser: true });
  }

  /** The settings object the server receives (initializationOptions, didChangeConfiguration). */
  settings(): ServerSettings {
    return serverSettings(vscode.workspace.getConfiguration(CONFIG_SECTION), this.serverTrusted ?? vscode.workspace.isTrusted);
  }

  /** Sends changed live settings to the running server. */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (client?.running) {
      await client.sendSettings();
      this.log.info(`Sent settings to the server: ${JSON.stringify(this.settings())}`);
    }
  }

  /** Runs a server command (workspace/executeCommand) with one object argument. */
  async execute<T>(command: string, argument: Record<string, unknown> = {}): Promise<T> {
    const client = this.client;
    if (!client || this.phase !== "running" || !client.running) {
      throw new ServerNotRunning(this.notRunningMessage());
    }
    this.log.debug(`${command} ${JSON.stringify(argument)}`);
    try {
      return (await client.execute(command, argument)) as T;
    } catch (e) {
      this.log.error(`${command} failed: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
  }

  notRunningMessage(): string {
    if (this.problem) {
      return this.problem.message;
    }
    if (this.phase === "starting" || this.phase === "restarting") {
      return "The CQ language server is still starting; try again in a moment.";
    }
    return "The CQ language server is not running (CQ: Restart Server starts it; CQ: Show Logs tells why it stopped).";
  }

  private setPhase(phase: ClientPhase): void {
    if (this.phase !== phase) {
      this.phase = phase;
      this.changed.fire();
    }
  }

  setLastError(message: string | undefined): void {
    this.lastError = message;
    this.changed.fire();
  }

  private async resolveInterpreter(): Promise<InterpreterChoice> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const first = folders[0];
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION, first?.uri);
    const setting = config.get<unknown>("interpreter");
    const hasSetting = Array.isArray(setting) && setting.some((x) => typeof x !== "string" || x.trim() !== "");
    const fromPython = hasSetting ? undefined : await pythonExtensionInterpreter(first?.uri, this.log);
    const namedFolders: Record<string, string> = {};
    for (const f of folders) {
      namedFolders[f.name] = f.uri.fsPath;
    }
    return chooseInterpreter(setting, fromPython, {
      workspaceFolder: first?.uri.fsPath,
      namedFolders,
      home: os.homedir(),
      env: process.env,
    });
  }

  private async restartNow(reason: string): Promise<void> {
    await this.stopClient();
    if (this.disposed) {
      return;
    }
    this.problem = undefined;
    this.setPhase(reason.includes("crash") ? "restarting" : "starting");
    this.log.info(`Starting the language server (${reason})`);

    let choice: InterpreterChoice;
    try {
      choice = await this.resolveInterpreter();
    } catch (e) {
      const message = e instanceof InterpreterSettingError ? e.message : `Cannot choose a Python interpreter: ${String(e)}`;
      this.launchFailed({ message });
      return;
    }
    this.interpreter = choice;
    this.interpreterLabel = describeInterpreter(choice);
    const started = Date.now();
    const probe: ProbeResult = await probeInterpreter(choice, { cwd: this.context.extensionPath });
    if (this.isDisposed()) {
      return;
    }
    if (!probe.ok) {
      this.log.error(`Interpreter check failed for ${displayCommand(choice)} (${choice.source}): ${probe.message}`);
      if (probe.detail) {
        this.log.error(probe.detail);
      }
      const exe = probe.installCommand ? choice.command : undefined;
      this.launchFailed({
        message: probe.message,
        installCommand:
          exe && probe.installCommand
            ? {
                executable: exe,
                args: [...choice.args, "-m", "pip", "install", "cq-lsp", ...(probe.failure === "brokenCqLsp" ? ["--force-reinstall"] : [])],
                display: probe.installCommand,
              }
            : undefined,
      });
      return;
    }
    this.interpreterLabel = describeInterpreter(choice, probe);
    this.log.info(`Interpreter: ${this.interpreterLabel} (checked in ${Date.now() - started} ms)`);
    await this.startClient(choice);
  }

  private launchFailed(problem: LaunchProblem): void {
    this.problem = problem;
    this.lastError = problem.message;
    this.setPhase("launchError");
    this.changed.fire();
    // One message per distinct problem: a setting change that keeps the same problem, or a
    // restart, does not pop it up again. The status bar keeps showing it.
    if (this.lastShownProblem !== problem.message) {
      this.lastShownProblem = problem.message;
      void this.showProblem(problem);
    }
  }

  async showProblem(problem: LaunchProblem | undefined = this.problem): Promise<void> {
    if (!problem) {
      return;
    }
    const install = problem.installCommand ? "Install cq-lsp" : undefined;
    const actions = [install, "Select Interpreter", "Show Logs"].filter((x): x is string => x !== undefined);
    const picked = await vscode.window.showErrorMessage(`CQ: ${problem.message}`, ...actions);
    if (picked === "Show Logs") {
      this.log.show(true);
    } else if (picked === "Select Interpreter") {
      await vscode.commands.executeCommand(CMD.selectInterpreter);
    } else if (picked !== undefined && picked === install && problem.installCommand) {
      await this.install(problem.installCommand);
    }
  }

  /** Runs the pip install as a visible task (argument list, no shell); restarts when it succeeds. */
  private async install(cmd: NonNullable<LaunchProblem["installCommand"]>): Promise<void> {
    const task = new vscode.Task(
      { type: "process", cq: "install" },
      vscode.workspace.workspaceFolders?.[0] ?? vscode.TaskScope.Global,
      "install cq-lsp",
      CLIENT_NAME,
      new vscode.ProcessExecution(cmd.executable, cmd.args),
    );
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    this.log.info(`Running: ${cmd.display}`);
    const execution = await vscode.tasks.executeTask(task);
    const done = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution !== execution) {
        return;
      }
      done.dispose();
      if (e.exitCode === 0) {
        void this.restart("cq-lsp installed", { byUser: true });
      } else {
        void vscode.window.showErrorMessage(
          `CQ: \`${cmd.display}\` failed (exit code ${String(e.exitCode)}); the terminal shows why. A virtual environment avoids system-Python restrictions: python3 -m venv ~/.venvs/cq && ~/.venvs/cq/bin/pip install cq-lsp, then set cq.interpreter to ["~/.venvs/cq/bin/python"].`,
        );
      }
    });
    this.disposables.push(done);
  }

  private async startClient(choice: InterpreterChoice): Promise<void> {
    const { command, args } = serverCommand(choice);
    // The working directory is never the workspace: `python -m` puts it first on sys.path, and
    // nothing of the documented repository may be imported.
    const cwd = this.context.extensionPath;
    this.log.info(`Server command: ${[command, ...args].join(" ")} (cwd ${cwd})`);
    const { createClient } = loadClientModule();
    this.serverTrusted = vscode.workspace.isTrusted;
    const client: ClientHandle = createClient(command, args, cwd, {
      log: this.log,
      settings: () => this.settings(),
      onStatus: (payload) => {
        if (this.client === client) {
          this.statusEmitter.fire(payload);
        }
      },
      onClosed: () => {
        this.onServerClosed(client);
      },
      onError: (message) => {
        if (this.client === client) {
          this.lastError = message;
        }
      },
    });
    this.client = client;
    try {
      await client.start();
      if (!client.running) {
        // start() rejects when `initialize` fails (libraryFixes.mjs makes it do so when the
        // connection closes meanwhile, too); a server gone between its answer and here is the
        // same failure.
        throw new Error("the server exited right after it answered `initialize`");
      }
      // Whatever kept the server from running is solved now.
      this.lastError = undefined;
      this.setPhase("running");
      this.changed.fire();
      this.log.info(`Server running: ${client.serverInfo() ?? "no serverInfo"}`);
    } catch (e) {
      // A server that dies before answering `initialize` also reaches onServerClosed, which
      // schedules the backed-off restart; only a failure without a close lands here alone.
      this.log.error(`The server did not start: ${e instanceof Error ? e.message : String(e)}`);
      this.onServerClosed(client);
    }
  }

  private onServerClosed(client: ClientHandle): void {
    if (this.stopping || this.disposed || this.client !== client) {
      return;
    }
    if (this.crashed.has(client)) {
      return; // one crash, reported twice (the start failure and the closed connection)
    }
    this.crashed.add(client);
    const decision = this.backoff.onCrash(Date.now());
    if (decision.restart) {
      this.log.warn(`The language server stopped unexpectedly; restarting in ${decision.delayMs / 1000} s`);
      this.lastError = "The language server stopped unexpectedly (CQ: Show Logs has its output)";
      this.setPhase("restarting");
      this.changed.fire();
      this.crashTimer = setTimeout(() => {
        this.crashTimer = undefined;
        void this.restarter.request("crash restart");
      }, decision.delayMs);
      return;
    }
    const message = `The language server stopped ${decision.crashes} times in 3 minutes, so it is not restarted again. Its log (CQ: Show Logs) tells why.`;
    this.problem = { message };
    this.lastError = message;
    this.log.error(message);
    this.setPhase("failed");
    this.changed.fire();
    void vscode.window.showErrorMessage(`CQ: ${message}`, "Show Logs", "Restart Server").then((picked) => {
      if (picked === "Show Logs") {
        this.log.show(true);
      } else if (picked === "Restart Server") {
        void this.restart("restart requested", { byUser: true });
      }
    });
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    if (!client) {
      return;
    }
    this.stopping = true;
    try {
      await client.dispose();
    } finally {
      if (this.client === client) {
        this.client = undefined;
      }
      this.stopping = false;
    }
    if (!this.isDisposed()) {
      this.setPhase("restarting");
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.restarter.dispose();
    if (this.crashTimer !== undefined) {
      clearTimeout(this.crashTimer);
    }
    await this.stopClient();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  /** Re-read after an await: dispose() may have run meanwhile. */
  private isDisposed(): boolean {
    return this.disposed;
  }
}
