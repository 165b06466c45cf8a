// Identifiers shared by the extension's modules. The client id `cq` makes vscode-languageclient
// read `cq.trace.server` by itself; our own command ids live under `cqLsp.` because the client
// registers every server command id (`cq.*`) as a VS Code command when the server starts, and a
// second registration of the same id throws.

export const CLIENT_ID = "cq";
export const CLIENT_NAME = "CQ";
export const CONFIG_SECTION = "cq";
export const STATUS_NOTIFICATION = "cq/status";

export const CMD = {
  initialize: "cqLsp.initialize",
  search: "cqLsp.search",
  showFileDocumentation: "cqLsp.showFileDocumentation",
  indexWorkspace: "cqLsp.indexWorkspace",
  startWorker: "cqLsp.startWorker",
  stopWorker: "cqLsp.stopWorker",
  restartWorker: "cqLsp.restartWorker",
  showQueue: "cqLsp.showQueue",
  retryFailed: "cqLsp.retryFailed",
  clearQueue: "cqLsp.clearQueue",
  installHooks: "cqLsp.installHooks",
  uninstallHooks: "cqLsp.uninstallHooks",
  showLogs: "cqLsp.showLogs",
  restartServer: "cqLsp.restartServer",
  selectInterpreter: "cqLsp.selectInterpreter",
  showActions: "cqLsp.showActions",
} as const;

/** The server's workspace/executeCommand ids: each must be in cq_lsp/commands/table.py (tests/test_commands.py checks). */
export const SERVER_CMD = {
  status: "cq.status",
  search: "cq.search",
  show: "cq.show",
  index: "cq.index",
  init: "cq.init",
  workerStart: "cq.worker.start",
  workerStop: "cq.worker.stop",
  workerRestart: "cq.worker.restart",
  queueList: "cq.queue.list",
  queueAdd: "cq.queue.add",
  queueRemove: "cq.queue.remove",
  queueClear: "cq.queue.clear",
  queueRetry: "cq.queue.retry",
  hooksInstall: "cq.hooks.install",
  hooksUninstall: "cq.hooks.uninstall",
} as const;

/** The Python distribution that provides the `cq_lsp` module. */
export const PIP_PACKAGE = "cq-lsp";
