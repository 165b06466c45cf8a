// The language client proper. Bundled apart (dist/client.js) and loaded only when a server is
// about to start: vscode-languageclient takes ~60 ms to load, which activation must not pay.

import { spawn } from "node:child_process";

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

/** vscode-languageclient shows its own pop-ups for start failures; the extension shows one of its own. */
class QuietLanguageClient extends LanguageClient {
  onError?: (message: string) => void;

  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, data, false);
    this.onError?.(message);
  }
}

export function createClient(command: string, args: string[], cwd: string, hooks: ClientHooks): ClientHandle {
  const initializationOptions = hooks.settings();
  // What the server starts with, trust included: the log answers "why did my command not run".
  hooks.log.info(`initializationOptions: ${JSON.stringify(initializationOptions)}`);
  // The server process is spawned here rather than by the client so its pipes get error
  // listeners: a server that dies while the client writes (a crash, a kill, a restart) makes
  // stdin emit EPIPE, which without a listener is an uncaught error of the extension host.
  const serverOptions: ServerOptions = () => {
    const child = spawn(command, args, { cwd, env: { ...process.env, PYTHONUTF8: "1" }, stdio: "pipe" });
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
      // Never Shutdown: the client would call stop() itself, which throws "Client is not
      // running and can't be stopped" (uncaught) when the server died while starting. A dead
      // server closes the connection, and closed() below hands it to the extension's restart.
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
      // Never the client's own immediate restart: the extension restarts with a backoff.
      closed: (): CloseHandlerResult => {
        hooks.onClosed();
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    initializationFailedHandler: (error) => {
      hooks.log.error(`The server failed to initialize: ${String(error)}`);
      return false;
    },
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
    start: () => client.start(),
    dispose: async () => {
      try {
        if (client.state === State.Running || client.state === State.Starting) {
          await client.stop(5000);
        }
      } catch (e) {
        hooks.log.warn(`Stopping the server: ${String(e)}`);
      }
      try {
        await client.dispose(2000);
      } catch {
        // already stopped
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
