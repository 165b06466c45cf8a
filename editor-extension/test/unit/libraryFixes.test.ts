// The fixes editor-extension/libraryFixes.mjs makes to the bundled language-client libraries,
// checked on the real vscode-jsonrpc as bundled here (the unit-test bundle applies the same fixes).

import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";

import { ErrorCodes, ResponseError } from "vscode-jsonrpc";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("vscode-jsonrpc, as bundled", () => {
  it("fails a request it cannot write once, with nothing left unhandled", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      // The server's stdin when the server has exited: every write fails.
      const toServer = new PassThrough();
      toServer.destroy();
      const connection = createMessageConnection(new StreamMessageReader(new PassThrough()), new StreamMessageWriter(toServer));
      connection.onError(() => undefined); // the client's error handler: the write failure is reported here too
      connection.listen();
      await assert.rejects(connection.sendRequest("initialize", {}), (e: unknown) => e instanceof ResponseError && e.code === ErrorCodes.MessageWriteError);
      // Node reports an unhandled rejection once the microtasks of the current turn have run.
      await turn();
      await turn();
      connection.dispose();
      assert.deepEqual(unhandled.map(String), []);
    } finally {
      process.off("unhandledRejection", record);
    }
  });
});
