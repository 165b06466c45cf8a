// package.json is the contract with VS Code and, through the settings, with the server: these
// tests keep the manifest, the command table and the settings module in step.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

import { CMD, SERVER_CMD } from "../../src/constants";
import { DEFAULTS, LIVE_SETTINGS, RESTART_SETTINGS, serverSettings } from "../../src/settings";

const repo = path.resolve(__dirname, "..", "..");

interface Manifest {
  name: string;
  version: string;
  main: string;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: unknown; restrictedConfigurations?: string[] } };
  contributes: {
    commands: { command: string; title: string }[];
    configuration: { properties: Record<string, { default?: unknown; enum?: string[]; type: string }> };
  };
  scripts: Record<string, string>;
}

const manifest = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as Manifest;
const props = manifest.contributes.configuration.properties;

function prop(key: string): { default?: unknown; enum?: string[]; type: string } {
  const p = props[key];
  assert.ok(p, `package.json declares ${key}`);
  return p;
}

describe("package.json", () => {
  it("contributes every command the extension registers, titled CQ:", () => {
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, Object.values(CMD).sort());
    for (const c of manifest.contributes.commands) {
      assert.match(c.title, /^CQ: [A-Z]/, c.command);
    }
    for (const title of [
      "Initialize",
      "Search",
      "Show File Documentation",
      "Index Workspace",
      "Start Worker",
      "Stop Worker",
      "Restart Worker",
      "Show Queue",
      "Retry Failed",
      "Clear Queue",
      "Install Git Hooks",
      "Uninstall Git Hooks",
      "Show Logs",
      "Restart Server",
    ]) {
      assert.ok(manifest.contributes.commands.some((c) => c.title === `CQ: ${title}`), title);
    }
  });

  it("never reuses a server command id (the language client registers those itself)", () => {
    const server = new Set<string>(Object.values(SERVER_CMD));
    for (const c of manifest.contributes.commands) {
      assert.ok(!server.has(c.command), c.command);
      assert.ok(!c.command.startsWith("cq."), c.command);
    }
  });

  it("declares the settings with the defaults the server receives", () => {
    assert.deepEqual(prop("cq.interpreter").default, []);
    assert.equal(prop("cq.interpreter").type, "array");
    assert.equal(prop("cq.processing.mode").default, DEFAULTS.modeSetting);
    assert.deepEqual(prop("cq.processing.mode").enum, ["config", "auto", "manual"]);
    assert.equal(prop("cq.worker.autoStart").default, DEFAULTS.worker.autoStart);
    assert.equal(prop("cq.showNotifications").default, DEFAULTS.showNotifications);
    assert.deepEqual(prop("cq.showNotifications").enum, ["off", "onError", "onWarning", "always"]);
    assert.equal(prop("cq.logLevel").default, DEFAULTS.logLevel);
    assert.deepEqual(prop("cq.logLevel").enum, ["error", "warning", "info", "debug"]);
    assert.deepEqual(prop("cq.trace.server").enum, ["off", "messages", "verbose"]);
    for (const key of [...LIVE_SETTINGS, ...RESTART_SETTINGS]) {
      prop(key);
    }
  });

  it("runs limited in Restricted Mode, where a workspace cannot pick the interpreter", () => {
    assert.equal(manifest.capabilities.untrustedWorkspaces.supported, "limited");
    assert.deepEqual(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations, ["cq.interpreter"]);
  });

  it("activates only where there is something to index, and ships one bundle", () => {
    assert.deepEqual(manifest.activationEvents, ["workspaceContains:.code-query/config.json", "workspaceContains:.git"]);
    assert.equal(manifest.main, "./dist/extension.js");
    assert.match(manifest.scripts.package ?? "", /--out dist\/cq-lsp-\$\{npm_package_version\}\.vsix/);
  });
});

describe("serverSettings", () => {
  const reader = (values: Record<string, unknown>) => ({ get: (key: string) => values[key] });

  it("maps the cq.* settings to the contract's initializationOptions", () => {
    assert.deepEqual(
      serverSettings(
        reader({ "processing.mode": "manual", "worker.autoStart": false, showNotifications: "always", logLevel: "debug" }),
        true,
      ),
      { trusted: true, showNotifications: "always", logLevel: "debug", processing: { mode: "manual" }, worker: { autoStart: false } },
    );
  });

  it("falls back to defaults for hand-edited nonsense, and carries trust", () => {
    assert.deepEqual(serverSettings(reader({ "processing.mode": "sometimes", "worker.autoStart": "yes", logLevel: 3 }), false), {
      trusted: false,
      showNotifications: "onError",
      logLevel: "info",
      processing: {},
      worker: { autoStart: true },
    });
  });

  it("leaves processing.mode to config.json unless the setting says auto or manual", () => {
    assert.deepEqual(serverSettings(reader({ "processing.mode": "config" }), true).processing, {});
    assert.deepEqual(serverSettings(reader({}), true).processing, {});
    assert.deepEqual(serverSettings(reader({ "processing.mode": "auto" }), true).processing, { mode: "auto" });
  });
});
