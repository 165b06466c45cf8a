// The status bar item: visible whatever file is open, it shows the active editor's folder from
// the latest `cq/status` of each folder, and the language client's own state (a dead server too).

import * as fs from "node:fs";
import * as path from "node:path";

import * as vscode from "vscode";

import { CMD } from "./constants";
import type { ServerManager } from "./serverManager";
import { type CqStatus, isInside, parseStatus, pickStatus, statusView } from "./status";

function realpath(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly statuses = new Map<string, CqStatus>();
  private readonly disposables: { dispose(): unknown }[] = [];
  private activePath: string | undefined;
  private folders: { folder: vscode.WorkspaceFolder; real: string }[] = [];

  constructor(private readonly manager: ServerManager) {
    this.item = vscode.window.createStatusBarItem("cq.status", vscode.StatusBarAlignment.Left, 10);
    this.item.name = "CQ";
    this.item.command = CMD.showActions;
    this.refreshFolders();
    this.trackEditor(vscode.window.activeTextEditor);
    this.render();
    this.item.show();
    this.disposables.push(
      this.item,
      manager.onDidChange(() => {
        if (manager.phase !== "running") {
          // A new server sends fresh statuses; old ones would show a stale queue meanwhile.
          this.statuses.clear();
        }
        this.render();
      }),
      manager.onStatus((payload) => {
        const status = parseStatus(payload);
        if (status) {
          this.statuses.set(status.root, status);
          this.render();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        this.trackEditor(editor);
        this.render();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.render();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.refreshFolders();
        for (const root of [...this.statuses.keys()]) {
          if (!this.folders.some((f) => isInside(f.real, root) || isInside(root, f.real))) {
            this.statuses.delete(root);
          }
        }
        this.render();
      }),
    );
  }

  private refreshFolders(): void {
    this.folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => ({
      folder,
      real: realpath(folder.uri.fsPath),
    }));
  }

  private trackEditor(editor: vscode.TextEditor | undefined): void {
    // Keep the last file's folder while the focus is on an output panel or a settings page.
    if (editor && editor.document.uri.scheme === "file") {
      this.activePath = realpath(editor.document.uri.fsPath);
    }
  }

  /** The status the item shows (the active editor's folder). */
  current(): CqStatus | undefined {
    return pickStatus(
      [...this.statuses.values()],
      this.activePath,
      this.folders.map((f) => f.real),
    );
  }

  statusFor(folder: vscode.WorkspaceFolder): CqStatus | undefined {
    const real = this.folders.find((f) => f.folder.uri.toString() === folder.uri.toString())?.real;
    return real ? pickStatus([...this.statuses.values()], real, [real]) : undefined;
  }

  /** The workspace folder the item is about: the active file's, else the shown status's. */
  currentFolder(): vscode.WorkspaceFolder | undefined {
    const active = this.activePath;
    if (active) {
      const byFile = this.folders.find((f) => isInside(f.real, active));
      if (byFile) {
        return byFile.folder;
      }
    }
    const status = this.current();
    if (status) {
      const match = this.folders.find((f) => isInside(status.root, f.real) || isInside(f.real, status.root));
      if (match) {
        return match.folder;
      }
    }
    return this.folders.length === 1 ? this.folders[0]?.folder : undefined;
  }

  render(): void {
    const status = this.current();
    const folder = this.currentFolder();
    const view = statusView({
      phase: this.manager.phase,
      status,
      problem: this.manager.problem?.message,
      lastError: this.manager.lastError,
      folderName: folder?.name ?? (status ? path.basename(status.root) : undefined),
      interpreter: this.manager.interpreterLabel,
      noFolder: this.folders.length === 0,
      restricted: !vscode.workspace.isTrusted,
    });
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(view.tooltip, true);
    this.item.tooltip = tooltip;
    this.item.backgroundColor = view.background
      ? new vscode.ThemeColor(`statusBarItem.${view.background}Background`)
      : undefined;
    this.item.accessibilityInformation = { label: view.accessibilityLabel, role: "button" };
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
