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

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  manager = new ServerManager(context, log);
  const statusBar = new StatusBar(manager);
  const docs = new DocumentationProvider();
  new Commands(manager, statusBar, docs, log).register(context);
  const m = manager;

  context.subscriptions.push(
    log,
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
  log.info(`CQ extension ${String((context.extension.packageJSON as { version?: unknown }).version)} activated`);
  void m.restart("extension activated");
}

export async function deactivate(): Promise<void> {
  const m = manager;
  manager = undefined;
  await m?.dispose();
}
