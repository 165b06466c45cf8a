import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type FileRecord, findSymbol, renderRecord, words } from "../../src/docs";

const record: FileRecord = {
  path: "billing/invoice.py",
  language: "python",
  overview: "Invoice parsing and totals.",
  functions: {
    parse_invoice_batch_headers: { signature: "parse_invoice_batch_headers(lines)", line: 40 },
    parse_invoice: { signature: "parse_invoice(text: str) -> Invoice", doc: "Parse one invoice.\nMore.", line: 12 },
    total: { signature: "total(inv)", line: 60 },
  },
  types_interfaces_classes: {
    Invoice: { kind: "class", doc: "An invoice.", line: 3, methods: { render: { signature: "render(self)", line: 8 } } },
  },
  imports: ["json", "decimal.Decimal"],
  dependencies: [],
  constants: { TAX: "0.2" },
  content_sha: "0123456789abcdef0123",
  processor: "static",
};

describe("words", () => {
  it("splits identifiers the way the index does", () => {
    assert.deepEqual(words("parseInvoice"), ["parse", "invoice"]);
    assert.deepEqual(words("parse_invoice"), ["parse", "invoice"]);
    assert.deepEqual(words("HTTPServer.handle"), ["http", "server", "handle"]);
  });
});

describe("findSymbol", () => {
  it("finds the best-matching function for a query", () => {
    assert.deepEqual(findSymbol(record, "parse invoice"), { line: 12, name: "parse_invoice" });
    assert.deepEqual(findSymbol(record, "parseInvoice"), { line: 12, name: "parse_invoice" });
    assert.deepEqual(findSymbol(record, "parse_invoice_batch_headers"), { line: 40, name: "parse_invoice_batch_headers" });
  });

  it("finds classes and methods, by bare name", () => {
    assert.deepEqual(findSymbol(record, "render"), { line: 8, name: "render" });
    assert.deepEqual(findSymbol(record, "Invoice"), { line: 3, name: "Invoice" });
  });

  it("has no answer when nothing matches", () => {
    assert.equal(findSymbol(record, "shipping"), undefined);
    assert.equal(findSymbol(record, '"" *'), undefined);
    assert.equal(findSymbol({ path: "x" }, "parse"), undefined);
  });
});

describe("renderRecord", () => {
  it("renders the record as Markdown with lines and first doc lines", () => {
    const md = renderRecord(record);
    assert.match(md, /^# billing\/invoice\.py/);
    assert.match(md, /\*\*python\*\* · documented by static/);
    assert.match(md, /Invoice parsing and totals\./);
    assert.match(md, /\n- `parse_invoice\(text: str\) -> Invoice` \(line 12\) — Parse one invoice\.\n/);
    assert.match(md, /\n- `total\(inv\)` \(line 60\)\n/);
    assert.match(md, /- class \*\*Invoice\*\* \(line 3\) — An invoice\./);
    assert.match(md, / {2}- `render\(self\)` \(line 8\)/);
    assert.match(md, /## Imports\n\n- json\n- decimal\.Decimal/);
    assert.match(md, /## Constants\n\n- TAX: 0\.2/);
    assert.doesNotMatch(md, /## Dependencies/);
    assert.match(md, /content sha 0123456789ab/);
  });
});
