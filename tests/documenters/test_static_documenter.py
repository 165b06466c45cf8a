"""Tests for the static (tree-sitter) documenter: concrete extraction results per language."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.languages import TREE_SITTER_LANGUAGES, detect_language
from cq_lsp.documenters.records import FileRecord
from cq_lsp.documenters.static import StaticDocumenter, is_test_path

PYTHON_SRC = '''\
#!/usr/bin/env python3
# Copyright 2024 Acme Corp. Licensed under the MIT license.
"""Invoice parsing and totals.

Everything here is pure; no I/O.
"""

from __future__ import annotations

import os.path
import json as _json
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from requests.adapters import HTTPAdapter, Retry as R
from . import helpers
from .models import LineItem, Tax

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Invoice", "parse_invoice", "MAX_LINES"]

MAX_LINES = 500
DEFAULT_CURRENCY: str = "EUR"
_cache = {}


# Parses the tax code table.
def _tax_table(raw):
    return {}


@attrs.define
class Invoice:
    """An invoice with line items.

    More text that is not in the first paragraph.
    """

    number: str

    def total(self, *, with_tax: bool = True) -> Decimal:
        """Sum of all lines."""
        return Decimal(0)

    @property
    def empty(self) -> bool:
        return not self.lines

    class Meta:
        """Options."""


class Status(Enum):
    OPEN = 1


def parse_invoice(text: str, *, strict: bool = False) -> Invoice:  # noqa: C901
    """Parse an invoice from text."""
    return Invoice(number=text)


async def fetch(url: str):
    ...
'''

PYTHON_NO_DOC_SRC = """\
import re


def _private():
    pass


def slugify(value: str,
            sep: str = "-") -> str:
    # Lower-case and replace runs of non-word characters.
    return re.sub(r"\\W+", sep, value.lower())


class Registry:
    pass


VERSION = (1, 2)
counter = 0
"""

GO_SRC = """\
// Copyright 2024 Acme Corp. All rights reserved.

// Package billing computes invoice totals.
//
// It has no external state.
package billing

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	yaml "gopkg.in/yaml.v3"
)

// MaxLines is the largest invoice we accept.
const MaxLines = 500

const (
	StatusOpen = iota
	StatusPaid
	statusVoid
)

// ErrEmpty is returned for an invoice without lines.
var ErrEmpty = errors.New("empty invoice")

// Invoice is a bill sent to a customer.
type Invoice struct {
	Number string
	Lines  []Line
}

type (
	// Line is one row of an invoice.
	Line struct{ Amount decimal.Decimal }
	// ID identifies an invoice.
	ID = string
)

// Totaler can compute a total.
type Totaler interface {
	// Total returns the sum.
	Total() decimal.Decimal
}

// Total sums the lines.
func (inv *Invoice) Total() decimal.Decimal {
	return decimal.Zero
}

// Parse reads an invoice.
func Parse(data []byte) (*Invoice, error) {
	_ = yaml.Unmarshal
	return nil, fmt.Errorf("todo")
}

func helper() {}
"""

RUST_SRC = """\
//! Invoice parsing for the billing service.
//!
//! Second paragraph.

use std::collections::HashMap;
use std::fmt::{self, Display};
use serde::{Deserialize, Serialize};
use crate::tax::Rate;
use anyhow::Result as AnyResult;

mod tax;

/// The largest invoice we accept.
pub const MAX_LINES: usize = 500;
static GREETING: &str = "hi";

/// An invoice.
///
/// Details.
#[derive(Debug, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
}

/// Invoice state.
pub enum Status {
    Open,
    Paid,
}

/// Anything with a total.
pub trait Total {
    /// The total.
    fn total(&self) -> u64;
}

impl Invoice {
    /// Make a new invoice.
    pub fn new(number: &str) -> Self {
        Invoice { number: number.to_string() }
    }

    fn private_helper(&self) {}
}

impl Display for Invoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number)
    }
}

/// Parse an invoice.
#[must_use]
pub fn parse(text: &str) -> AnyResult<Invoice> {
    Ok(Invoice::new(text))
}

pub(crate) fn internal() {}
"""

JAVA_SRC = """\
/*
 * Copyright 2024 Acme Corp.
 * Licensed under the Apache License, Version 2.0.
 */
