// The words the CQ log uses for failures of the connection to the server, checked against the
// errors the real vscode-jsonrpc produces when the server's pipe is gone.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCodes, ResponseError } from "vscode-jsonrpc";

import { CONNECTION_ERROR_CODES, describeConnectionError, describeStartFailure, isServerGone } from "../../src/connectionErrors";

describe("connection errors", () => {
  it("uses vscode-jsonrpc's own codes", () => {
    assert.equal(CONNECTION_ERROR_CODES.MessageWriteError, ErrorCodes.MessageWriteError);
    assert.equal(CONNECTION_ERROR_CODES.MessageReadError, ErrorCodes.MessageReadError);
    assert.equal(CONNECTION_ERROR_CODES.PendingResponseRejected, ErrorCodes.PendingResponseRejected);
    assert.equal(CONNECTION_ERROR_CODES.ConnectionInactive, ErrorCodes.ConnectionInactive);
  });

  it("reads a broken pipe as a server that has exited", () => {
    const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    assert.ok(isServerGone(epipe));
    assert.ok(isServerGone(new ResponseError(ErrorCodes.MessageWriteError, "write EPIPE")));
    assert.ok(isServerGone(new ResponseError(ErrorCodes.PendingResponseRejected, "Pending response rejected since connection got disposed")));
    assert.match(describeStartFailure(epipe), /^the server exited before it answered `initialize` \(write EPIPE\)/);
    assert.match(describeConnectionError(epipe), /no longer reads its messages \(write EPIPE\): it has exited/);
  });

  it("keeps the server's own answers as they are", () => {
    const refused = new ResponseError(ErrorCodes.InvalidParams, "rootUri is not a folder");
    assert.equal(isServerGone(refused), false);
    assert.equal(describeStartFailure(refused), "rootUri is not a folder");
    assert.equal(describeConnectionError(new Error("Header must provide a Content-Length property.")), "The connection to the server failed: Header must provide a Content-Length property.");
  });
});
