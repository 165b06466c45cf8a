// Entry point. Activation only wires things up and returns: the interpreter check and the
// server start run afterwards, so VS Code's startup never waits for Python.

import * as vscode from "vscode";

import { Commands, DocumentationProvider } from "./commands";
import { CLIENT_NAME } from "./constants";
import { onPythonInterpreterChange, pythonExtensionInstalled } from "./pythonExtension";
import { ServerManager } from "./serverManager";
import { LIVE_SETTINGS, RESTART_SETTINGS } from "./settings";
import { StatusBar } from "./statusBar";

let manager: ServerManager | undefined;
let logChannel: vscode.LogOutputChannel | undefined;

/**
 * The output channel, created on first use: creating a log channel costs ~2 ms, which would be
 * half of activation's budget, and nothing is logged until the server starts a moment later.
 */
function lazyLogChannel(): vscode.LogOutputChannel {
  let real: vscode.LogOutputChannel | undefined;
  const get = (): vscode.LogOutputChannel => (real ??= vscode.window.createOutputChannel(CLIENT_NAME, { log: true }));
  return new Proxy({} as vscode.LogOutputChannel, {
    get(_target, prop) {
      if (prop === "dispose" && real === undefined) {
        return () => undefined;
      }
      const channel = get();
      const value: unknown = Reflect.get(channel, prop, channel);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(channel) : value;
    },
    has(_target, prop) {
      return Reflect.has(get(), prop);
    },
  });
}

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  const log = lazyLogChannel();
  logChannel = log;
  manager = new ServerManager(context, log);
  const statusBar = new StatusBar(manager);
  const docs = new DocumentationProvider();
  new Commands(manager, statusBar, docs, log).register(context);
  const m = manager;

  // Not the log: VS Code disposes the subscriptions as soon as deactivate() is called, while the
  // server is still shutting down and writing to it ("Channel has been closed", an uncaught
  // error); deactivate() disposes it once the server has stopped.
  context.subscriptions.push(
    statusBar,
    docs,
    vscode.workspace.registerTextDocumentContentProvider(DocumentationProvider.scheme, docs),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_SETTINGS.some((key) => e.affectsConfiguration(key))) {
        void m.restart("cq.interpreter changed", { byUser: true });
      } else if (LIVE_SETTINGS.some((key) => e.affectsConfiguration(key))) {
        m.pushSettings().catch((err: unknown) => log.warn(`Could not send settings: ${String(err)}`));
      }
    }),
    // Trust lets the server run the command documenter: it is decided at initialize.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void m.restart("workspace trusted", { byUser: true })),
  );
  if (pythonExtensionInstalled()) {
    void onPythonInterpreterChange(() => void m.restartIfInterpreterChanged("Python extension interpreter changed")).then(
      (d) => d && context.subscriptions.push(d),
    );
  }
  const activateMs = performance.now() - t0;
  void m.restart("extension activated").catch(() => undefined);
  setTimeout(() => {
    const version = String((context.extension.packageJSON as { version?: unknown }).version);
    log.info(`CQ extension ${version} activated in ${activateMs.toFixed(1)} ms`);
  }, 0);
}

export async function deactivate(): Promise<void> {
  const m = manager;
  const log = logChannel;
  manager = undefined;
  logChannel = undefined;
  try {
    await m?.dispose();
  } finally {
    log?.dispose();
  }
}