package com.acme.billing;

import java.math.BigDecimal;
import java.util.*;
import com.acme.common.Money;
import com.google.common.collect.ImmutableList;
import static org.junit.Assert.assertEquals;

/**
 * An invoice sent to a customer.
 *
 * @author billing team
 */
@Entity
public class Invoice implements Comparable<Invoice> {
    public static final int MAX_LINES = 500;
    private static final String PREFIX = "INV-";
    private final String number;

    /** Creates an invoice. */
    public Invoice(String number) {
        this.number = number;
    }

    /**
     * The total amount.
     * @return the sum
     */
    @Override
    public BigDecimal total() throws IllegalStateException {
        return BigDecimal.ZERO;
    }

    private void helper() {}

    /** Builder for invoices. */
    public static class Builder {
        public Invoice build() { return null; }
    }
}

interface Totaler {
    BigDecimal total();
}

enum Status { OPEN, PAID; public boolean done() { return this == PAID; } }
"""

JS_SRC = """\
#!/usr/bin/env node
/**
 * HTTP client for the billing API.
 */
'use strict';

import axios from "axios";
import { readFile } from "node:fs/promises";
import path from "path";
import * as utils from "./utils.js";
import { parse as parseDate } from "@acme/dates/parse";
const lodash = require("lodash");
const { join } = require("path");

export const BASE_URL = "https://api.example.com";
const retryCount = 3;

/**
 * Fetch one invoice.
 * @param {string} id
 */
export async function fetchInvoice(id) {
  return axios.get(`${BASE_URL}/invoices/${id}`);
}

export const formatTotal = (total, currency = "EUR") => `${total} ${currency}`;

/** A small API client. */
export default class Client {
  /** Create a client. */
  constructor(token) {
    this.token = token;
  }

  // Lists invoices.
  async list(page = 1) {
    return [];
  }

  static create() { return new Client(); }
}

function internal() {}

export { internal as helper };
export * from "./types.js";
"""

TS_SRC = """\
// Geometry helpers for the dashboard.

import type { Point } from "./point";
import { z } from "zod";

/** Anything with an area. */
export interface Shape {
  /** The area in square units. */
  area(): number;
  name: string;
}

export type ShapeKind = "circle" | "square";

export enum Color {
  Red,
  Green,
}

export const MAX_SHAPES: number = 100;

/** A circle. */
export class Circle implements Shape {
  name = "circle";
  constructor(private readonly radius: number) {}

  area(): number {
    return Math.PI * this.radius ** 2;
  }
}

export function largest<T extends Shape>(shapes: T[]): T | undefined {
  return shapes[0];
}

export namespace Geometry {
  export const ORIGIN = 0;
}

declare function legacy(x: number): void;
"""

TSX_SRC = """\
import React, { useState } from "react";
import styles from "./Button.module.css";

/** Props for {@link Button}. */
export interface ButtonProps {
  label: string;
  onClick?: () => void;
}

/** A clickable button. */
export function Button({ label, onClick }: ButtonProps): JSX.Element {
  const [pressed, setPressed] = useState(false);
  return <button className={styles.btn} onClick={onClick}>{label}</button>;
}

export const IconButton = (props: ButtonProps) => <Button {...props} />;
"""

MARKDOWN_SRC = """\
---
title: front matter
---

