// The palette commands (`CQ: …`). Each is a thin face over one server command; errors name
// what failed and offer the way out (Show Logs, Initialize, Select Interpreter).

import * as path from "node:path";

import * as vscode from "vscode";

import { CMD, CONFIG_SECTION, SERVER_CMD } from "./constants";
import { type FileRecord, findSymbol, renderRecord } from "./docs";
import { pythonExtensionInstalled, selectPythonExtensionInterpreter } from "./pythonExtension";
import { describeEnqueue, describeHooks, describeWorker } from "./results";
import { type ServerManager, ServerNotRunning } from "./serverManager";
import { type CqStatus, isNotGit } from "./status";
import type { StatusBar } from "./statusBar";

interface SearchResult {
  path: string;
  score?: number;
  snippet?: string | null;
  overview?: string | null;
}

interface SearchResponse {
  query: string;
  root?: string;
  results: SearchResult[];
}

interface Job {
  path: string;
  state: string;
  sha?: string | null;
  attempts?: number;
  error?: string | null;
  queued_at?: string | null;
}

/** Documentation pages shown by CQ: Show File Documentation (virtual, read-only documents). */
export class DocumentationProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  static readonly scheme = "cq-doc";
  private readonly pages = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  set(uri: vscode.Uri, markdown: string): void {
    this.pages.set(uri.toString(), markdown);
    this.emitter.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.pages.get(uri.toString()) ?? "This page is gone; run CQ: Show File Documentation again.";
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Commands {
  constructor(
    private readonly manager: ServerManager,
    private readonly statusBar: StatusBar,
    private readonly docs: DocumentationProvider,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(context: vscode.ExtensionContext): void {
    const reg = (id: string, fn: (...args: unknown[]) => unknown): void => {
      context.subscriptions.push(
        vscode.commands.registerCommand(id, async (...args: unknown[]) => {
          try {
            await fn(...args);
          } catch (e) {
            this.log.error(`${id}: ${errorText(e)}`);
            void vscode.window.showErrorMessage(`CQ: ${errorText(e)}`, "Show Logs").then((p) => {
              if (p) {
                this.log.show(true);
              }
            });
          }
        }),
      );
    };
    reg(CMD.initialize, () => this.initialize());
    reg(CMD.search, () => this.search());
    reg(CMD.showFileDocumentation, (uri) => this.showFileDocumentation(uri instanceof vscode.Uri ? uri : undefined));
    reg(CMD.indexWorkspace, () => this.indexWorkspace());
    reg(CMD.startWorker, () => this.worker(SERVER_CMD.workerStart, "Start Worker"));
    reg(CMD.stopWorker, () => this.worker(SERVER_CMD.workerStop, "Stop Worker"));
    reg(CMD.restartWorker, () => this.worker(SERVER_CMD.workerRestart, "Restart Worker"));
    reg(CMD.showQueue, () => this.showQueue());
    reg(CMD.retryFailed, () => this.retryFailed());
    reg(CMD.clearQueue, () => this.clearQueue());
    reg(CMD.installHooks, () => this.hooks(SERVER_CMD.hooksInstall, "installed"));
    reg(CMD.uninstallHooks, () => this.hooks(SERVER_CMD.hooksUninstall, "uninstalled"));
    reg(CMD.showLogs, () => this.log.show());
    reg(CMD.restartServer, () => this.manager.restart("restart requested", { byUser: true }));
    reg(CMD.selectInterpreter, () => this.selectInterpreter());
    reg(CMD.showActions, () => this.showActions());
  }

  // -- helpers ----------------------------------------------------------------------------------

  /** The folder a command acts on: the active editor's, else the only one, else the user's pick. */
  private async folder(): Promise<vscode.WorkspaceFolder | undefined> {
    const current = this.statusBar.currentFolder();
    if (current) {
      return current;
    }
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (folders.length === 0) {
      void vscode.window.showWarningMessage("CQ: open a folder inside a git repository first.");
      return undefined;
    }
    if (folders.length === 1) {
      return folders[0];
    }
    return vscode.window.showWorkspaceFolderPick({ placeHolder: "Which folder?" });
  }

  /** Runs a server command; on failure tells the user and returns undefined. */
  private async call<T>(
    title: string,
    command: string,
    argument: Record<string, unknown>,
    folder?: vscode.WorkspaceFolder,
  ): Promise<T | undefined> {
    try {
      const result = await this.manager.execute<T>(command, argument);
      return result;
    } catch (e) {
      if (e instanceof ServerNotRunning) {
        if (this.manager.problem) {
          await this.manager.showProblem();
        } else {
          const picked = await vscode.window.showErrorMessage(`CQ: ${e.message}`, "Show Logs", "Restart Server");
          if (picked === "Show Logs") {
            this.log.show(true);
          } else if (picked === "Restart Server") {
            await this.manager.restart("restart requested", { byUser: true });
          }
        }
        return undefined;
      }
      const message = errorText(e);
      this.manager.setLastError(`${title}: ${message}`);
      const notInitialized = folder ? this.statusBar.statusFor(folder)?.initialized === false : false;
      const actions = notInitialized ? ["Initialize", "Show Logs"] : ["Show Logs"];
      void vscode.window.showErrorMessage(`CQ: ${title} failed: ${message}`, ...actions).then((picked) => {
        if (picked === "Initialize") {
          void vscode.commands.executeCommand(CMD.initialize);
        } else if (picked === "Show Logs") {
          this.log.show(true);
        }
      });
      return undefined;
    }
  }

  /** The work tree root the server reported for a folder (paths in results are relative to it). */
  private rootOf(folder: vscode.WorkspaceFolder, reported?: unknown): string {
    if (typeof reported === "string" && path.isAbsolute(reported)) {
      return reported;
    }
    return this.statusBar.statusFor(folder)?.root ?? folder.uri.fsPath;
  }

  private flash(text: string): void {
    vscode.window.setStatusBarMessage(`CQ: ${text}`, 5000);
    this.log.info(text);
  }

  // -- commands ---------------------------------------------------------------------------------

  async initialize(): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const res = await this.call<{ created?: boolean; config?: string }>(
      "Initialize",
      SERVER_CMD.init,
      { root: folder.uri.fsPath },
      folder,
    );
    if (!res) {
      return;
    }
    const what = res.created === false ? "was already initialized" : "is initialized";
    void vscode.window
      .showInformationMessage(`CQ: ${folder.name} ${what} (${res.config ?? ".code-query/config.json"}).`, "Index Workspace", "Install Git Hooks")
      .then((picked) => {
        if (picked === "Index Workspace") {
          void vscode.commands.executeCommand(CMD.indexWorkspace);
        } else if (picked === "Install Git Hooks") {
          void vscode.commands.executeCommand(CMD.installHooks);
        }
      });
  }

  async indexWorkspace(): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const res = await this.call<unknown>("Index Workspace", SERVER_CMD.index, { root: folder.uri.fsPath }, folder);
    if (res !== undefined) {
      this.flash(`${folder.name}: ${describeEnqueue(res)}`);
    }
  }

  async worker(command: string, title: string): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const res = await this.call<unknown>(title, command, { root: folder.uri.fsPath }, folder);
    if (res !== undefined) {
      this.flash(`${describeWorker(res)} in ${folder.name}`);
    }
  }

  async retryFailed(): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const res = await this.call<{ queued?: number }>("Retry Failed", SERVER_CMD.queueRetry, { root: folder.uri.fsPath }, folder);
    if (res) {
      this.flash(res.queued ? `${res.queued} failed file(s) queued again` : "no failed files to retry");
    }
  }

  async clearQueue(): Promise<boolean> {
    const folder = await this.folder();
    if (!folder) {
      return false;
    }
    const queued = this.statusBar.statusFor(folder)?.queue.queued;
    const ok = await vscode.window.showWarningMessage(
      `Remove ${queued === undefined ? "all" : queued} queued file(s) of ${folder.name} from the queue? Files being documented finish; saving or indexing queues them again.`,
      { modal: true },
      "Clear Queue",
    );
    if (ok !== "Clear Queue") {
      return false;
    }
    const res = await this.call<{ cleared?: number }>("Clear Queue", SERVER_CMD.queueClear, { root: folder.uri.fsPath }, folder);
    if (res) {
      this.flash(`${res.cleared ?? 0} queued file(s) removed`);
    }
    return res !== undefined;
  }

  async hooks(command: string, verb: "installed" | "uninstalled"): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const res = await this.call<unknown>(`Git hooks ${verb}`, command, { root: folder.uri.fsPath }, folder);
    if (res === undefined) {
      return;
    }
    this.log.info(`hooks ${verb}: ${JSON.stringify(res)}`);
    const summary = describeHooks(res, verb);
    for (const note of summary.notes) {
      this.log.info(note);
    }
    if (summary.instructions) {
      // Another hook manager owns the hooks: the user has a step to take; show it in full.
      await vscode.window.showWarningMessage(`CQ: ${summary.text} in ${folder.name}`, {
        modal: true,
        detail: summary.instructions,
      });
    } else {
      void vscode.window.showInformationMessage(`CQ: ${summary.text} in ${folder.name}.`);
    }
  }

  async search(): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { result?: SearchResult; root?: string }>();
    qp.title = `CQ: Search — ${folder.name}`;
    qp.placeholder = 'Words or identifiers (parse invoice, parseInvoice), "a phrase", prefix*';
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    const editor = vscode.window.activeTextEditor;
    const selected = editor && !editor.selection.isEmpty ? editor.document.getText(editor.selection).trim() : "";
    if (selected && !selected.includes("\n") && selected.length <= 200) {
      qp.value = selected;
    }
    let seq = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (query: string): void => {
      const mine = ++seq;
      if (!query.trim()) {
        qp.items = [];
        qp.busy = false;
        return;
      }
      qp.busy = true;
      this.manager
        .execute<SearchResponse>(SERVER_CMD.search, { query, limit: 30, root: folder.uri.fsPath })
        .then(
          (res) => {
            if (mine !== seq) {
              return;
            }
            const root = this.rootOf(folder, res.root);
            qp.items = res.results.length
              ? res.results.map((r) => ({
                  label: `$(file) ${path.posix.basename(r.path)}`,
                  description: path.posix.dirname(r.path) === "." ? "" : path.posix.dirname(r.path),
                  // The server marks matches «like this» for terminals; a quick pick shows plain text.
                  detail: (r.snippet || r.overview || "").replace(/[«»]/g, "").replace(/\s+/g, " ").slice(0, 300),
                  alwaysShow: true,
                  result: r,
                  root,
                }))
              : [{ label: `$(info) No results for "${query}"`, alwaysShow: true }];
          },
          (e: unknown) => {
            if (mine === seq) {
              qp.items = [{ label: `$(error) ${errorText(e)}`, alwaysShow: true }];
            }
          },
        )
        .finally(() => {
          if (mine === seq) {
            qp.busy = false;
          }
        });
    };
    qp.onDidChangeValue((value) => {
      if (timer !== undefined) {
        clearTimeout(timer);
      }
      timer = setTimeout(() => run(value), 150);
    });
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0] ?? qp.activeItems[0];
      if (item?.result && item.root) {
        const query = qp.value;
        qp.hide();
        void this.openResult(folder, item.root, item.result, query);
      }
    });
    qp.onDidHide(() => {
      if (timer !== undefined) {
        clearTimeout(timer);
      }
      qp.dispose();
    });
    qp.show();
    if (qp.value) {
      run(qp.value);
    }
  }

  private async openResult(folder: vscode.WorkspaceFolder, root: string, result: SearchResult, query: string): Promise<void> {
    const file = path.isAbsolute(result.path) ? result.path : path.join(root, ...result.path.split("/"));
    const uri = vscode.Uri.file(file);
    let target: { line: number; name: string } | undefined;
    try {
      const record = await this.manager.execute<FileRecord>(SERVER_CMD.show, { path: file, root: folder.uri.fsPath });
      target = findSymbol(record, query);
    } catch (e) {
      this.log.warn(`No symbol position for ${result.path}: ${errorText(e)}`);
    }
    const doc = await vscode.workspace.openTextDocument(uri);
    let range = new vscode.Range(0, 0, 0, 0);
    if (target && target.line >= 1 && target.line <= doc.lineCount) {
      const text = doc.lineAt(target.line - 1).text;
      const col = text.indexOf(target.name);
      range =
        col >= 0
          ? new vscode.Range(target.line - 1, col, target.line - 1, col + target.name.length)
          : new vscode.Range(target.line - 1, 0, target.line - 1, 0);
    }
    const editor = await vscode.window.showTextDocument(doc, { selection: range, preview: false });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  async showFileDocumentation(uri?: vscode.Uri): Promise<void> {
    let target = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target || target.scheme !== "file") {
      const folder = await this.folder();
      if (!folder) {
        return;
      }
      const typed = await vscode.window.showInputBox({
        title: "CQ: Show File Documentation",
        prompt: `A file path, relative to ${folder.name} or absolute`,
      });
      if (!typed) {
        return;
      }
      target = vscode.Uri.file(path.isAbsolute(typed) ? typed : path.join(folder.uri.fsPath, typed));
    }
    const folder = vscode.workspace.getWorkspaceFolder(target) ?? (await this.folder());
    if (!folder) {
      return;
    }
    let record: FileRecord;
    try {
      record = await this.manager.execute<FileRecord>(SERVER_CMD.show, { path: target.fsPath, root: folder.uri.fsPath });
    } catch (e) {
      if (e instanceof ServerNotRunning) {
        await this.call("Show File Documentation", SERVER_CMD.show, {}, folder);
        return;
      }
      const message = errorText(e);
      const picked = await vscode.window.showWarningMessage(`CQ: ${message}`, "Index This File", "Show Logs");
      if (picked === "Index This File") {
        const res = await this.call<unknown>("Index This File", SERVER_CMD.queueAdd, { paths: [target.fsPath], root: folder.uri.fsPath }, folder);
        if (res !== undefined) {
          this.flash(`${path.basename(target.fsPath)}: ${describeEnqueue(res)}`);
        }
      } else if (picked === "Show Logs") {
        this.log.show(true);
      }
      return;
    }
    const page = vscode.Uri.from({ scheme: DocumentationProvider.scheme, path: `/${record.path}.md` });
    this.docs.set(page, renderRecord(record));
    try {
      await vscode.commands.executeCommand("markdown.showPreviewToSide", page);
    } catch {
      const doc = await vscode.workspace.openTextDocument(page);
      await vscode.languages.setTextDocumentLanguage(doc, "markdown");
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
    }
  }

  async showQueue(): Promise<void> {
    const folder = await this.folder();
    if (!folder) {
      return;
    }
    type JobItem = vscode.QuickPickItem & { job?: Job };
    const retry: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("refresh"), tooltip: "Retry" };
    const remove: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("trash"), tooltip: "Remove from the queue" };
    const retryAll: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("debug-rerun"), tooltip: "Retry all failed" };
    const clearAll: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("clear-all"), tooltip: "Clear the queue" };
    const reload: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("sync"), tooltip: "Refresh" };
    const icons: Record<string, string> = {
      queued: "$(clock)",
      running: "$(sync~spin)",
      failed: "$(error)",
      skipped: "$(circle-slash)",
      done: "$(check)",
    };
    const qp = vscode.window.createQuickPick<JobItem>();
    qp.title = `CQ: Queue — ${folder.name}`;
    qp.placeholder = "Filter by path; the buttons retry or remove a file";
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.buttons = [retryAll, clearAll, reload];
    let root = this.rootOf(folder);
    const abs = (job: Job): string => path.join(root, ...job.path.split("/"));

    const load = async (): Promise<void> => {
      qp.busy = true;
      try {
        const res = await this.manager.execute<{ jobs: Job[]; root?: string }>(SERVER_CMD.queueList, {
          state: ["queued", "running", "failed", "skipped"],
          limit: 500,
          root: folder.uri.fsPath,
        });
        root = this.rootOf(folder, res.root);
        const order: Record<string, number> = { running: 0, failed: 1, queued: 2, skipped: 3 };
        const jobs = [...res.jobs].sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
        const done = this.statusBar.statusFor(folder)?.queue.done;
        qp.items = jobs.length
          ? jobs.map((job) => ({
              label: `${icons[job.state] ?? ""} ${job.path}`,
              description: [
                job.state,
                job.attempts ? `${job.attempts} attempt(s)` : undefined,
                job.queued_at ? `since ${job.queued_at.replace("T", " ").slice(0, 19)}` : undefined,
              ]
                .filter((x) => x !== undefined)
                .join(" · "),
              detail: job.error ?? undefined,
              buttons: job.state === "failed" || job.state === "skipped" ? [retry, remove] : job.state === "queued" ? [remove] : [],
              job,
            }))
          : [{ label: "$(check) Nothing queued, running or failed", description: done !== undefined ? `${done} documented` : "" }];
      } catch (e) {
        qp.items = [{ label: `$(error) ${errorText(e)}` }];
      } finally {
        qp.busy = false;
      }
    };
    let refresh: ReturnType<typeof setTimeout> | undefined;
    const live = this.manager.onStatus(() => {
      // Follow the queue while the list is open, at most twice a second.
      if (refresh === undefined) {
        refresh = setTimeout(() => {
          refresh = undefined;
          void load();
        }, 500);
      }
    });
    qp.onDidTriggerItemButton(async (e) => {
      const job = e.item.job;
      if (!job) {
        return;
      }
      if (e.button === retry) {
        await this.call("Retry", SERVER_CMD.queueAdd, { paths: [abs(job)], root: folder.uri.fsPath }, folder);
      } else if (e.button === remove) {
        await this.call("Remove", SERVER_CMD.queueRemove, { paths: [abs(job)], root: folder.uri.fsPath }, folder);
      }
      await load();
    });
    qp.onDidTriggerButton(async (button) => {
      if (button === retryAll) {
        await this.retryFailed();
      } else if (button === clearAll) {
        await this.clearQueue();
      }
      await load();
    });
    qp.onDidAccept(() => {
      const job = qp.selectedItems[0]?.job;
      if (job) {
        qp.hide();
        void vscode.window.showTextDocument(vscode.Uri.file(abs(job)), { preview: true });
      }
    });
    qp.onDidHide(() => {
      live.dispose();
      if (refresh !== undefined) {
        clearTimeout(refresh);
      }
      qp.dispose();
    });
    qp.show();
    await load();
  }

  async selectInterpreter(): Promise<void> {
    type Choice = vscode.QuickPickItem & { id: "python" | "browse" | "settings" | "reset" };
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION, vscode.workspace.workspaceFolders?.[0]?.uri);
    const current = config.get<string[]>("interpreter") ?? [];
    const items: Choice[] = [];
    if (pythonExtensionInstalled()) {
      items.push({ id: "python", label: "$(symbol-namespace) Use the Python extension's interpreter", description: "and select it there" });
    }
    items.push(
      { id: "browse", label: "$(folder-opened) Browse for a Python executable…", description: "sets cq.interpreter" },
      { id: "settings", label: "$(settings-gear) Edit the cq.interpreter setting" },
    );
    if (current.length) {
      items.push({ id: "reset", label: "$(discard) Reset cq.interpreter", description: current.join(" ") });
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: "CQ: Python interpreter for the language server",
      placeHolder: this.manager.interpreterLabel ? `Now: ${this.manager.interpreterLabel}` : undefined,
    });
    if (!picked) {
      return;
    }
    // In Restricted Mode a workspace value of cq.interpreter is ignored (it would run a program
    // the repository chose), so write the user setting there.
    const target =
      vscode.workspace.workspaceFolders?.length && vscode.workspace.isTrusted
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
    if (picked.id === "python" || picked.id === "reset") {
      const inspected = config.inspect<string[]>("interpreter");
      if (inspected?.workspaceFolderValue !== undefined) {
        await config.update("interpreter", undefined, vscode.ConfigurationTarget.WorkspaceFolder);
      }
      if (inspected?.workspaceValue !== undefined) {
        await config.update("interpreter", undefined, vscode.ConfigurationTarget.Workspace);
      }
      if (inspected?.globalValue !== undefined) {
        await config.update("interpreter", undefined, vscode.ConfigurationTarget.Global);
      }
      if (picked.id === "python") {
        await selectPythonExtensionInterpreter();
      }
    } else if (picked.id === "browse") {
      const files = await vscode.window.showOpenDialog({
        title: "The Python that has cq-lsp installed",
        openLabel: "Use this Python",
        canSelectFiles: true,
        canSelectFolders: false,
        canSelectMany: false,
      });
      const file = files?.[0];
      if (file) {
        await config.update("interpreter", [file.fsPath], target);
      }
    } else {
      await vscode.commands.executeCommand("workbench.action.openSettings", "cq.interpreter");
    }
  }

  async showActions(): Promise<void> {
    type Action = vscode.QuickPickItem & { command?: string };
    const status: CqStatus | undefined = this.statusBar.current();
    const running = this.manager.phase === "running";
    const items: Action[] = [];
    const sep = (label: string): void => {
      items.push({ label, kind: vscode.QuickPickItemKind.Separator });
    };
    if (!vscode.workspace.isTrusted) {
      items.push({
        label: "$(shield) Manage Workspace Trust",
        description:
          status?.documenter?.kind === "command"
            ? "Restricted Mode: the repository's processor.command needs trust"
            : "Restricted Mode",
        command: "workbench.trust.manage",
      });
    }
    if (!running) {
      if (this.manager.problem) {
        items.push({ label: `$(error) ${this.manager.problem.message}`, command: "problem" });
      }
      items.push(
        { label: "$(debug-restart) Restart Server", command: CMD.restartServer },
        { label: "$(symbol-namespace) Select Python Interpreter", command: CMD.selectInterpreter },
        { label: "$(output) Show Logs", command: CMD.showLogs },
      );
    } else {
      if (status && isNotGit(status)) {
        items.push({ label: "$(info) Not a git repository", description: "CQ indexes git work trees", command: CMD.showLogs });
      } else if (status?.initialized === false) {
        items.push({ label: "$(add) Initialize", description: "create .code-query/ in this folder", command: CMD.initialize });
      } else {
        const w = status?.worker.state;
        const q = status?.queue;
        items.push(
          { label: "$(search) Search", command: CMD.search },
          { label: "$(book) Show File Documentation", description: "of the active file", command: CMD.showFileDocumentation },
          { label: "$(refresh) Index Workspace", command: CMD.indexWorkspace },
          {
            label: "$(list-unordered) Show Queue",
            description: q ? `${q.queued} queued · ${q.running} running · ${q.failed} failed` : undefined,
            command: CMD.showQueue,
          },
        );
        sep("Worker");
        if (w === "running" || w === "starting") {
          items.push({ label: "$(debug-stop) Stop Worker", description: status?.worker.pid ? `pid ${status.worker.pid}` : undefined, command: CMD.stopWorker });
        } else {
          items.push({ label: "$(play) Start Worker", command: CMD.startWorker });
        }
        items.push({ label: "$(debug-restart) Restart Worker", command: CMD.restartWorker });
        if (q?.failed) {
          items.push({ label: "$(debug-rerun) Retry Failed", description: `${q.failed} failed`, command: CMD.retryFailed });
        }
        if (q?.queued) {
          items.push({ label: "$(clear-all) Clear Queue", command: CMD.clearQueue });
        }
        sep("Git hooks");
        items.push(
          { label: "$(git-commit) Install Git Hooks", description: "index commits made outside the editor", command: CMD.installHooks },
          { label: "$(trash) Uninstall Git Hooks", command: CMD.uninstallHooks },
        );
      }
      sep("Server");
      items.push(
        { label: "$(output) Show Logs", command: CMD.showLogs },
        { label: "$(debug-restart) Restart Server", command: CMD.restartServer },
        { label: "$(symbol-namespace) Select Python Interpreter", command: CMD.selectInterpreter },
      );
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: status ? `CQ — ${status.message}` : "CQ",
      placeHolder: "Choose an action",
    });
    if (picked?.command === "problem") {
      await this.manager.showProblem();
    } else if (picked?.command) {
      await vscode.commands.executeCommand(picked.command);
    }
  }
}
