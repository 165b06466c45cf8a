// The Python extension's selected interpreter, when ms-python.python is installed. It is an
// optional companion, not a dependency: its API is read defensively, without its npm package.

import * as vscode from "vscode";

const PYTHON_EXTENSION_ID = "ms-python.python";

interface EnvironmentPath {
  id?: string;
  path?: string;
}

interface ResolvedEnvironment {
  executable?: { uri?: vscode.Uri };
}

interface PythonEnvironmentsApi {
  getActiveEnvironmentPath?(resource?: vscode.Uri): EnvironmentPath | undefined;
  resolveEnvironment?(env: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
  onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
}

interface PythonExtensionApi {
  environments?: PythonEnvironmentsApi;
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
  };
}

export function pythonExtensionInstalled(): boolean {
  return vscode.extensions.getExtension(PYTHON_EXTENSION_ID) !== undefined;
}

async function api(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!ext) {
    return undefined;
  }
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch {
    return undefined;
  }
}

/** The selected interpreter's executable for `resource`, or undefined (none, or no extension). */
export async function pythonExtensionInterpreter(
  resource: vscode.Uri | undefined,
  log: vscode.LogOutputChannel,
): Promise<string | undefined> {
  const python = await api();
  if (!python) {
    return undefined;
  }
  try {
    const envs = python.environments;
    const active = envs?.getActiveEnvironmentPath?.(resource);
    if (active && envs?.resolveEnvironment) {
      const resolved = await envs.resolveEnvironment(active);
      const exe = resolved?.executable?.uri?.fsPath;
      if (exe) {
        return exe;
      }
    }
    if (active?.path) {
      return active.path;
    }
    return python.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
  } catch (e) {
    log.warn(`The Python extension did not tell its interpreter: ${String(e)}`);
    return undefined;
  }
}

/** Calls `listener` when the user selects another interpreter in the Python extension. */
export async function onPythonInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  const python = await api();
  return python?.environments?.onDidChangeActiveEnvironmentPath?.(() => listener());
}

/** Opens the Python extension's interpreter picker; false when it is not installed. */
export async function selectPythonExtensionInterpreter(): Promise<boolean> {
  if (!pythonExtensionInstalled()) {
    return false;
  }
  await vscode.commands.executeCommand("python.setInterpreter");
  return true;
}
