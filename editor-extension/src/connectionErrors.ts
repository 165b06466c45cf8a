// What a failure of the connection to the server means, in the words of the CQ log. The
// language client reports them in terms of pipes and JSON-RPC ("write EPIPE", "Pending response
// rejected since connection got disposed"); each of them here means the server process is gone,
// a state the status bar already shows and the crash restart already handles.

/** vscode-jsonrpc's ErrorCodes for failures of the connection itself (not answers of the server). */
export const CONNECTION_ERROR_CODES = {
  MessageWriteError: -32099,
  MessageReadError: -32098,
  PendingResponseRejected: -32097,
  ConnectionInactive: -32096,
} as const;

/** Node's codes for a write or read on a pipe whose other end has gone. */
const PIPE_GONE_CODES = new Set(["EPIPE", "ECONNRESET", "ERR_STREAM_DESTROYED", "ERR_STREAM_WRITE_AFTER_END"]);

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when `error` says the pipe to the server broke: the process has exited (or is exiting). */
export function isServerGone(error: unknown): boolean {
  const code = error !== null && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  if (typeof code === "number") {
    return (Object.values(CONNECTION_ERROR_CODES) as number[]).includes(code);
  }
  return typeof code === "string" && PIPE_GONE_CODES.has(code);
}

/** The log line for a start that failed with `error`. */
export function describeStartFailure(error: unknown): string {
  if (isServerGone(error)) {
    return `the server exited before it answered \`initialize\` (${errorMessage(error)}); its own output in this log tells why`;
  }
  return errorMessage(error);
}

/** The log line for an error on the connection (a message that could not be written or read). */
export function describeConnectionError(error: unknown): string {
  if (isServerGone(error)) {
    return `The server no longer reads its messages (${errorMessage(error)}): it has exited or is exiting`;
  }
  return `The connection to the server failed: ${errorMessage(error)}`;
}
