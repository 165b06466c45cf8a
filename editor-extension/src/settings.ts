// The `cq.*` settings as the server receives them: in initializationOptions, in
// workspace/didChangeConfiguration and as the answer to workspace/configuration (docs/architecture.md).

export type NotificationLevel = "off" | "onError" | "onWarning" | "always";
export type LogLevel = "error" | "warning" | "info" | "debug";
export type ProcessingMode = "auto" | "manual";
/** `config`: leave processing.mode to the repository's .code-query/config.json. */
export type ModeSetting = ProcessingMode | "config";

export interface ServerSettings {
  trusted: boolean;
  showNotifications: NotificationLevel;
  logLevel: LogLevel;
  /** No mode: the configuration files decide (the editor layer is the strongest one). */
  processing: { mode?: ProcessingMode };
  worker: { autoStart: boolean };
}

/** Reads one key of the `cq` section (vscode.WorkspaceConfiguration satisfies this). */
export interface ConfigReader {
  get(key: string): unknown;
}

export const DEFAULTS: Omit<ServerSettings, "trusted"> & { modeSetting: ModeSetting } = {
  showNotifications: "onError",
  logLevel: "info",
  modeSetting: "config",
  processing: {},
  worker: { autoStart: true },
};

const NOTIFICATION_LEVELS: readonly NotificationLevel[] = ["off", "onError", "onWarning", "always"];
const LOG_LEVELS: readonly LogLevel[] = ["error", "warning", "info", "debug"];
const MODES: readonly ModeSetting[] = ["config", "auto", "manual"];

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return typeof value === "string" && (allowed as readonly string[]).includes(value)
    ? (value as T)
    : fallback;
}

/**
 * Builds the server's settings object. VS Code already validates values against package.json;
 * anything else (a hand-edited settings.json) falls back to the default rather than making the
 * server reject the whole object.
 */
export function serverSettings(read: ConfigReader, trusted: boolean): ServerSettings {
  const autoStart = read.get("worker.autoStart");
  const mode = oneOf(read.get("processing.mode"), MODES, DEFAULTS.modeSetting);
  return {
    trusted,
    showNotifications: oneOf(read.get("showNotifications"), NOTIFICATION_LEVELS, DEFAULTS.showNotifications),
    logLevel: oneOf(read.get("logLevel"), LOG_LEVELS, DEFAULTS.logLevel),
    processing: mode === "config" ? {} : { mode },
    worker: { autoStart: typeof autoStart === "boolean" ? autoStart : DEFAULTS.worker.autoStart },
  };
}

/** Settings whose change needs a new server process (a different Python). */
export const RESTART_SETTINGS = ["cq.interpreter"] as const;

/** Settings the running server takes on the fly (workspace/didChangeConfiguration). */
export const LIVE_SETTINGS = [
  "cq.processing.mode",
  "cq.worker.autoStart",
  "cq.showNotifications",
  "cq.logLevel",
] as const;