[![CI](https://example.com/badge.svg)](https://example.com)

# cq-lsp

A language-server sidecar that keeps a searchable
documentation index fresh.

## Install

```sh
# not a heading
pip install cq-lsp
```

## Usage
"""


def document(
    path: str, content: str, language: str | None = None, local: frozenset[str] = frozenset()
) -> FileRecord:
    lang = language or detect_language(path)
    return StaticDocumenter().document(path, content, lang, DocumentContext(local_modules=local))


# --- languages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("pkg/mod.py", "python"),
        ("types.pyi", "python"),
        ("web/app.mjs", "javascript"),
        ("web/App.jsx", "javascript"),
        ("src/index.d.ts", "typescript"),
        ("src/App.tsx", "tsx"),
        ("cmd/main.go", "go"),
        ("src/lib.rs", "rust"),
        ("src/main/java/A.java", "java"),
        ("README.md", "markdown"),
        ("package.json", "json"),
        (".github/workflows/ci.yml", "yaml"),
        ("pyproject.toml", "toml"),
        ("scripts/run.sh", "shell"),
        ("src/x.c", "c"),
        ("src/x.hpp", "cpp"),
        ("lib/x.rb", "ruby"),
        ("Dockerfile", "dockerfile"),
        ("sub/Makefile", "makefile"),
        ("LICENSE", "text"),
        ("data.unknownext", "text"),
        ("NOTES.TXT", "text"),
    ],
)
def test_detect_language(path: str, expected: str) -> None:
    assert detect_language(path) == expected


def test_tree_sitter_languages() -> None:
    # The six with their own extractors, and the tags-query languages (20 and more in all).
    assert {"python", "javascript", "typescript", "tsx", "go", "rust", "java"} <= set(
        TREE_SITTER_LANGUAGES
    )
    assert {"c", "cpp", "csharp", "ruby", "php", "kotlin", "swift", "scala", "lua", "shell"} <= (
        set(TREE_SITTER_LANGUAGES)
    )
    assert len(TREE_SITTER_LANGUAGES - {"tsx"}) >= 20
    assert "markdown" not in TREE_SITTER_LANGUAGES


# --- Python --------------------------------------------------------------------------------------


def test_python_record() -> None:
    rec = document("billing/invoice.py", PYTHON_SRC, local=frozenset({"billing"}))
    assert rec.processor == "static"
    assert rec.filename == "invoice.py"
    assert rec.language == "python"
    assert rec.ddd_context is None
    assert rec.overview == "Invoice parsing and totals."
    assert list(rec.functions) == ["_tax_table", "parse_invoice", "fetch"]
    assert rec.functions["parse_invoice"] == {
        "signature": "def parse_invoice(text: str, *, strict: bool = False) -> Invoice",
        "doc": "Parse an invoice from text.",
        "line": 60,
    }
    assert rec.functions["_tax_table"]["doc"] == "Parses the tax code table."
    assert rec.functions["fetch"]["signature"] == "async def fetch(url: str)"
    invoice = rec.types_interfaces_classes["Invoice"]
    assert invoice["kind"] == "class"
    assert invoice["line"] == 36
    assert invoice["doc"] == "An invoice with line items."
    assert invoice["methods"]["total"] == {
        "signature": "def total(self, *, with_tax: bool = True) -> Decimal",
        "doc": "Sum of all lines.",
        "line": 44,
    }
    assert invoice["methods"]["empty"]["line"] == 49
    assert rec.types_interfaces_classes["Invoice.Meta"]["doc"] == "Options."
    assert rec.types_interfaces_classes["Status"]["kind"] == "enum"
    assert rec.imports == {
        "__future__": ["annotations"],
        "os.path": [],
        "json": [],
        "decimal": ["Decimal"],
        "typing": ["TYPE_CHECKING"],
        "attrs": [],
        "requests.adapters": ["HTTPAdapter", "Retry"],
        ".": ["helpers"],
        ".models": ["LineItem", "Tax"],
        "numpy": [],
    }
    # __all__ decides what is public.
    assert rec.exports == {"Invoice": "class", "parse_invoice": "function", "MAX_LINES": "constant"}
    assert rec.constants == {"MAX_LINES": "500", "DEFAULT_CURRENCY": '"EUR"'}
    assert rec.dependencies == ["attrs", "numpy", "requests"]
    assert rec.other_notes == ["66 lines"]


def test_python_without_docstring_summarizes_and_exports_public_names() -> None:
    rec = document("util.py", PYTHON_NO_DOC_SRC)
    assert rec.overview == (
        "Python module defining 1 class (Registry), 2 functions (_private, slugify) "
        "and 1 constant (VERSION)."
    )
    assert rec.functions["slugify"]["signature"] == (
        'def slugify(value: str, sep: str = "-") -> str'
    )
    # A comment inside the body is not documentation.
    assert rec.functions["slugify"]["doc"] == ""
    assert rec.exports == {
        "slugify": "function",
        "Registry": "class",
        "VERSION": "constant",
        "counter": "variable",
    }
    assert rec.constants == {"VERSION": "(1, 2)"}
    assert rec.dependencies == []


def test_python_local_modules_are_not_dependencies() -> None:
    src = "import billing.models\nimport requests\nfrom billing import x\n"
    assert document("a.py", src, local=frozenset({"billing"})).dependencies == ["requests"]
    assert document("a.py", src).dependencies == ["billing", "requests"]


def test_python_summary_lists_at_most_five_names() -> None:
    src = "".join(f"def f{i}():\n    pass\n" for i in range(7))
    assert document("m.py", src).overview == (
        "Python module defining 7 functions (f0, f1, f2, f3, f4, ...)."
    )


# --- Go ------------------------------------------------------------------------------------------


def test_go_record() -> None:
    rec = document("billing/invoice.go", GO_SRC)
    assert rec.overview == "Package billing computes invoice totals."
    assert rec.functions == {
        "Parse": {
            "signature": "func Parse(data []byte) (*Invoice, error)",
            "doc": "Parse reads an invoice.",
            "line": 53,
        },
        "helper": {"signature": "func helper()", "doc": "", "line": 58},
    }
    types = rec.types_interfaces_classes
    assert types["Invoice"]["kind"] == "struct"
    assert types["Invoice"]["doc"] == "Invoice is a bill sent to a customer."
    assert types["Invoice"]["line"] == 29
    assert types["Invoice"]["methods"] == {
        "Total": {
            "signature": "func (inv *Invoice) Total() decimal.Decimal",
            "doc": "Total sums the lines.",
            "line": 48,
        }
    }
    assert types["Line"] == {
        "kind": "struct",
        "doc": "Line is one row of an invoice.",
        "line": 36,
        "methods": {},
    }
    assert types["ID"]["kind"] == "type alias"
    assert types["Totaler"]["kind"] == "interface"
    assert types["Totaler"]["methods"]["Total"]["doc"] == "Total returns the sum."
    assert rec.imports == {
        "errors": [],
        "fmt": [],
        "github.com/shopspring/decimal": [],
        "gopkg.in/yaml.v3": ["yaml"],
    }
    assert rec.exports == {
        "MaxLines": "constant",
        "StatusOpen": "constant",
        "StatusPaid": "constant",
        "ErrEmpty": "variable",
        "Invoice": "struct",
        "Line": "struct",
        "ID": "type alias",
        "Totaler": "interface",
        "Parse": "function",
    }
    assert rec.constants == {
        "MaxLines": "500",
        "StatusOpen": "iota",
        "StatusPaid": "iota (implicit)",
        "statusVoid": "iota (implicit)",
    }
    assert rec.dependencies == ["github.com/shopspring/decimal", "gopkg.in/yaml.v3"]


def test_go_method_before_type_and_generated_header() -> None:
    src = (
        "// Code generated by protoc-gen-go. DO NOT EDIT.\n"
        "package pb\n\n"
        "func (l *List[T]) Len() int { return 0 }\n\n"
        "type List[T any] struct{}\n"
    )
    rec = document("pb/list.pb.go", src)
    assert rec.types_interfaces_classes["List"]["kind"] == "struct"
    assert rec.types_interfaces_classes["List"]["methods"]["Len"]["line"] == 4
    assert "generated file" in rec.other_notes
    assert rec.overview == "Go file in package pb defining 1 struct (List)."


# --- Rust ----------------------------------------------------------------------------------------


def test_rust_record() -> None:
    rec = document("src/lib.rs", RUST_SRC)
    assert rec.overview == "Invoice parsing for the billing service."
    assert rec.functions == {
        "parse": {
            "signature": "pub fn parse(text: &str) -> AnyResult<Invoice>",
            "doc": "Parse an invoice.",
            "line": 54,
        },
        "internal": {"signature": "pub(crate) fn internal()", "doc": "", "line": 58},
    }
    types = rec.types_interfaces_classes
    invoice = types["Invoice"]
    assert (invoice["kind"], invoice["doc"], invoice["line"]) == ("struct", "An invoice.", 21)
    # Inherent and trait impl methods both attach to the type, each exactly once.
    assert list(invoice["methods"]) == ["new", "private_helper", "fmt"]
    assert invoice["methods"]["new"] == {
        "signature": "pub fn new(number: &str) -> Self",
        "doc": "Make a new invoice.",
        "line": 39,
    }
    assert types["Status"]["kind"] == "enum"
    assert types["Total"]["kind"] == "trait"
    assert types["Total"]["methods"]["total"]["signature"] == "fn total(&self) -> u64"
    assert types["Total"]["methods"]["total"]["doc"] == "The total."
    assert rec.imports == {
        "std::collections": ["HashMap"],
        "std::fmt": ["self", "Display"],
        "serde": ["Deserialize", "Serialize"],
        "crate::tax": ["Rate"],
        "anyhow": ["Result"],
    }
    assert rec.exports == {
        "MAX_LINES": "constant",
        "Invoice": "struct",
        "Status": "enum",
        "Total": "trait",
        "parse": "function",
    }
    assert rec.constants == {"MAX_LINES": "500", "GREETING": '"hi"'}
    assert rec.dependencies == ["anyhow", "serde"]


# --- Java ----------------------------------------------------------------------------------------


def test_java_record() -> None:
    rec = document("src/main/java/com/acme/billing/Invoice.java", JAVA_SRC)
    # The license header is skipped; the public class's Javadoc describes the file.
    assert rec.overview == "An invoice sent to a customer."
    assert rec.functions == {}
    types = rec.types_interfaces_classes
    invoice = types["Invoice"]
    assert (invoice["kind"], invoice["line"]) == ("class", 19)
    assert invoice["methods"]["total"] == {
        "signature": "public BigDecimal total() throws IllegalStateException",
        "doc": "The total amount.",
        "line": 34,
    }
    assert invoice["methods"]["Invoice"]["doc"] == "Creates an invoice."
    assert types["Invoice.Builder"]["methods"]["build"]["signature"] == "public Invoice build()"
    assert types["Totaler"]["kind"] == "interface"
    assert types["Status"]["methods"]["done"]["signature"] == "public boolean done()"
    assert rec.imports == {
        "java.math": ["BigDecimal"],
        "java.util": ["*"],
        "com.acme.common": ["Money"],
        "com.google.common.collect": ["ImmutableList"],
        "org.junit.Assert": ["assertEquals"],
    }
    assert rec.exports == {
        "Invoice": "class",
        "Invoice.MAX_LINES": "constant",
        "Invoice.Invoice": "constructor",
        "Invoice.total": "method",
        "Invoice.Builder": "class",
        "Invoice.Builder.build": "method",
    }
    assert rec.constants == {"MAX_LINES": "500", "PREFIX": '"INV-"'}
    # java.* is the JDK and com.acme.* is the file's own organisation.
    assert rec.dependencies == ["com.google.common.collect", "org.junit"]


# --- JavaScript / TypeScript / TSX ---------------------------------------------------------------


def test_javascript_record() -> None:
    rec = document("web/api.js", JS_SRC)
    assert rec.overview == "HTTP client for the billing API."
    assert rec.functions["fetchInvoice"] == {
        "signature": "async function fetchInvoice(id)",
        "doc": "Fetch one invoice.",
        "line": 22,
    }
    assert rec.functions["formatTotal"]["signature"] == (
        'const formatTotal = (total, currency = "EUR") =>'
    )
    assert list(rec.functions) == ["fetchInvoice", "formatTotal", "internal"]
    client = rec.types_interfaces_classes["Client"]
    assert (client["kind"], client["doc"], client["line"]) == ("class", "A small API client.", 29)
    assert client["methods"]["list"] == {
        "signature": "async list(page = 1)",
        "doc": "Lists invoices.",
        "line": 36,
    }
    assert client["methods"]["constructor"]["doc"] == "Create a client."
    assert rec.imports == {
        "axios": ["axios"],
        "node:fs/promises": ["readFile"],
        "path": ["path", "join"],
        "./utils.js": ["*"],
        "@acme/dates/parse": ["parse"],
        "lodash": ["lodash"],
        "./types.js": ["*"],
    }
    assert rec.exports == {
        "BASE_URL": "constant",
        "fetchInvoice": "function",
        "formatTotal": "function",
        "default": "class",
        "*": "reexport",
        "helper": "function",
    }
    assert rec.constants == {"BASE_URL": '"https://api.example.com"'}
    # No relative paths, no node: or bare builtins; scoped packages keep their scope.
    assert rec.dependencies == ["@acme/dates", "axios", "lodash"]


def test_typescript_record() -> None:
    rec = document("src/shapes.ts", TS_SRC)
    assert rec.overview == "Geometry helpers for the dashboard."
    types = rec.types_interfaces_classes
    assert types["Shape"]["kind"] == "interface"
    assert types["Shape"]["doc"] == "Anything with an area."
    assert types["Shape"]["methods"] == {
        "area": {"signature": "area(): number", "doc": "The area in square units.", "line": 9}
    }
    assert types["ShapeKind"]["kind"] == "type alias"
    assert types["Color"]["kind"] == "enum"
    assert types["Circle"]["doc"] == "A circle."
    assert types["Circle"]["methods"]["constructor"]["signature"] == (
        "constructor(private readonly radius: number)"
    )
    assert types["Geometry"]["kind"] == "namespace"
    assert rec.functions["largest"] == {
        "signature": "function largest<T extends Shape>(shapes: T[]): T | undefined",
        "doc": "",
        "line": 32,
    }
    assert rec.functions["legacy"]["signature"] == "function legacy(x: number): void"
    assert rec.exports == {
        "Shape": "interface",
        "ShapeKind": "type alias",
        "Color": "enum",
        "MAX_SHAPES": "constant",
        "Circle": "class",
        "largest": "function",
        "Geometry": "namespace",
    }
    assert rec.imports == {"./point": ["Point"], "zod": ["z"]}
    assert rec.constants == {"MAX_SHAPES": "100"}
    assert rec.dependencies == ["zod"]


def test_tsx_record() -> None:
    rec = document("src/Button.tsx", TSX_SRC)
    assert rec.language == "tsx"
    assert rec.overview == (
        "TSX module defining 1 interface (ButtonProps) and 2 functions (Button, IconButton)."
    )
    assert rec.functions["Button"] == {
        "signature": "function Button({ label, onClick }: ButtonProps): JSX.Element",
        "doc": "A clickable button.",
        "line": 11,
    }
    assert rec.functions["IconButton"]["signature"] == "const IconButton = (props: ButtonProps) =>"
    assert rec.exports == {
        "ButtonProps": "interface",
        "Button": "function",
        "IconButton": "function",
    }
    assert rec.imports == {"react": ["React", "useState"], "./Button.module.css": ["styles"]}
    assert rec.dependencies == ["react"]
    assert "parse errors: tree-sitter recovered from syntax errors" not in rec.other_notes


def test_commonjs_exports_and_requires() -> None:
    src = (
        "const express = require('express');\n"
        "const { readFileSync } = require('fs');\n"
        "function handler(req, res) {}\n"
        "module.exports = { handler, VERSION: 1 };\n"
        "exports.extra = 2;\n"
    )
    rec = document("server.cjs", src)
    assert rec.imports == {"express": ["express"], "fs": ["readFileSync"]}
    assert rec.dependencies == ["express"]
    assert rec.exports == {"handler": "commonjs", "VERSION": "commonjs", "extra": "commonjs"}


# --- text and edge cases -------------------------------------------------------------------------


def test_markdown_record() -> None:
    rec = document("README.md", MARKDOWN_SRC)
    assert rec.language == "markdown"
    assert rec.overview == (
        "cq-lsp: A language-server sidecar that keeps a searchable documentation index fresh."
    )
    assert rec.other_notes == ["markdown file", "headings: cq-lsp; Install; Usage", "19 lines"]
    assert rec.functions == {} and rec.types_interfaces_classes == {} and rec.imports == {}
    assert rec.dependencies == []


def test_plain_text_and_other_languages() -> None:
    rec = document("notes/TODO", "\n\n   \n--- \nShip the indexer\nthen the server\n")
    assert rec.language == "text"
    # The whole first paragraph, not its first line: an overview is never cut mid-sentence.
    assert rec.overview == "Ship the indexer then the server"
    assert rec.other_notes == ["text file", "6 lines"]
    shell = document("deploy.sh", "#!/bin/sh\n# Deploy the service.\nset -e\n")
    assert shell.overview == "Deploy the service."
    assert shell.other_notes == ["3 lines"]
    data = document("package.json", '{\n  "name": "cq"\n}\n')
    assert data.overview == "JSON file with 1 top-level key (name)."
    assert [(s["name"], s["kind"], s["line"]) for s in data.symbols] == [("name", "key", 2)]


def test_empty_file() -> None:
    for path in ("empty.py", "empty.go", "empty.md", "empty.txt"):
        rec = document(path, "")
        assert rec.overview == "Empty file."
        assert rec.other_notes == ["empty file", "0 lines"]
        assert rec.functions == {} and rec.dependencies == []


def test_syntax_errors_are_recovered() -> None:
    src = "def broken(:\n    pass\n\nclass Ok:\n    def m(self): ...\n"
    rec = document("tests/test_broken.py", src)
    assert rec.other_notes == [
        "parse errors: tree-sitter recovered from syntax errors",
        "5 lines",
        "test file",
    ]
    assert "Ok" in rec.types_interfaces_classes
    assert rec.types_interfaces_classes["Ok"]["methods"]["m"]["signature"] == "def m(self)"


@pytest.mark.parametrize("language", sorted(TREE_SITTER_LANGUAGES | {"markdown", "text"}))
def test_never_raises_on_garbage(language: str) -> None:
    inputs = [
        "\x00\x01\x02 binary \ufffd\udcff ",
        "{" * 5000,
        "x" * 200_000,
        "def class fn func struct impl interface ( [ { < '\" `",
        PYTHON_SRC[:137] + RUST_SRC[40:300] + JAVA_SRC[::3],
    ]
    for content in inputs:
        rec = document("garbage", content, language)
        assert rec.processor == "static"
        assert rec.language == language
        assert not any(note.startswith("static extraction failed") for note in rec.other_notes)
        assert len(rec.overview) <= 300


def test_long_signature_and_doc_are_truncated() -> None:
    params = ", ".join(f"argument_{i}: int" for i in range(40))
    doc = "word " * 200
    rec = document("long.py", f'def f({params}):\n    """{doc}"""\n')
    assert len(rec.functions["f"]["signature"]) <= 200
    assert rec.functions["f"]["signature"].endswith("...")
    assert len(rec.functions["f"]["doc"]) <= 300


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_api.py", True),
        ("pkg/api_test.go", True),
        ("src/App.test.tsx", True),
        ("src/main/java/InvoiceTest.java", True),
        ("src/__tests__/x.js", True),
        ("src/api.py", False),
        ("src/contest.py", False),
    ],
)
def test_is_test_path(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


# --- determinism and threads ---------------------------------------------------------------------

_ALL_SAMPLES: list[tuple[str, str]] = [
    ("billing/invoice.py", PYTHON_SRC),
    ("util.py", PYTHON_NO_DOC_SRC),
    ("billing/invoice.go", GO_SRC),
    ("src/lib.rs", RUST_SRC),
    ("src/Invoice.java", JAVA_SRC),
    ("web/api.js", JS_SRC),
    ("src/shapes.ts", TS_SRC),
    ("src/Button.tsx", TSX_SRC),
    ("README.md", MARKDOWN_SRC),
]


def test_deterministic() -> None:
    for path, src in _ALL_SAMPLES:
        assert document(path, src).to_dict() == document(path, src).to_dict()


def test_thread_safety_matches_sequential() -> None:
    # 200 files: every sample, also truncated at different points so the trees differ.
    jobs: list[tuple[str, str]] = []
    i = 0
    while len(jobs) < 200:
        path, src = _ALL_SAMPLES[i % len(_ALL_SAMPLES)]
        cut = len(src) - (i * 37) % max(1, len(src) // 2)
        jobs.append((f"{i}/{path}", src[:cut]))
        i += 1
    sequential = [document(path, src).to_dict() for path, src in jobs]
    barrier = threading.Barrier(4)

    def run(chunk: list[tuple[str, str]]) -> list[dict[str, Any]]:
        barrier.wait()
        return [document(path, src).to_dict() for path, src in chunk]

    chunks = [jobs[k::4] for k in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, chunks))
    concurrent: list[dict[str, Any] | None] = [None] * len(jobs)
    for k, chunk_result in enumerate(results):
        for j, rec in enumerate(chunk_result):
            concurrent[k + 4 * j] = rec
    assert concurrent == sequential
