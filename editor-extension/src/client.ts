// The language client proper. Bundled apart (dist/client.js) and loaded only when a server is
// about to start: vscode-languageclient takes ~60 ms to load, which activation must not pay.

import { type ChildProcess, spawn } from "node:child_process";

import * as vscode from "vscode";
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  ResponseError,
  RevealOutputChannelOn,
  State,
  type ServerOptions,
} from "vscode-languageclient/node";

import { describeConnectionError, describeStartFailure } from "./connectionErrors";
import { CLIENT_ID, CLIENT_NAME, CONFIG_SECTION, STATUS_NOTIFICATION } from "./constants";
import type { ServerSettings } from "./settings";

export interface ClientHooks {
  log: vscode.LogOutputChannel;
  /** The settings object of the contract, read fresh each time. */
  settings(): ServerSettings;
  onStatus(payload: unknown): void;
  /** The server process went away without being asked to. */
  onClosed(): void;
  onError(message: string): void;
}

export interface ClientHandle {
  start(): Promise<void>;
  /** Stops the server (shutdown, exit) and releases the client's command registrations. */
  dispose(): Promise<void>;
  readonly running: boolean;
  execute(command: string, argument: Record<string, unknown>): Promise<unknown>;
  sendSettings(): Promise<void>;
  serverInfo(): string | undefined;
}

/**
 * vscode-languageclient, with three behaviours of its own replaced: the extension shows one
 * pop-up of its own for start failures; stopping a client that is not running is a no-op; and
 * the server process, which the extension spawns, is ended whatever state the client is in.
 */
class QuietLanguageClient extends LanguageClient {
  onError?: (message: string) => void;
  /** The server process of the current start (see serverOptions in createClient). */
  process: ChildProcess | undefined;
  log?: vscode.LogOutputChannel;

  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, data, false);
    this.onError?.(message);
  }

  /**
   * Shuts the server down (shutdown, exit) when it runs. The library throws "Client is not
   * running and can't be stopped" otherwise — from a promise it does not await when
   * `initialize` fails, so VS Code counts an uncaught error — although a client that is
   * starting, failed to start or stopped has no session to shut down: all that is left to do
   * is to make sure its process is gone.
   */
  override async stop(timeout?: number): Promise<void> {
    if (this.state === State.Running) {
      try {
        await super.stop(timeout);
      } finally {
        // After `exit` the server ends by itself; give it the moment vscode-languageclient gives.
        await this.endProcess(2000);
      }
      return;
    }
    this.log?.debug(`Stop: the client is ${State[this.state]}, no session to shut down`);
    // No session, so no `exit` to send: a server still starting would run on, its stdin open.
    // One whose start failed because it died is gone within the grace and is left alone.
    await this.endProcess(500);
  }

  /** Ends the server process if it is still there after `graceMs` (a hung or half-started server). */
  private async endProcess(graceMs: number): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (await Promise.race([exited.then(() => true), delay(graceMs).then(() => false)])) {
      return;
    }
    if (child.kill("SIGTERM")) {
      const why = this.state === State.Starting ? "it was still starting" : `it did not exit within ${graceMs / 1000} s of its session's end`;
      this.log?.info(`Ended the server process (pid ${String(child.pid)}): ${why}`);
    }
    await Promise.race([exited, delay(2000)]);
  }
}

const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export function createClient(command: string, args: string[], cwd: string, hooks: ClientHooks): ClientHandle {
  const initializationOptions = hooks.settings();
  // What the server starts with, trust included: the log answers "why did my command not run".
  hooks.log.info(`initializationOptions: ${JSON.stringify(initializationOptions)}`);
  // The server process is spawned here rather than by the client so its pipes get error
  // listeners: a server that dies while the client writes (a crash, a kill, a restart) makes
  // stdin emit EPIPE, which without a listener is an uncaught error of the extension host.
  const serverOptions: ServerOptions = () => {
    const child = spawn(command, args, { cwd, env: { ...process.env, PYTHONUTF8: "1" }, stdio: "pipe" });
    // `client` is assigned by then: the client calls serverOptions when it starts.
    client.process = child;
    for (const [name, stream] of [["stdin", child.stdin], ["stdout", child.stdout], ["stderr", child.stderr]] as const) {
      stream.on("error", (e: Error) => hooks.log.debug(`server ${name}: ${e.message}`));
    }
    child.on("error", (e: Error) => hooks.log.error(`The server could not be started: ${e.message}`));
    return Promise.resolve(child);
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }],
    outputChannel: hooks.log,
    traceOutputChannel: hooks.log,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions,
    errorHandler: {
      // Continue, not Shutdown: a message that cannot be written or read almost always means
      // the server has exited, and its closed connection (closed() below) hands that to the
      // extension's restart; shutting down a server that is gone has nothing to talk to.
      error: (error): ErrorHandlerResult => ({ action: ErrorAction.Continue, message: describeConnectionError(error), handled: true }),
      // Never the client's own immediate restart: the extension restarts with a backoff.
      closed: (): CloseHandlerResult => {
        hooks.onClosed();
        return { action: CloseAction.DoNotRestart, message: "The connection to the server closed: the server process ended.", handled: true };
      },
    },
    // No retry: start() then fails, and ServerManager logs why (describeStartFailure).
    initializationFailedHandler: () => false,
    middleware: {
      workspace: {
        // The server asks for section "cq"; answer with exactly the contract's object (the raw
        // section also holds interpreter and trace, which are the client's business).
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (result instanceof ResponseError || !Array.isArray(result)) {
            return result;
          }
          return params.items.map((item, i): unknown => (item.section === CONFIG_SECTION ? hooks.settings() : result[i]));
        },
      },
    },
  };
  const client = new QuietLanguageClient(CLIENT_ID, `${CLIENT_NAME} Language Server`, serverOptions, clientOptions);
  client.log = hooks.log;
  client.onError = (message) => {
    hooks.onError(message);
  };
  // Registered before start(), so the first status after `initialized` is not missed.
  client.onNotification(STATUS_NOTIFICATION, (payload: unknown) => {
    hooks.onStatus(payload);
  });
  client.onDidChangeState((e) => {
    hooks.log.debug(`Client state ${State[e.oldState]} -> ${State[e.newState]}`);
  });

  return {
    start: async () => {
      try {
        await client.start();
      } catch (e) {
        throw new Error(describeStartFailure(e));
      }
    },
    dispose: async () => {
      try {
        // Also stops the server (stop() above: a no-op for a session that is not running).
        await client.dispose(5000);
      } catch (e) {
        // The session was running but shutdown failed (timed out, or the server died meanwhile);
        // stop() has ended the process either way.
        hooks.log.warn(`Stopping the server: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    get running() {
      return client.state === State.Running;
    },
    execute: async (cmd, argument) => {
      try {
        return (await client.sendRequest(ExecuteCommandRequest.type, { command: cmd, arguments: [argument] })) as unknown;
      } catch (e) {
        throw e instanceof Error ? new Error(e.message) : new Error(String(e));
      }
    },
    sendSettings: () =>
      client.sendNotification("workspace/didChangeConfiguration", { settings: { [CONFIG_SECTION]: hooks.settings() } }),
    serverInfo: () => {
      const info = client.initializeResult?.serverInfo;
      return info ? `${info.name} ${info.version ?? ""}`.trim() : undefined;
    },
  };
}
