"""The one command table: its arguments are checked the same way for every face, and the
extension calls only commands the table has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cq_lsp.commands.arguments import IndexArgs, SearchArgs, parse
from cq_lsp.commands.table import COMMANDS
from cq_lsp.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


def test_the_extension_calls_only_commands_of_the_table() -> None:
    text = (REPO / "editor-extension" / "src" / "constants.ts").read_text(encoding="utf-8")
    block = text[text.index("export const SERVER_CMD") :]
    block = block[: block.index("} as const")]
    used = set(re.findall(r'"(cq\.[a-z.]+)"', block))
    assert used, "SERVER_CMD not found in constants.ts"
    assert used <= set(COMMANDS), f"not in the command table: {used - set(COMMANDS)}"


def test_every_command_has_a_contract_name_and_an_argument_class() -> None:
    for name, command in COMMANDS.items():
        assert name == command.name and re.fullmatch(r"cq(\.[a-z]+)+", name)
        assert command.summary and command.args is not None


def test_a_bare_string_is_the_main_argument() -> None:
    assert parse("cq.search", SearchArgs, "invoice") == SearchArgs(query="invoice")
    assert parse("cq.index", IndexArgs, "a.py") == IndexArgs(paths=("a.py",))
    assert parse("cq.index", IndexArgs, None) == IndexArgs()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, "query is required"),
        ({"query": ""}, "query must be a non-empty string"),
        ({"query": "x", "limit": True}, "limit must be an integer from 1 to 1000, got True"),
        ({"query": "x", "limit": "5"}, "limit must be an integer from 1 to 1000"),
        ({"query": "x", "limit": 10**30}, "limit must be an integer from 1 to 1000"),
        ({"query": "x\0"}, "query must not contain a NUL character"),
        ({"query": "x" * 5000}, "query must be at most 4096 characters"),
        ({"query": "x", "colour": 1}, "unknown argument(s) colour"),
        ([1], "the argument must be an object, got list"),
    ],
)
def test_bad_arguments_name_the_key_and_the_fix(raw: object, expected: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse("cq.search", SearchArgs, raw)
    assert expected in exc.value.message
    assert exc.value.message.startswith("cq.search: ")
    assert '"query"' in (exc.value.hint or "")  # says what the command takes
