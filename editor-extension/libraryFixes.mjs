// Two bugs of the bundled language-client libraries that make a server which dies while the
// client starts it (a broken install, a crash during `initialize`) raise uncaught errors in the
// extension host — VS Code counts them against this extension ("N uncaught errors" in Running
// Extensions). Each is fixed in the bundle at build time, as a one-line edit of the library's
// code; the build fails when the code to fix is not found exactly once (a new library version
// changed it: check whether the bug is gone upstream, then drop or redo the fix).

/** @type {{ file: RegExp; what: string; find: string; replace: string }[]} */
export const FIXES = [
  {
    // vscode-jsonrpc 8.2: when writing a request fails (write EPIPE: the server has exited),
    // sendRequest rejects the request with MessageWriteError, then rethrows the write error
    // from its async Promise executor — a second rejection nobody can observe. Fixed upstream
    // the same way (microsoft/vscode-languageserver-node#1855), in releases that need VS Code
    // 1.91.
    file: /vscode-jsonrpc[\\/]lib[\\/]common[\\/]connection\.js$/,
    what: "vscode-jsonrpc sendRequest: no second, unobservable rejection when a request cannot be written",
    find: "responsePromise.reject(new messages_1.ResponseError(messages_1.ErrorCodes.MessageWriteError, error.message ? error.message : 'Unknown reason'));\n                    throw error;",
    replace: "responsePromise.reject(new messages_1.ResponseError(messages_1.ErrorCodes.MessageWriteError, error.message ? error.message : 'Unknown reason'));",
  },
  {
    // vscode-languageclient 9/10: start() ends with `return this._onStart`, but when the
    // connection closes during `initialize`, handleConnectionClosed() has already cleared
    // _onStart: start() resolves as if all went well and its own rejected start promise is
    // dropped unobserved. Returning the promise it created makes start() reject with the reason.
    file: /vscode-languageclient[\\/]lib[\\/]common[\\/]client\.js$/,
    what: "vscode-languageclient start(): returns the start promise it created",
    find: "            reject(error);\n        }\n        return this._onStart;",
    replace: "            reject(error);\n        }\n        return promise;",
  },
];

/** Applies FIXES to a module's source; throws when a fix for this file does not apply exactly once. */
export function applyFixes(file, source) {
  let out = source;
  for (const fix of FIXES.filter((f) => f.file.test(file))) {
    const count = out.split(fix.find).length - 1;
    if (count !== 1) {
      throw new Error(`${fix.what}: the code to fix occurs ${count} times in ${file} (expected once); the library changed — see editor-extension/libraryFixes.mjs`);
    }
    out = out.replace(fix.find, fix.replace);
  }
  return out;
}

/**
 * The esbuild plugin that applies FIXES while bundling. `required`: the build also fails when a
 * fix found no file to apply to (the library moved, so the bundle would ship the bug).
 */
export function libraryFixes({ required = false } = {}) {
  return {
    name: "library-fixes",
    setup(build) {
      const files = new RegExp(FIXES.map((f) => f.file.source).join("|"));
      const applied = new Set();
      build.onStart(() => applied.clear());
      build.onLoad({ filter: files }, async (args) => {
        const { readFile } = await import("node:fs/promises");
        FIXES.filter((f) => f.file.test(args.path)).forEach((f) => applied.add(f));
        return { contents: applyFixes(args.path, await readFile(args.path, "utf8")), loader: "js" };
      });
      build.onEnd((result) => {
        const missing = required && result.errors.length === 0 ? FIXES.filter((f) => !applied.has(f)) : [];
        if (missing.length) {
          return { errors: missing.map((f) => ({ text: `${f.what}: no bundled file matches ${f.file} — see editor-extension/libraryFixes.mjs` })) };
        }
        return undefined;
      });
    },
  };
}
