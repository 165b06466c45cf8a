// A file's documentation record (`cq-lsp show --json`) as Markdown, and where in the file a
// search hit's symbol is. Pure functions.

export interface FunctionDoc {
  signature?: string;
  doc?: string;
  line?: number;
}

export interface TypeDoc {
  kind?: string;
  doc?: string;
  line?: number;
  methods?: Record<string, FunctionDoc>;
}

export interface FileRecord {
  path: string;
  filename?: string;
  language?: string | null;
  overview?: string | null;
  functions?: Record<string, FunctionDoc> | null;
  exports?: unknown;
  imports?: unknown;
  types_interfaces_classes?: Record<string, TypeDoc> | null;
  constants?: unknown;
  dependencies?: unknown;
  other_notes?: unknown;
  ddd_context?: string | null;
  content_sha?: string | null;
  documented_at_commit?: string | null;
  documented_at?: string | null;
  processor?: string | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Identifier-aware words: `parseInvoice`, `parse_invoice` and `Parse-Invoice` → parse, invoice. */
export function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

interface Symbol {
  name: string;
  line: number;
}

function symbols(record: FileRecord): Symbol[] {
  const out: Symbol[] = [];
  const fns = isRecord(record.functions) ? record.functions : {};
  for (const [name, f] of Object.entries(fns)) {
    if (isRecord(f) && typeof f.line === "number") {
      out.push({ name, line: f.line });
    }
  }
  const types = isRecord(record.types_interfaces_classes) ? record.types_interfaces_classes : {};
  for (const [name, t] of Object.entries(types)) {
    if (!isRecord(t)) {
      continue;
    }
    if (typeof t.line === "number") {
      out.push({ name, line: t.line });
    }
    const methods = isRecord(t.methods) ? t.methods : {};
    for (const [m, f] of Object.entries(methods)) {
      if (isRecord(f) && typeof f.line === "number") {
        out.push({ name: `${name}.${m}`, line: f.line });
      }
    }
  }
  return out;
}

/**
 * The symbol that best matches the query, with its 1-based line: the one sharing the most query
 * words with its name (an exact name match wins, then the fewest unmatched words), the earliest
 * on ties. Undefined when no symbol shares a word, so the caller opens the file at its top.
 * `name` is the bare name (a method's, without its class), to select it on that line.
 */
export function findSymbol(record: FileRecord, query: string): { line: number; name: string } | undefined {
  const terms = new Set(words(query.replace(/["*^]/g, " ")));
  const compact = query.trim().toLowerCase();
  if (terms.size === 0) {
    return undefined;
  }
  let best: { score: number; line: number; name: string } | undefined;
  for (const s of symbols(record)) {
    const short = s.name.includes(".") ? s.name.slice(s.name.lastIndexOf(".") + 1) : s.name;
    const nameWords = words(s.name);
    let score = nameWords.filter((w) => terms.has(w)).length;
    if (score === 0) {
      continue;
    }
    if (short.toLowerCase() === compact || s.name.toLowerCase() === compact) {
      score += 100;
    }
    // Fewer unmatched words: `parse_invoice` beats `parse_invoice_batch_headers` for "parse invoice".
    score -= (nameWords.length - score) * 0.01;
    if (!best || score > best.score || (score === best.score && s.line < best.line)) {
      best = { score, line: s.line, name: short };
    }
  }
  return best ? { line: best.line, name: best.name } : undefined;
}

function list(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  }
  if (isRecord(value)) {
    return Object.entries(value).map(([k, v]) =>
      typeof v === "string" && v ? `${k}: ${v}` : v === null || v === "" ? k : `${k}: ${JSON.stringify(v)}`,
    );
  }
  if (typeof value === "string" && value.trim()) {
    return [value];
  }
  return [];
}

function code(text: string): string {
  const ticks = text.includes("`") ? "``" : "`";
  return `${ticks}${ticks === "``" ? " " : ""}${text}${ticks === "``" ? " " : ""}${ticks}`;
}

function at(line: number | undefined): string {
  return line ? ` (line ${line})` : "";
}

function firstLine(doc: string | undefined): string {
  const line = doc?.trim().split("\n")[0]?.trim();
  return line ? ` — ${line}` : "";
}

/**
 * The record as a Markdown page. Line numbers are plain text: the Markdown preview refuses
 * file: links, and CQ: Search opens a file at its symbol.
 */
export function renderRecord(record: FileRecord): string {
  const out: string[] = [`# ${record.path}`, ""];
  const meta = [
    record.language ? `**${record.language}**` : undefined,
    record.processor ? `documented by ${record.processor}` : undefined,
    record.documented_at ? `at ${record.documented_at}` : undefined,
    record.documented_at_commit ? `commit \`${record.documented_at_commit.slice(0, 12)}\`` : undefined,
  ].filter((x): x is string => x !== undefined);
  if (meta.length) {
    out.push(meta.join(" · "), "");
  }
  if (record.overview) {
    out.push(record.overview, "");
  }
  if (record.ddd_context) {
    out.push(`_Context:_ ${record.ddd_context}`, "");
  }
  const fns = isRecord(record.functions) ? record.functions : {};
  if (Object.keys(fns).length) {
    out.push("## Functions", "");
    for (const [name, f] of Object.entries(fns)) {
      const fd: FunctionDoc = isRecord(f) ? f : {};
      out.push(`- ${code(fd.signature || name)}${at(fd.line)}${firstLine(fd.doc)}`);
    }
    out.push("");
  }
  const types = isRecord(record.types_interfaces_classes) ? record.types_interfaces_classes : {};
  if (Object.keys(types).length) {
    out.push("## Types", "");
    for (const [name, t] of Object.entries(types)) {
      const td: TypeDoc = isRecord(t) ? t : {};
      out.push(`- ${td.kind ? `${td.kind} ` : ""}**${name}**${at(td.line)}${firstLine(td.doc)}`);
      for (const [m, f] of Object.entries(isRecord(td.methods) ? td.methods : {})) {
        const fd: FunctionDoc = isRecord(f) ? f : {};
        out.push(`  - ${code(fd.signature || m)}${at(fd.line)}${firstLine(fd.doc)}`);
      }
    }
    out.push("");
  }
  const sections: [string, unknown][] = [
    ["Exports", record.exports],
    ["Imports", record.imports],
    ["Constants", record.constants],
    ["Dependencies", record.dependencies],
    ["Notes", record.other_notes],
  ];
  for (const [title, value] of sections) {
    const items = list(value);
    if (items.length) {
      out.push(`## ${title}`, "", ...items.map((i) => `- ${i}`), "");
    }
  }
  if (record.content_sha) {
    out.push("---", `_content sha ${record.content_sha.slice(0, 12)}_`);
  }
  return out.join("\n");
}
