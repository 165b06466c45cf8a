"""Search: identifiers, natural language, ranking, FTS5 syntax for power users, errors, the CLI."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cq_lsp.documenters.records import FileRecord
from cq_lsp.errors import UsageError
from cq_lsp.store.db import Database
from cq_lsp.store.ledger import Change, Ledger
from cq_lsp.store.search import (
    _DEF_AFTER,
    _DEF_BEFORE,
    BEST_SPAN,
    MAX_LIMIT,
    MEET_RESULTS,
    Highlighter,
    _definition_line,
    _line_offset,
    is_fts_syntax,
    search,
)
from cq_lsp.worktree.guard import PathGuard
from cq_lsp.worktree.project import Project
from tests.conftest import Cq, make_repo
from tests.store_helpers import claim, commit_job, document_tree

# Unrelated files, so that bm25's IDF is meaningful (a word in more than half of the documents
# gets almost no weight) and every test searches a realistic mix.
FILLER = {
    f"misc/util{i}.py": (
        f"def helper_{i}(value):\n    return value * {i}\n",
        {"overview": f"Arithmetic helper number {i}.", "functions": {f"helper_{i}": {}}},
    )
    for i in range(12)
}

CORPUS: dict[str, tuple[str, dict]] = {
    "billing/camel.ts": (
        "export function parseInvoice(text: string) { return text; }\n",
        {
            "overview": "Reads bills from text.",
            "functions": {"parseInvoice": {}},
            "exports": {"parseInvoice": "function"},
        },
    ),
    "billing/snake.py": (
        "def parse_invoice(text):\n    return text\n",
        {"overview": "Reads bills from text.", "functions": {"parse_invoice": {}}},
    ),
    "billing/dotted.py": (
        "from billing import Invoice\n\nresult = Invoice.parse(data)\n",
        {"overview": "Glue code.", "imports": {"billing": ["Invoice"]}},
    ),
    "web/render.py": (
        "def render_page(total):\n    return f'<b>{total}</b>'\n",
        {"overview": "Renders an invoice page as HTML.", "functions": {"render_page": {}}},
    ),
    "tools/tokenize.py": (
        "def parse_tokens(text):\n    return text.split()\n",
        {"overview": "Splits text into tokens.", "functions": {"parse_tokens": {}}},
    ),
    "docs/phrase.md": (
        "The exact phrase lives here.\nAnother line says phrase exact in reverse.\n",
        {"overview": "Notes for power users."},
    ),
}


def index_files(root: Path, db: Database, files: dict[str, tuple[str, dict]]) -> None:
    """Document files the way the worker does: enqueue, claim, commit (one transaction each)."""
    guard = PathGuard(root, [], 1_000_000)
    ledger = Ledger(db)
    for rel, (text, fields) in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        content = guard.read(rel)
        ledger.enqueue([Change(rel, content.sha)], source="test")
        assert claim(ledger, rel, content.sha, pid=os.getpid())
        record = FileRecord(path=rel, filename=rel.rsplit("/", 1)[-1], language="python", **fields)
        assert commit_job(
            db, dataset="shop", task_sha=content.sha, record=record, content=content, commit=None
        )


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str]) -> Project:
    p = Project(make_repo(tmp_path / "shop", {}))
    p.ensure_state_dir()
    return p


@pytest.fixture
def db(project: Project) -> Iterator[Database]:
    d = Database(project.index_db)
    index_files(project.root, d, {**FILLER, **CORPUS})
    yield d
    d.close()


def paths(result: dict) -> list[str]:
    return [r["path"] for r in result["results"]]


def by_path(result: dict) -> dict[str, dict]:
    return {r["path"]: r for r in result["results"]}


# -- identifiers -----------------------------------------------------------------------------------


def test_invoice_finds_every_spelling_of_the_identifier(db: Database) -> None:
    res = search(db, "invoice", limit=20)
    found = set(paths(res))
    assert {"billing/camel.ts", "billing/snake.py", "billing/dotted.py"} <= found
    assert "web/render.py" in found  # its overview says "invoice"
    assert not any(p.startswith("misc/") for p in found)
    assert all(r["match"] == "all" for r in res["results"])


@pytest.mark.parametrize(
    "query", ["parseInvoice", "parse_invoice", "ParseInvoice", "Invoice.parse"]
)
def test_identifier_queries_find_camel_and_snake(db: Database, query: str) -> None:
    res = search(db, query, limit=20)
    assert res["terms"] == ["parse", "invoice"] or res["terms"] == ["invoice", "parse"]
    top = paths(res)[:3]
    assert set(top) == {"billing/camel.ts", "billing/snake.py", "billing/dotted.py"}
    # Definitions and symbols spelled with the same words come first, then the text.
    assert all(r["match"] in ("definition", "symbol", "all") for r in res["results"][:3])


# -- natural language and ranking ------------------------------------------------------------------


def test_both_terms_rank_above_one_term(db: Database) -> None:
    res = search(db, "parse invoice", limit=20)
    assert res["mode"] == "terms" and res["terms"] == ["parse", "invoice"]
    order = paths(res)
    both = {"billing/camel.ts", "billing/snake.py", "billing/dotted.py"}
    one = {"web/render.py", "tools/tokenize.py"}
    assert set(order[:3]) == both
    assert set(order[3:5]) == one
    # parse_invoice and parseInvoice are the query's words as one symbol: above the text tier.
    assert [r["kind"] for r in res["results"]] == ["symbol"] * 2 + ["text"] * 3
    assert [r["match"] for r in res["results"]][2:] == ["all"] + ["any"] * 2


def test_both_terms_rank_above_a_strong_single_term_file(project: Project, db: Database) -> None:
    """A file named and described by one term still comes after a weak match of both."""
    index_files(
        project.root,
        db,
        {
            "invoice/invoice.py": (
                "INVOICE = 'invoice'\n",
                {"overview": "Invoice invoice invoice.", "constants": {"INVOICE": "'invoice'"}},
            ),
            "weak/both.txt": (
                "a long note that mentions parse once and invoice once\n",
                {"overview": "A note."},
            ),
        },
    )
    res = search(db, "parse invoice", limit=50)
    order = paths(res)
    assert order.index("weak/both.txt") < order.index("invoice/invoice.py")
    assert by_path(res)["weak/both.txt"]["match"] == "all"
    assert by_path(res)["invoice/invoice.py"]["match"] == "any"


def test_one_matching_term_still_returns_results(db: Database) -> None:
    res = search(db, "render zebraunicorn", limit=10)
    assert paths(res) == ["web/render.py"]
    assert res["results"][0]["match"] == "any"


def test_any_fallback_matches_prefixes(db: Database) -> None:
    # "tokenizer" does not occur; "token*" is not a prefix of it, but "tokens" starts with "token".
    res = search(db, "token nothingmatches", limit=10)
    assert paths(res) == ["tools/tokenize.py"]
    assert res["results"][0]["match"] == "any"


def test_no_term_matches_gives_empty_results(db: Database) -> None:
    res = search(db, "zebraunicorn quasar", limit=10)
    assert res["results"] == []
    assert res["query"] == "zebraunicorn quasar"


def test_symbol_and_overview_rank_above_a_single_content_mention(
    project: Project, db: Database
) -> None:
    index_files(
        project.root,
        db,
        {
            "acct/sym.py": (
                "def ledgerBalance(entries):\n    return sum(entries)\n",
                {"overview": "Sums entries.", "functions": {"ledgerBalance": {}}},
            ),
            "acct/ov.py": (
                "def total(entries):\n    return sum(entries)\n",
                {"overview": "Keeps the ledger of payments.", "functions": {"total": {}}},
            ),
            "acct/mention.py": (
                "def report(entries):\n    # written to the ledger later\n"
                + "".join(f"    step_{i} = entries[{i}]\n" for i in range(20)),
                {"overview": "Prints a report.", "functions": {"report": {}}},
            ),
        },
    )
    res = search(db, "ledger", limit=10)
    order = paths(res)
    assert set(order) == {"acct/sym.py", "acct/ov.py", "acct/mention.py"}
    assert order[-1] == "acct/mention.py"
    scores = [r["score"] for r in res["results"]]
    assert scores == sorted(scores, reverse=True)
    assert by_path(res)["acct/sym.py"]["score"] > by_path(res)["acct/mention.py"]["score"]
    assert by_path(res)["acct/ov.py"]["score"] > by_path(res)["acct/mention.py"]["score"]


def test_results_are_best_first(db: Database) -> None:
    res = search(db, "text", limit=50)
    scores = [r["score"] for r in res["results"]]
    assert len(scores) >= 3
    assert scores == sorted(scores, reverse=True)


def test_colon_in_plain_text_is_not_a_column_filter(db: Database) -> None:
    """A pasted message like "error: render failed" is natural language, not FTS5 syntax."""
    assert not is_fts_syntax("error: render failed")
    assert not is_fts_syntax("std::vector")
    assert is_fts_syntax("overview:invoice")
    assert is_fts_syntax("Overview : invoice")
    res = search(db, "error: render failed", limit=10)
    assert res["mode"] == "terms"
    assert paths(res) == ["web/render.py"]


# -- FTS5 syntax for power users -------------------------------------------------------------------


def test_exact_phrase(db: Database) -> None:
    res = search(db, '"exact phrase"')
    assert res["mode"] == "fts"
    assert paths(res) == ["docs/phrase.md"]
    assert "«exact phrase»" in res["results"][0]["snippet"]
    assert search(db, '"phrase lives exact"')["results"] == []


def test_prefix_query(db: Database) -> None:
    res = search(db, "pars*", limit=20)
    assert res["mode"] == "fts"
    found = set(paths(res))
    assert {
        "billing/camel.ts",
        "billing/snake.py",
        "billing/dotted.py",
        "tools/tokenize.py",
    } <= found
    assert "web/render.py" not in found


def test_column_filter(db: Database) -> None:
    res = search(db, "overview:invoice", limit=20)
    assert res["mode"] == "fts"
    assert paths(res) == ["web/render.py"]  # the only overview that says "invoice"
    assert res["results"][0]["snippet"] == "Renders an «invoice» page as HTML."


def test_not_operator(db: Database) -> None:
    everything = set(paths(search(db, "invoice", limit=50)))
    res = search(db, "invoice NOT render", limit=50)
    assert res["mode"] == "fts"
    assert set(paths(res)) == everything - {"web/render.py"}
    assert "billing/snake.py" in paths(res)


def test_or_and_parentheses(db: Database) -> None:
    res = search(db, "(tokens OR html) AND text", limit=50)
    assert set(paths(res)) == {"tools/tokenize.py"}
    res = search(db, "tokens OR html", limit=50)
    assert set(paths(res)) == {"tools/tokenize.py", "web/render.py"}


@pytest.mark.parametrize("query", ['"unclosed', "AND AND", "(", "filepath: (", 'parseInvoice( "x'])
def test_text_that_does_not_parse_as_fts5_is_searched_as_words(db: Database, query: str) -> None:
    res = search(db, query)
    assert res["syntax"] == "plain"
    assert isinstance(res["results"], list)
    # The connection is still usable afterwards, and real FTS5 still is FTS5.
    again = search(db, '"exact phrase"')
    assert again["syntax"] == "fts" and paths(again) == ["docs/phrase.md"]


# -- arguments and result shape --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_a_usage_error(db: Database, query: str) -> None:
    with pytest.raises(UsageError) as info:
        search(db, query)
    assert info.value.message == "the search query is empty"
    assert info.value.hint and "cq-lsp search" in info.value.hint
    assert info.value.exit_code == 2


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 2.5, "5", None])
def test_limit_validation(db: Database, limit: object) -> None:
    with pytest.raises(UsageError) as info:
        search(db, "invoice", limit=limit)  # type: ignore[arg-type]
    assert info.value.message == f"--limit must be an integer from 1 to 500, got {limit!r}"


def test_limit_is_honoured(db: Database) -> None:
    assert len(search(db, "helper", limit=3)["results"]) == 3
    assert len(search(db, "helper", limit=1)["results"]) == 1
    assert len(search(db, "helper", limit=MAX_LIMIT)["results"]) == 12
    # The any-fallback honours it too.
    assert len(search(db, "helper zebraunicorn", limit=4)["results"]) == 4
    assert len(search(db, "arith*", limit=5)["results"]) == 5


def test_result_shape(db: Database) -> None:
    res = search(db, "render page")
    assert set(res) >= {"query", "results"}
    assert res["query"] == "render page"
    r = res["results"][0]
    assert set(r) >= {"path", "score", "snippet", "overview"}
    assert r["path"] == "web/render.py"
    assert isinstance(r["score"], float) and r["score"] > 0
    assert r["overview"] == "Renders an invoice page as HTML."
    assert isinstance(r["snippet"], str) and r["snippet"]


def test_snippets_mark_matches(db: Database) -> None:
    res = search(db, "tokens")
    r = by_path(res)["tools/tokenize.py"]
    assert "«tokens»" in r["snippet"]
    res = search(db, "parse_invoice")
    r = by_path(res)["billing/snake.py"]
    assert r["snippet"] == "def «parse»_«invoice»(text): return text"
    # Every « is closed by a ».
    for r in search(db, "text", limit=50)["results"]:
        assert r["snippet"].count("«") == r["snippet"].count("»")


def test_snippet_of_a_large_file_shows_the_first_word_start_match(
    project: Project, db: Database
) -> None:
    # 600 KB in which "beacon" occurs many times inside other words before the first real one.
    filler = "lighthousebeacon xbeacon " * 25_000
    text = filler + "\nthe beacon is here, then renderBeacon and Beacon again\n"
    index_files(project.root, db, {"big/corpus.txt": (text, {"overview": "A large file."})})
    r = by_path(search(db, "beacon"))["big/corpus.txt"]
    assert "the «beacon» is here" in r["snippet"]
    # A camelCase hump and another letter case count as word starts; inside a word does not.
    assert "render«Beacon»" in r["snippet"] and "«Beacon» again" in r["snippet"]
    assert r["snippet"].count("«") == 3  # the hits inside words before it are not marked


def test_snippet_shows_where_the_query_words_meet(project: Project, db: Database) -> None:
    # The first line naming a transport is an import; the words meet further down, and that is
    # what says why the file matched. The line follows the snippet.
    text = (
        "from .base import BaseTransport\n"
        + "".join(f"def helper_{i}():\n    return {i}\n" for i in range(30))
        + "def route(url):\n    # pick the transport mounted for this url\n    return url\n"
    )
    index_files(project.root, db, {"net/routing.py": (text, {"overview": "URL routing."})})
    r = by_path(search(db, "transport mount"))["net/routing.py"]
    assert r["snippet"].startswith("…# pick the «transport» «mount»ed for this url"), r["snippet"]
    assert r["line"] == text[: text.index("# pick")].count("\n") + 1
    # One word: its first match, as before; stop words do not have to be shown.
    assert search(db, "transport")["results"][0]["snippet"].startswith("from .base import Base")
    r = by_path(search(db, "the transport for mount"))["net/routing.py"]
    assert "«transport» «mount»ed" in r["snippet"]


def test_only_the_first_results_look_for_where_the_words_meet(
    project: Project, db: Database
) -> None:
    text = "import transport\n" + "x = 1\n" * 40 + "# the transport mounted here\n"
    files = {f"net/route{i}.py": (text, {"overview": "Routing."}) for i in range(MEET_RESULTS + 2)}
    index_files(project.root, db, files)
    hits = [r for r in search(db, "transport mount")["results"] if r["path"] in files]
    assert len(hits) == MEET_RESULTS + 2
    met = [r["snippet"].startswith("…# the «transport» «mount»ed") for r in hits]
    assert met == [True] * MEET_RESULTS + [False, False], [r["snippet"] for r in hits]
    assert {r["line"] for r in hits} == {1, 42}


def test_the_best_stretch_is_the_earliest_that_shows_the_most_words() -> None:
    h = Highlighter(["gamma", "alpha", "beta"])
    pad = " x" * 80  # wider than a snippet
    text = f"alpha{pad} beta gamma{pad} alpha beta{pad} alpha beta gamma{pad} beta gamma alpha"
    m, full = h.best(text)
    assert m is not None and full and text[m.start() :].startswith("alpha beta gamma")
    # No stretch shows all three, or one is missing: the first match.
    for text in (f"x{pad} gamma{pad} alpha{pad} beta gamma{pad} alpha", f"x{pad} gamma alpha"):
        m, full = h.best(text)
        assert m is not None and not full and m.start() == len(f"x{pad} ")
    assert h.best("nothing here") == (None, False)
    # A match of a longer word shows the words inside it.
    h = Highlighter(["asyncclient", "client", "async"])
    m, full = h.best(f"async{pad} AsyncClient")
    assert m is not None and full and m.group(0) == "AsyncClient"


def test_the_best_stretch_in_odd_letters_stop_words_and_common_words() -> None:
    pad = " x" * 80
    # Letters a case-insensitive regex matches that lower-case to something else.
    for words, text in [
        (["connection", "internet"], "connection: İnternet bağlantısı"),
        (["handler", "self"], "def handler(ſelf): pass"),
        (["cache", "λόγος"], "cache ΛΌΓΟΣ"),
    ]:
        m, full = Highlighter(words).best(text)
        assert m is not None and full and m.group(0) in ("connection", "handler", "cache")
    # A stop word is passed over for the word that is asked for.
    m, full = Highlighter(["transport", "the"]).best(f"the header{pad}\nthe transport here")
    assert m is not None and full and m.group(0) == "the" and m.start() > 160
    # A phrase goes on over a long run of whitespace (a quoted FTS query's).
    text = "cc " + "x" * 47 + " aa" + " " * 200 + "bb"
    m, full = Highlighter(["aa bb", "cc"]).best(text)
    assert m is not None and full and m.span() == (0, 2)
    # Around the rarest word: "transport" is everywhere before the two meet.
    text = "mount" + "".join(f"{pad} transport" for _ in range(40)) + " mount"
    m, full = Highlighter(["transport", "mount"]).best(text)
    assert m is not None and full and text[m.start() :] == "transport mount"


def test_a_plural_is_marked_and_met_as_its_singular_too() -> None:
    # FTS5's stemmer finds `redirects` in REDIRECT and redirected: the snippet shows them.
    h = Highlighter(["redirects", "follow"])
    text = "def follow(url):\n    return url  # a REDIRECT, redirected, or redirects\n"
    assert [m.group(0) for m in h.matches(text)] == [
        "follow", "REDIRECT", "redirect", "redirects"
    ]  # fmt: skip
    m, full = h.best("x = 1\n" * 30 + text)
    assert m is not None and full and m.group(0) == "follow"
    assert h.best("followers = 1")[1] is False  # only the one word: no meeting
    # Not a plural: class, status, analysis, short words.
    for word in ("class", "status", "analysis", "uses"):
        assert [m.group(0) for m in Highlighter([word]).matches(word[:-1] + " " + word)] == [word]


def test_the_best_stretch_is_the_earliest_that_shows_every_word_at_random() -> None:
    # Against brute force: every offset tried as a match, every stretch of BEST_SPAN looked at.
    # The same text with one non-ASCII character after it takes the regex route.
    rng = random.Random(11)
    full_found = 0
    for _ in range(3000):
        words = {"".join(rng.choice("abxy") for _ in range(rng.randint(1, 3))) for _ in range(3)}
        h = Highlighter(sorted(words, key=len, reverse=True))
        text = "".join(rng.choice("abXY_ 0\n.") for _ in range(rng.randint(0, 400)))
        every = [m for i in range(len(text)) if (m := h.pattern.match(text, i))]
        assert [m.span() for m in h.matches(text)] == [m.span() for m in every]
        full = None
        for m in every:
            shown = set().union(
                *(h._shows[h._key(x)] for x in every if 0 <= x.start() - m.start() <= BEST_SPAN)
            )
            if shown == h.wanted:
                full = m.start()
                break
        for t in (text, text + "é"):
            got, all_shown = h.best(t)
            if full is not None and len(h.wanted) > 1:
                assert got is not None and (got.start(), all_shown) == (full, True), (words, text)
            elif len(h.wanted) > 1:
                assert not all_shown and (got and got.span()) == (
                    every[0].span() if every else None
                )
        full_found += full is not None and len(h.wanted) > 1
    assert full_found > 300


def test_a_definition_in_the_text_is_found_as_the_whole_keyword_pattern_finds_it() -> None:
    # The keyword pattern with the name in it (what ran before, compiled for each query), run
    # over each line, against the checks at the places of the name: random lines of keywords,
    # names, receivers, dots, arrows and assignments.
    heads = ["", "def ", "class ", "const ", "let ", "function ", "async def ", "fn (a) ",
             "x", "def obj.", "$", "_", "obj.", "type  ", "def(", " ", "func (c *Cmd) ",
             "undef "]  # fmt: skip
    names = ["foo", "foo", "xfoo", "foo_", "fooBar", "foo$"]
    tails = ["", "(", " = function", ": lambda", " = (a) => 1", " =async function", "= 1",
             ".bar", "$", " ", "=> x", " = async (b) =>", "\r"]  # fmt: skip
    whole = re.compile(f"{_DEF_BEFORE}foo\\b|(?<![\\w$])foo{_DEF_AFTER}")
    rng = random.Random(3)
    defined = 0
    for _ in range(20000):
        line = " ".join(
            rng.choice(heads) + rng.choice(names) + rng.choice(tails)
            for _ in range(rng.randint(1, 3))
        )
        expected = whole.search(line) is not None
        assert (_definition_line(line, "foo")[1] is not None) == expected, line
        defined += expected
    assert defined > 5000
    # The line, and where to stop looking: 50,000 places of the name on one line cost little.
    text = "x = 1\nvar foo = 2;\n"
    assert _definition_line(text, "foo") == (True, (2, "var foo = 2;"))
    assert _definition_line("= " + "foo " * 50_000 + "\nconst foo = 1\n", "foo") == (True, None)


def test_fallback_matches_prefixes_only_of_five_letters_or_more(db: Database) -> None:
    # "token" (5 letters) finds "tokens"; "toke" (4) is exact: expanding short words costs
    # more than the whole latency budget on a real index and they are rarely meant as prefixes.
    assert paths(search(db, "token zebraunicorn")) == ["tools/tokenize.py"]
    assert search(db, "toke zebraunicorn")["results"] == []
    assert search(db, "toke")["results"] == []
    # An exact short word still matches in the fallback.
    assert "web/render.py" in paths(search(db, "page zebraunicorn"))


def test_snippet_falls_back_to_overview_match(db: Database) -> None:
    res = search(db, "html")
    r = by_path(res)["web/render.py"]
    assert r["snippet"] == "Renders an invoice page as «HTML»."


def test_search_after_update_finds_new_words_only(project: Project, db: Database) -> None:
    index_files(
        project.root,
        db,
        {
            "tools/tokenize.py": (
                "def split_words(text):\n    return text.split()\n",
                {"overview": "Splits text into words.", "functions": {"split_words": {}}},
            )
        },
    )
    assert "tools/tokenize.py" not in paths(search(db, "full_content:tokens", limit=50))
    assert "tools/tokenize.py" not in paths(search(db, "overview:tokens", limit=50))
    assert paths(search(db, "split words")) == ["tools/tokenize.py"]


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_repo(repo: Path, cq: Cq) -> Path:
    cq.run("init")
    d = Database(Project(repo).index_db)
    try:
        index_files(repo, d, CORPUS)
    finally:
        d.close()
    return repo


def test_cli_search_json_shape(cli_repo: Path, cq: Cq) -> None:
    out = cq.json("search", "parse", "invoice", "--limit", "5")
    assert out["query"] == "parse invoice"
    assert set(r["path"] for r in out["results"][:3]) == {
        "billing/camel.ts",
        "billing/snake.py",
        "billing/dotted.py",
    }
    assert len(out["results"]) <= 5
    for r in out["results"]:
        assert {"path", "score", "snippet", "overview"} <= set(r)
        assert isinstance(r["score"], float)
    scores = [r["score"] for r in out["results"] if r["match"] == "all"]
    assert scores == sorted(scores, reverse=True)


def test_cli_search_json_stdout_is_only_json(cli_repo: Path, cq: Cq) -> None:
    proc = cq.run("search", "--json", '"exact phrase"')
    import json

    out = json.loads(proc.stdout)
    assert [r["path"] for r in out["results"]] == ["docs/phrase.md"]
    assert "«exact phrase»" in out["results"][0]["snippet"]


def test_cli_search_of_broken_fts_syntax_searches_words(cli_repo: Path, cq: Cq) -> None:
    out = cq.json("search", '"unclosed phrase')
    assert out["syntax"] == "plain"
    assert "docs/phrase.md" in [r["path"] for r in out["results"]]


def test_cli_search_bad_limit_exits_2(cli_repo: Path, cq: Cq) -> None:
    proc = cq.run("search", "invoice", "--limit", "0", check=False)
    assert proc.returncode == 2
    assert "--limit must be an integer from 1 to 500, got 0" in proc.stderr


def test_cli_search_without_init_exits_2(repo: Path, cq: Cq) -> None:
    proc = cq.run("search", "invoice", check=False)
    assert proc.returncode == 2
    assert "cq-lsp init" in proc.stderr


def test_pasted_code_with_brackets_searches_its_words(db: Database) -> None:
    res = search(db, "parseInvoice()", limit=20)
    assert res["syntax"] == "plain"
    assert paths(res)[0] == "billing/camel.ts"
    assert res["results"][0]["kind"] == "definition"


def test_a_pasted_identifier_with_digits_finds_itself_first(project: Project) -> None:
    d = Database(project.index_db)
    files = {
        f"gen/m{i}.py": (
            f'"""Module {i}."""\n\ndef crash_probe_{i}():\n    return {i}\n',
            {"overview": f"Module {i}.", "functions": {f"crash_probe_{i}": {"line": 3}}},
        )
        for i in (0, 1, 10, 100, 1000)
    }
    index_files(project.root, d, files)
    try:
        for i in (0, 10, 1000):
            res = search(d, f"crash_probe_{i}")
            assert res["results"][0]["path"] == f"gen/m{i}.py", res["results"][:3]
            assert res["results"][0]["kind"] == "definition"
            # The others still follow: the words match them all.
            assert len(res["results"]) == 5
    finally:
        d.close()


# -- match tiers and priors on real repositories documented by the static documenter ---------------


CALLS = 6  # callers and tests mention the name more often than its definition does

LANGUAGES: dict[str, tuple[str, dict[str, str]]] = {
    "python": (
        "make_response",
        {
            "src/flask/helpers.py": '"""Helpers."""\n\n\ndef make_response(*args):\n'
            '    """Build a response object."""\n    return args\n',
            "src/flask/app.py": "from .helpers import make_response\n\n"
            + "".join(f"r{i} = make_response({i})\n" for i in range(CALLS)),
            "tests/test_helpers.py": "from flask import make_response\n\n"
            + "".join(
                f"def test_make_response_{i}():\n    assert make_response({i})\n\n"
                for i in range(CALLS)
            ),
        },
    ),
    "typescript": (
        "acceptsLanguages",
        {
            "lib/request.ts": "export class Request {\n  acceptsLanguages(l: string) {\n"
            "    return l;\n  }\n}\n",
            "lib/router.ts": "".join(f"req.acceptsLanguages('l{i}');\n" for i in range(CALLS)),
            "test/req.acceptsLanguages.test.ts": "".join(
                f"it('x{i}', () => req.acceptsLanguages('en'));\n" for i in range(CALLS)
            ),
        },
    ),
    "javascript": (
        "sendFile",
        {
            "lib/response.js": "function sendFile(path) {\n  return path;\n}\n"
            "module.exports = sendFile;\n",
            "lib/static.js": "".join(f"res.sendFile('f{i}');\n" for i in range(CALLS)),
            "test/res.sendFile.spec.js": "".join(
                f"it('s{i}', () => res.sendFile('a'));\n" for i in range(CALLS)
            ),
        },
    ),
    "go": (
        "ServeHTTP",
        {
            "gin.go": "package gin\n\ntype Engine struct{}\n\n"
            "func (engine *Engine) ServeHTTP(w int, r int) {\n}\n",
            "routergroup.go": "package gin\n\nfunc f(e *Engine) {\n"
            + "".join(f"\te.ServeHTTP({i}, 0)\n" for i in range(CALLS))
            + "}\n",
            "gin_test.go": "package gin\n\nfunc TestServe(t *T) {\n"
            + "".join(f"\tengine.ServeHTTP({i}, 1)\n" for i in range(CALLS))
            + "}\n",
        },
    ),
    "rust": (
        "strbuf_addf",
        {
            "src/strbuf.rs": "pub fn strbuf_addf(buf: &mut String) {\n    buf.push('x');\n}\n",
            "src/log.rs": "fn log(b: &mut String) {\n"
            + "".join("    strbuf_addf(b);\n" for _ in range(CALLS))
            + "}\n",
            "tests/strbuf_test.rs": "#[test]\nfn adds() {\n"
            + "".join("    strbuf_addf(&mut s);\n" for _ in range(CALLS))
            + "}\n",
        },
    ),
    "java": (
        "acceptsEncoding",
        {
            "src/main/java/web/Request.java": "package web;\n\npublic class Request {\n"
            "    public String acceptsEncoding(String e) { return e; }\n}\n",
            "src/main/java/web/Router.java": "package web;\n\nclass Router {\n"
            "  void r(Request q) {\n"
            + "".join(f'    q.acceptsEncoding("e{i}");\n' for i in range(CALLS))
            + "  }\n}\n",
            "src/test/java/web/RequestTest.java": "package web;\n\nclass RequestTest {\n"
            "  void t(Request q) {\n"
            + "".join(f'    q.acceptsEncoding("t{i}");\n' for i in range(CALLS))
            + "  }\n}\n",
        },
    ),
}


@pytest.fixture
def tree(tmp_path: Path, isolated_env: dict[str, str]) -> Iterator[tuple[Path, Database]]:
    root = make_repo(tmp_path / "tree", {})
    Project(root).ensure_state_dir()
    d = Database(Project(root).index_db)
    # Filler, so that bm25's IDF means something.
    document_tree(root, d, FILLER_TEXT)
    yield root, d
    d.close()


FILLER_TEXT = {
    f"misc/m{i}.py": f'"""Module {i} of arithmetic."""\n\n\n'
    f"def helper_{i}(v):\n    return v * {i}\n"
    for i in range(10)
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_definition_beats_its_callers_and_tests(
    tree: tuple[Path, Database], language: str
) -> None:
    root, d = tree
    name, files = LANGUAGES[language]
    document_tree(root, d, files)
    defining = next(iter(files))
    res = search(d, name)
    top = res["results"][0]
    assert top["path"] == defining, [(r["path"], r["why"]) for r in res["results"]]
    assert top["kind"] == "definition" and top["symbol"].endswith(name)
    assert isinstance(top["line"], int) and name in top["snippet"].replace("«", "").replace("»", "")
    assert set(paths(res)[1:3]) == set(list(files)[1:]), "callers and tests still follow"
    assert [r["score"] for r in res["results"]] == sorted(
        (r["score"] for r in res["results"]), reverse=True
    )


def test_dotted_and_pasted_names_find_the_definition(tree: tuple[Path, Database]) -> None:
    root, d = tree
    document_tree(root, d, LANGUAGES["go"][1] | LANGUAGES["typescript"][1])
    assert paths(search(d, "Engine.ServeHTTP"))[0] == "gin.go"
    assert paths(search(d, "engine.ServeHTTP(w, req)"))[0] == "gin.go"
    assert paths(search(d, "Request.acceptsLanguages"))[0] == "lib/request.ts"
    res = search(d, 'app.route("/")')
    assert res["syntax"] == "plain"


def test_plain_words_name_a_member_after_its_container(tree: tuple[Path, Database]) -> None:
    root, d = tree
    config = (
        "class Config(dict):\n    def from_envvar(self, name):\n        return name\n\n\n"
        "class LoaderFactoryBuilder:\n    def make(self, env):\n        return env\n\n\n"
        "class BigLoaderFactoryBuilder:\n    def make(self, env):\n        return env\n"
    )
    document_tree(
        root,
        d,
        LANGUAGES["go"][1]
        | LANGUAGES["typescript"][1]
        | {
            "src/config.py": config,
            "docs/config.md": "# Config\n\nRead the config from an envvar, or from a file.\n",
        },
    )
    for query, path, symbol in (
        ("engine serve http", "gin.go", "Engine.ServeHTTP"),
        ("request accepts languages", "lib/request.ts", "Request.acceptsLanguages"),
        ("config from envvar", "src/config.py", "Config.from_envvar"),  # a stop word in the name
        ("loader factory builder make", "src/config.py", "LoaderFactoryBuilder.make"),
    ):
        top = search(d, query)["results"][0]
        assert (top["path"], top["kind"], top["symbol"]) == (path, "symbol", symbol), query
        assert top["why"][0] == f"symbol {symbol} (method) is the query's words"
    # Only the container named: another type's ServeHTTP is no match for "router serve http".
    res = search(d, "router serve http")["results"]
    assert all(r["symbol"] != "Engine.ServeHTTP" for r in res)
    # Five words or more are read as a sentence, not as a container's and its member's name
    # (the four without "make" still name the class).
    res = search(d, "big loader factory builder make")["results"]
    assert [r["symbol"] for r in res if r["kind"] == "symbol"] == ["BigLoaderFactoryBuilder"]


def test_a_file_name_in_the_query_is_that_file_not_a_member(tree: tuple[Path, Database]) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "cq/commands/results.py": '"""Typed results."""\n\n\nclass Result:\n    pass\n',
            # A definition named like the extension, which `results.py` read as Container.member
            # found ahead of everything ("the method, but the container was not recorded").
            "tools/py.py": "def py(results):\n    return results\n",
            "docs/README.md": "# Results\n\nHow results are printed, and their docstring.\n",
            "lib/response.js": "class Response {\n  json(body) {\n    return body;\n  }\n}\n",
        },
    )
    res = search(d, "results.py docstring: the open parts")["results"]
    assert (res[0]["path"], res[0]["kind"]) == ("cq/commands/results.py", "path")
    assert res[0]["why"][0] == "the query names the file results.py"
    assert "tools/py.py" not in [r["path"] for r in res if r["kind"] == "definition"]
    assert paths(search(d, "readme.md"))[0] == "docs/README.md"  # any letter case
    # A dotted name that no file has stays a definition lookup, and so does one that a file
    # has where the container is named too.
    top = search(d, "res.json")["results"][0]
    assert (top["path"], top["kind"], top["symbol"]) == (
        "lib/response.js",
        "definition",
        "Response.json",
    )
    top = search(d, "response.json")["results"][0]
    assert (top["path"], top["kind"], top["symbol"]) == (
        "lib/response.js",
        "definition",
        "Response.json",
    )
    document_tree(root, d, {"testdata/response.json": '{"status": 200}\n'})
    res = search(d, "Response.json")["results"]
    assert [(r["path"], r["kind"]) for r in res[:2]] == [
        ("lib/response.js", "definition"),
        ("testdata/response.json", "path"),
    ]


def test_a_dotted_word_in_prose_is_not_a_method_of_any_variable(
    tree: tuple[Path, Database],
) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "core/workspace.py": "class Workspace:\n    def db(self):\n        return 1\n",
            "bench/bench_index.py": '"""Reads the documenter-call counter."""\n\n'
            "def counter(path):\n    return path\n",
            "lib/response.js": "class Response {\n  json(body) {\n    return body;\n  }\n}\n",
        },
    )
    # A commit subject: "index.db" names a file, not Workspace.db through a variable `index`.
    res = search(d, "bench_index reads the documenter-call counter from index.db")["results"]
    assert res[0]["path"] == "bench/bench_index.py", [(r["path"], r["why"]) for r in res]
    assert all(r["symbol"] != "Workspace.db" for r in res)
    # Alone, or called in pasted code, it may still be a method through a variable.
    assert search(d, "index.db")["results"][0]["symbol"] == "Workspace.db"
    top = search(d, "res.json({ok: true, body: data, status: code})")["results"][0]
    assert (top["path"], top["kind"], top["symbol"]) == (
        "lib/response.js",
        "definition",
        "Response.json",
    )


def test_a_file_named_as_the_query_comes_before_files_that_mention_it(
    tree: tuple[Path, Database],
) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "lib/base64.py": '"""Encodings."""\n\n\ndef b64encode(s):\n    return s\n',
            "lib/mail.py": "import base64\n" + "x = base64.b64encode(b'a')\n" * 8,
        },
    )
    res = search(d, "base64")
    assert paths(res)[:2] == ["lib/base64.py", "lib/mail.py"]
    assert res["results"][0]["kind"] == "path"


def test_a_file_named_as_the_query_one_or_many(tree: tuple[Path, Database]) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "shell/bash_completions.go": 'package shell\n\nfunc emit() string { return "" }\n',
            "tools/util.py": '"""Little helpers."""\n\n\ndef clamp(x):\n    return x\n',
            "gins/gins.go": "package gins\n\nfunc Default() {}\n",
            "gins/gin.go": "package gins\n\nfunc New() {}\n",
            "lib/notes.py": "# bash completion, utils and gins are mentioned here\n",
        },
    )
    for query, path in [
        ("bash completion", "shell/bash_completions.go"),
        ("utils", "tools/util.py"),
    ]:
        top = search(d, query)["results"][0]
        assert (top["path"], top["kind"]) == (path, "path"), (query, top)
        assert "one or many" in top["why"][0]
    # The name as typed first, then its plural or singular.
    assert paths(search(d, "gins"))[:2] == ["gins/gins.go", "gins/gin.go"]
    # An identifier is as written: no `parse_invoices` file for `parse_invoice`.
    document_tree(root, d, {"lib/parse_invoices.py": "x = 1\n"})
    res = search(d, "parse_invoice")
    assert "lib/parse_invoices.py" not in [r["path"] for r in res["results"] if r["kind"] == "path"]


def test_prose_with_stop_words_and_stems(tree: tuple[Path, Database]) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "src/sessions.py": '"""Signed cookie sessions."""\n\n\n'
            "def save_session(response):\n"
            '    """Sign the cookie and set it on the response."""\n    return response\n',
            "docs/config.rst": "Configuration\n=============\n\nWhere are the settings? "
            "How are they read? Here are the cookies settings, where they are documented.\n",
        },
    )
    res = search(d, "where are cookies signed")
    assert paths(res)[0] == "src/sessions.py", [(r["path"], r["why"]) for r in res["results"]]
    assert res["terms"][:2] == ["where", "are"]  # searched, yet never required
    # "rendered" finds "render" (porter stemming), and scores come out in rank order.
    document_tree(root, d, {"web/view.py": "def render(page):\n    return page\n"})
    assert "web/view.py" in paths(search(d, "page rendered"))


def test_tests_and_docs_rank_below_source_unless_asked_for(tree: tuple[Path, Database]) -> None:
    root, d = tree
    document_tree(
        root,
        d,
        {
            "src/ledger.py": "def balance(entries):\n    return sum(entries)  # ledger\n",
            "tests/test_ledger.py": "def balance(entries):\n    return sum(entries)  # ledger\n",
            "docs/ledger.md": "# balance\n\nThe ledger balance.\n",
        },
    )
    order = paths(search(d, "balance"))
    assert order.index("src/ledger.py") < order.index("tests/test_ledger.py")
    asked = {r["path"]: r for r in search(d, "balance tests")["results"]}
    plain = {r["path"]: r for r in search(d, "balance")["results"]}
    assert not any("test file" in w for w in asked["tests/test_ledger.py"]["why"])
    assert any("test file" in w for w in plain["tests/test_ledger.py"]["why"])


def test_data_files_do_not_flood_results(tree: tuple[Path, Database]) -> None:
    root, d = tree
    path_data = " ".join(f"c{i} {i}.5 render{i % 3} {i} l{i} z" for i in range(400))
    files = {f"icons/i{i}.svg": f'<svg><path d="M0 0 {path_data}"/></svg>\n' for i in range(8)}
    files["package-lock.json"] = '{"render": "1.0.0", "c": "render"}\n' * 50
    files["web/page.py"] = "def show(page):\n    # render the page\n    return page\n"
    document_tree(root, d, files)
    res = search(d, "render")
    assert paths(res)[0] == "web/page.py", [(r["path"], r["why"]) for r in res["results"]]
    res = search(d, "c++")
    assert all(r["score"] < 0.5 for r in res["results"] if r["path"].endswith(".svg"))


FUZZ_PASTES = [
    'app.route("/")',
    "ignore/types: add *.svelte.ts to Svelte file type glob",
    'fn main() { println!("{}", x); }',
    "SELECT * FROM files WHERE id = 1;",
    "if (a && b || !c) { return -1; }",
    "std::vector<int> v;",
    '"unclosed AND (',
    "NEAR(a b",
    "filepath: (",
    "^start",
    "-x",
    "a - b",
    "foo:bar:baz",
    "*",
    '"',
    "AND",
    "()",
    "{}",
    "é ñ 中文 ✓",
    "\x00\x01",
]


def test_no_typed_text_is_an_error(tree: tuple[Path, Database]) -> None:
    """10,000 random strings, pasted code and commit subjects: results, never an exception."""
    root, d = tree
    document_tree(root, d, LANGUAGES["python"][1])
    rng = random.Random(13)
    alphabet = "abcXYZ019 _-.:/*\"^()[]{}+!?,;<>=&|#@$%~`'\\\t\né中"
    queries = list(FUZZ_PASTES)
    queries += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(10_000)
    ]
    queries += [
        " ".join(rng.choice(["AND", "OR", "NOT", "NEAR", "make", "response", '"', "(", ")", "*"])
                 for _ in range(rng.randint(1, 6)))
        for _ in range(300)
    ]  # fmt: skip
    for q in queries:
        if not q.strip():
            with pytest.raises(UsageError):
                search(d, q)
            continue
        res = search(d, q, limit=5)
        assert res["syntax"] in ("fts", "plain")
        scores = [r["score"] for r in res["results"]]
        assert scores == sorted(scores, reverse=True), q


def test_cli_never_exits_2_on_typed_text(cli_repo: Path, cq: Cq) -> None:
    for q in ['app.route("/")', "ignore/types: add *.svelte.ts to Svelte", '"unclosed', "("]:
        proc = cq.run("search", q, check=False)
        assert proc.returncode == 0, (q, proc.stderr)
    out = cq.run("search", "parseInvoice", "--explain").stdout
    assert out.splitlines()[0].split()[1] == "billing/camel.ts:1"
    assert "· defines parseInvoice" in out
    proc = cq.run("search", " ", check=False)
    assert proc.returncode == 2 and "empty" in proc.stderr


def test_a_definition_the_documenter_did_not_list_is_found_in_the_text(
    tree: tuple[Path, Database],
) -> None:
    """A definition the documenter does not list (a lambda bound inside a function) still ranks
    as the definition."""
    root, d = tree
    document_tree(
        root,
        d,
        {
            "web/routes.py": "def make_app():\n    dashboard_view = lambda: 1\n"
            "    return dashboard_view\n",
            "web/a.py": "from web.routes import make_app\n" + "dashboard_view = None\n" * 5,
            "web/b.py": "".join(f"print('dashboard_view', {i})\n" for i in range(5)),
        },
    )
    res = search(d, "dashboard_view")
    top = res["results"][0]
    assert top["path"] == "web/routes.py", [(r["path"], r["why"]) for r in res["results"]]
    assert top["kind"] == "definition" and top["line"] == 2
    assert "not a listed symbol" in top["why"][0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "a\nb",
        "\n" * 20_000,  # a step of nothing but newlines
        "x" * 10_000 + "\ny",  # a line longer than a step
        "".join(f"{'  ' * (i % 7)}line {i} {'é' * (i % 50)}\n" for i in range(9000)) + "end",
    ],
)
def test_a_line_is_found_where_counting_one_line_at_a_time_finds_it(text: str) -> None:
    def one_at_a_time(line: int) -> int | None:
        pos = 0
        for _ in range(line - 1):
            pos = text.find("\n", pos) + 1
            if pos == 0:
                return None
        return pos

    lines = text.count("\n") + 1
    for line in {0, 1, 2, 33, 34, 35, 500, 4097, lines - 1, lines, lines + 1, lines + 2}:
        assert _line_offset(text, line) == one_at_a_time(line), line


def test_the_ascii_scan_finds_the_first_match_the_regex_scan_finds() -> None:
    # An ASCII text is scanned with str.find; one non-ASCII character after it sends the same
    # text through the case-insensitive regex. Word starts, humps, overlapping and repeated
    # words, and letters that only match in another case, at random.
    rng = random.Random(7)
    matched = 0
    for _ in range(5000):
        words = {"".join(rng.choice("abcxys") for _ in range(rng.randint(1, 4))) for _ in range(3)}
        h = Highlighter(sorted(words, key=len, reverse=True))
        text = "".join(rng.choice("abcXYS_ 0\n.s") for _ in range(rng.randint(0, 80)))
        fast, regex = h.first(text), h.first(text + "é")
        assert (fast and (fast.span(), fast.group(0))) == (regex and (regex.span(), regex.group(0)))
        matched += fast is not None
    assert matched > 1000
