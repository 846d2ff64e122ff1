"""Page files run as Streamlit scripts, where a bare string statement is drawn on the page
("magic"): a constant's docstring would appear above the page, even to people refused it."""

from __future__ import annotations

import ast

import pytest

from views.registry import PAGES, PageEntry


@pytest.mark.parametrize("entry", PAGES, ids=[entry.url_path for entry in PAGES])
def test_a_page_script_has_no_bare_strings_but_its_docstring(entry: PageEntry) -> None:
    tree = ast.parse(entry.file.read_text(encoding="utf-8"))
    bare = [node.lineno for node in tree.body[1:]
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)]
    assert bare == [], f"{entry.file.name}: bare strings at lines {bare} would be drawn"
