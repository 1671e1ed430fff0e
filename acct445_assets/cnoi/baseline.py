"""The same note extraction written the common slow way: BeautifulSoup with `html.parser`.

Kept as the reference the fast lxml path is benchmarked against (issue 8) and checked
for equal output. Inline-XBRL wrappers are unwrapped in the tree, as tutorials do.
"""

from __future__ import annotations

import re

from .extract import (
    BLOCK_TAGS,
    BOLD_STYLE_RE,
    BOLD_TAGS,
    HIDDEN_STYLE_RE,
    SKIP_TAGS,
    BlockBuilder,
    CeclNote,
    blocks_from_text,
    decode_document,
    is_html,
    locate_note,
)

IX_NAME_RE = re.compile(r"^ix:")


def _bs4():
    from bs4 import (
        BeautifulSoup,
        Comment,
        Declaration,
        Doctype,
        NavigableString,
        ProcessingInstruction,
    )

    return BeautifulSoup, NavigableString, (Comment, Declaration, Doctype, ProcessingInstruction)


def _cell_text(tag, out: list[str], counter: list[int], nav, skip_types) -> None:
    for child in tag.children:
        if isinstance(child, nav):
            if not isinstance(child, skip_types):
                out.append(str(child))
            continue
        name = child.name
        style = child.get("style")
        if name in SKIP_TAGS or (style and HIDDEN_STYLE_RE.search(style)):
            continue
        if name == "img":
            counter[0] += 1
            continue
        block = name in BLOCK_TAGS
        if block:
            out.append(" ")
        _cell_text(child, out, counter, nav, skip_types)
        if block:
            out.append(" ")


def _walk(tag, builder: BlockBuilder, bold: bool, nav, skip_types) -> None:
    for child in tag.children:
        if isinstance(child, nav):
            if not isinstance(child, skip_types):
                builder.text(str(child), bold)
            continue
        name = child.name
        style = child.get("style")
        if name in SKIP_TAGS or (style and HIDDEN_STYLE_RE.search(style)):
            continue
        if name == "table" and child.find("table") is None:
            rows = []
            images = [0]
            for tr in child.find_all("tr"):
                cells = []
                for td in tr.find_all(["td", "th"], recursive=False):
                    parts: list[str] = []
                    _cell_text(td, parts, images, nav, skip_types)
                    cells.append("".join(parts))
                rows.append(cells)
            builder.table(rows, images[0])
            continue
        if name == "img":
            builder.image(child.get("alt") or "")
            continue
        b = bold or name in BOLD_TAGS or bool(style and BOLD_STYLE_RE.search(style))
        block = name in BLOCK_TAGS
        if block:
            builder.boundary()
        _walk(child, builder, b, nav, skip_types)
        if block:
            builder.boundary()


def document_blocks_bs4(document: str | bytes):
    text = decode_document(document)
    if not is_html(text):
        return blocks_from_text(text)
    beautiful_soup, nav, skip_types = _bs4()
    soup = beautiful_soup(text, "html.parser")
    for header in soup.find_all("ix:header"):
        header.decompose()
    for tag in soup.find_all(IX_NAME_RE):
        tag.unwrap()
    builder = BlockBuilder()
    root = soup.body or soup
    _walk(root, builder, False, nav, skip_types)
    return builder.finish()


def extract_note_bs4(document: str | bytes) -> CeclNote:
    return locate_note(document_blocks_bs4(document))
