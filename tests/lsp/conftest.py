"""Fixtures of the language server's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cq


@pytest.fixture
def inited(repo: Path, cq: Cq) -> Path:
    """The sample repository after `cq-lsp init`."""
    cq.run("init")
    return repo
