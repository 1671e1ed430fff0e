"""Locate and extract the CECL note (ASC 326-20) from a 10-K/10-Q primary document.

The document is turned into a flat list of blocks (paragraphs, data tables, images)
by a fast lxml walk; inline-XBRL wrappers are stripped and the hidden `ix:header` is
dropped first. Note location (METHODS.md section 1) then works on the blocks only, so
the BeautifulSoup baseline in `baseline.py` shares it and differs only in parsing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from string import ascii_letters, ascii_uppercase

from lxml import etree

# --------------------------------------------------------------------------- blocks

BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr td th table tbody thead tfoot caption br hr "
    "center blockquote pre section article header footer body html address form".split()
)
SKIP_TAGS = frozenset("script style head noscript template ix:header title".split())
BOLD_TAGS = frozenset("b strong h1 h2 h3 h4 h5 h6".split())
BOLD_STYLE_RE = re.compile(r"font-weight\s*:\s*(?:bold|bolder|[6-9]00)", re.I)
HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none", re.I)

XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
IX_HEADER_RE = re.compile(r"<ix:header\b.*?</ix:header\s*>", re.I | re.S)
IX_TAG_RE = re.compile(r"</?ix:[A-Za-z]+\b[^>]*>")
SGML_TEXT_RE = re.compile(r"<TEXT>(.*?)</TEXT>", re.S | re.I)
LOOKS_HTML_RE = re.compile(r"<(?:html|body|p|div|table|span|font)\b", re.I)

SPACER_CELLS = frozenset({"$", ")", "(", "%", ")%", "—", "–"})
BULLETS = frozenset({"•", "·", "●", "◦", "▪", "■", "○", "-", "–", "—", "o"})
NUMBER_CELL_RE = re.compile(r"^[(\-–—]?\s*\$?\s*\(?-?\d[\d,]*(?:\.\d+)?\)?\s*%?\)?$")
YEAR_RE = re.compile(r"^(?:19|20)\d\d$")
PAGE_NUMBER_RE = re.compile(
    r"^(?:page\s+)?[-–—]?\s*(?:[A-Z]{1,2}-)?\d{1,3}\s*[-–—]?$|^table of contents$", re.I
)


@dataclass(slots=True)
class Block:
    kind: str  # "text" | "table" | "image"
    text: str
    rows: list[list[str]] | None = None
    bold: bool = False
    start: int = 0  # tokens in the document before this block
    tokens: int = 0
    # What the locator asks of a block several times over (one per candidate note),
    # worked out once; None until asked.
    _upper: float | None = field(default=None, init=False, repr=False, compare=False)
    _heading: bool | None = field(default=None, init=False, repr=False, compare=False)
    _continued: bool | None = field(default=None, init=False, repr=False, compare=False)
    _skip: bool | None = field(default=None, init=False, repr=False, compare=False)


class BlockBuilder:
    """Accumulates inline text into paragraph blocks; shared by every parser front end."""

    __slots__ = ("blocks", "_parts", "_bold_chars", "_pos")

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._bold_chars = 0
        self._pos = 0

    def text(self, s: str, bold: bool) -> None:
        self._parts.append(s)
        if bold:
            self._bold_chars += len("".join(s.split()))

    def boundary(self) -> None:
        if not self._parts:
            return
        text = " ".join("".join(self._parts).split())
        self._parts = []
        bold_chars, self._bold_chars = self._bold_chars, 0
        if text:
            total = len(text) - text.count(" ")
            self._add(Block("text", text, bold=bold_chars >= 0.8 * total))

    def image(self, alt: str) -> None:
        self.boundary()
        self._add(Block("image", " ".join((alt or "").split())))

    def table(self, raw_rows: list[list[str]], n_images: int) -> None:
        rows = []
        for raw in raw_rows:
            cells = [c for c in (" ".join(x.split()) for x in raw) if c and c not in SPACER_CELLS]
            if cells:
                rows.append(cells)
        self.clean_table(rows, n_images)

    def clean_table(self, rows: list[list[str]], n_images: int) -> None:
        """`table` for rows already cleaned: cells normalised, no empty or spacer cells, no empty rows."""
        self.boundary()
        if not rows:
            for _ in range(n_images):
                self._add(Block("image", "table image"))
            return
        # Layout tables (one row, one column, or bulleted lists) are prose, not data.
        if (
            len(rows) == 1
            or all(len(r) == 1 for r in rows)
            or all(r[0] in BULLETS and len(r) <= 2 for r in rows)
        ):
            for r in rows:
                cells = r[1:] if r[0] in BULLETS and len(r) > 1 else r
                text = " ".join(cells)
                self._add(Block("text", text), text.count(" ") + 1)
            return
        text = "\n".join(map(" | ".join, rows))
        # Clean cells hold single spaces only, so words are the spaces and newlines plus one.
        self._add(Block("table", text, rows=rows), text.count(" ") + text.count("\n") + 1)

    def _add(self, block: Block, tokens: int | None = None) -> None:
        block.start = self._pos
        block.tokens = len(block.text.split()) if tokens is None else tokens
        self._pos += block.tokens
        self.blocks.append(block)

    def finish(self) -> list[Block]:
        self.boundary()
        return self.blocks


def decode_document(document: str | bytes) -> str:
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            document = document.decode("latin-1")
    if "<SEC-DOCUMENT>" in document[:2000] or "<DOCUMENT>" in document[:5000]:
        m = SGML_TEXT_RE.search(document)
        if m:
            document = m.group(1)
    return XML_DECL_RE.sub("", document, count=1)


def is_html(text: str) -> bool:
    return LOOKS_HTML_RE.search(text[:200_000]) is not None


def _strip_inline_xbrl(html: str) -> str:
    return IX_TAG_RE.sub("", IX_HEADER_RE.sub("", html))


class _StyleFlags(dict):
    """style attribute -> _HIDDEN | _BOLD; filings repeat a few style strings thousands of times."""

    def __missing__(self, style: str) -> int:
        if len(self) >= 4096:
            self.clear()
        flags = (_HIDDEN if "none" in style and HIDDEN_STYLE_RE.search(style) else 0) | (
            _BOLD if "weight" in style and BOLD_STYLE_RE.search(style) else 0
        )
        self[style] = flags
        return flags


_HIDDEN, _BOLD = 1, 2
_STYLE_FLAGS = _StyleFlags()

# The walk writes one flat string: lone surrogates never come out of lxml (it decodes
# strict UTF-8), so they can mark block boundaries, bold runs, tables, rows, cells and
# images in it, and whitespace is then normalised for a whole segment at once.
_BREAK, _BOLD_ON, _BOLD_OFF, _TABLE, _IMAGE, _ROW, _CELL, _CELL_IMAGE = (
    chr(c) for c in range(0xD800, 0xD808)
)


def _lxml_cell_text(el, out: list[str]) -> None:
    for child in el:
        tag = child.tag
        if tag.__class__ is str:
            style = child.get("style")
            if tag in SKIP_TAGS or (style and _STYLE_FLAGS[style] & _HIDDEN):
                pass
            elif tag == "img":
                out.append(_CELL_IMAGE)
            else:
                block = tag in BLOCK_TAGS
                if block:
                    out.append(" ")
                text = child.text
                if text:
                    out.append(text)
                if len(child):
                    _lxml_cell_text(child, out)
                if block:
                    out.append(" ")
        tail = child.tail
        if tail:
            out.append(tail)


def _lxml_table(el, out: list[str]) -> None:
    out.append(_BREAK + _TABLE)
    for tr in el.iter("tr"):
        out.append(_ROW)
        for td in tr.iterchildren("td", "th"):
            out.append(_CELL)
            text = td.text
            if text:
                out.append(text)
            if len(td):
                _lxml_cell_text(td, out)
    out.append(_BREAK)


def _lxml_walk(el, out: list[str], bold) -> None:
    for child in el:
        tag = child.tag
        if tag.__class__ is str:
            style = child.get("style")
            flags = _STYLE_FLAGS[style] if style else 0
            if flags & _HIDDEN or tag in SKIP_TAGS:
                pass
            elif tag == "table" and next(child.iterdescendants("table"), None) is None:
                _lxml_table(child, out)
            elif tag == "img":
                out.append(_BREAK + _IMAGE + (child.get("alt") or "") + _BREAK)
            else:
                b = bold or flags & _BOLD or tag in BOLD_TAGS
                block = tag in BLOCK_TAGS
                if block:
                    out.append(_BREAK)
                text = child.text
                if text:
                    out.append(_BOLD_ON + text + _BOLD_OFF if b else text)
                if len(child):
                    _lxml_walk(child, out, b)
                if block:
                    out.append(_BREAK)
        tail = child.tail
        if tail:
            out.append(_BOLD_ON + tail + _BOLD_OFF if bold else tail)


def _table_rows(tables: str) -> list[tuple[list[list[str]], int]]:
    """`BlockBuilder.table`'s cleaning of the table segments joined in `tables` (each starts
    with _TABLE): (rows, images) per table, whitespace normalised in one pass for all."""
    if _CELL_IMAGE in tables:
        # An image adds nothing to its cell's text but counts for its table, so tables
        # holding one are cleaned one by one with the image markers taken out first.
        return [
            (_table_rows(_TABLE + t.replace(_CELL_IMAGE, ""))[0][0], t.count(_CELL_IMAGE))
            for t in tables.split(_TABLE)[1:]
        ]
    tables = " ".join(tables.split())
    for mark in (_TABLE, _ROW, _CELL):
        tables = tables.replace(" " + mark, mark).replace(mark + " ", mark)
    out = []
    for table in tables.split(_TABLE)[1:]:
        rows = []
        for row in table.split(_ROW):
            cells = [c for c in row.split(_CELL) if c and c not in SPACER_CELLS]
            if cells:
                rows.append(cells)
        out.append((rows, 0))
    return out


def _blocks_from_walk(out: list[str]) -> list[Block]:
    """The blocks `BlockBuilder` would make from the same walk, one segment at a time."""
    builder = BlockBuilder()
    add = builder._add
    segs = "".join(out).split(_BREAK)
    tables = iter(_table_rows("".join([s for s in segs if s[:1] == _TABLE])))
    for seg in segs:
        if not seg or seg.isspace():
            continue
        first = seg[0]
        if first == _TABLE:
            builder.clean_table(*next(tables))
        elif first == _IMAGE:
            add(Block("image", " ".join(seg[1:].split())))
        elif _BOLD_ON in seg:
            if seg[0] == _BOLD_ON and seg[-1] == _BOLD_OFF and seg.count(_BOLD_ON) == 1:
                # One bold run and nothing else: every character is bold.
                text, bold = " ".join(seg[1:-1].split()), True
            else:
                text = " ".join(seg.replace(_BOLD_ON, "").replace(_BOLD_OFF, "").split())
                bold_text = "".join(p.partition(_BOLD_OFF)[0] for p in seg.split(_BOLD_ON)[1:])
                bold_chars = len("".join(bold_text.split()))
                bold = bold_chars >= 0.8 * (len(text) - text.count(" "))
            if text:
                add(Block("text", text, bold=bold), text.count(" ") + 1)
        else:
            text = " ".join(seg.split())
            if text:
                add(Block("text", text), text.count(" ") + 1)
    return builder.blocks


def blocks_from_text(text: str) -> list[Block]:
    """Plain-text filings: blank lines separate paragraphs; column-aligned numeric lines are tables."""
    builder = BlockBuilder()
    table_rows: list[list[str]] = []

    def flush_table() -> None:
        if table_rows:
            builder.table(list(table_rows), 0)
            table_rows.clear()

    for line in text.splitlines():
        stripped = line.strip()
        cells = [c for c in re.split(r"\s{2,}|\t", stripped) if c]
        if len(cells) >= 3 or (len(cells) == 2 and NUMBER_CELL_RE.match(cells[1])):
            builder.boundary()
            table_rows.append(cells)
            continue
        flush_table()
        if not stripped:
            builder.boundary()
        else:
            builder.text(stripped + " ", False)
    flush_table()
    return builder.finish()


def document_blocks(document: str | bytes) -> list[Block]:
    """Blocks of a document with lxml (the fast path)."""
    text = decode_document(document)
    if not is_html(text):
        return blocks_from_text(text)
    html = _strip_inline_xbrl(text)
    # Plain etree elements: lxml.html's per-element class lookup costs ~10% of the walk.
    parser = etree.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)
    root = etree.fromstring(html, parser)
    if root is None:
        return []
    body = root.find("body")
    out: list[str] = []
    _lxml_walk(body if body is not None else root, out, False)
    return _blocks_from_walk(out)


# --------------------------------------------------------------------------- location

# "NOTE 5", "Note IV", "Note E", "5.", "5 -", "(5)".
NOTE_NUM_RE = re.compile(
    r"^\s*(?:note\s+(\d{1,2}|[ivxlc]{1,6}|[a-z])\b\.?|(\d{1,2})\s*[.:)\-–—]\s*(?=[A-Za-z])"
    r"|\((\d{1,2})\)\s*(?=[A-Za-z]))",
    re.I,
)
CONTINUED_RE = re.compile(
    r"[(\[]\s*continued\s*[)\]]|[-–—,]\s*continued\s*$|\bcont(?:inued|'d)\.?\s*$", re.I
)
SECTION_END_RE = re.compile(
    r"^(?:item\s+\d+[a-z]?\b|part\s+i{1,3}\b|signatures?$|exhibit index|report of independent registered)",
    re.I,
)
BALANCE_SHEET_RE = re.compile(r"balance sheets?|statements? of (?:financial )?condition", re.I)
NOTES_TO_FS_RE = re.compile(r"^notes? to (?:the )?(?:\w+ ){0,3}financial statements", re.I)
ACL_ROW_RE = re.compile(r"allowance for (?:credit|loan(?: and lease)?) loss", re.I)
ACL_INLINE_RE = re.compile(r"loss(?:es)? of \$?\s*([\d,]+(?:\.\d+)?)")
LOAN_LOSS_TITLE_RE = re.compile(r"allowance for loan(?: and lease)? loss")
NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
NON_NUMBER_RE = re.compile(r"[^\d.]")
FALLBACK_KEY_RE = re.compile(
    r"allowance for credit loss|allowance for loan loss|current expected credit loss|\bcecl\b|"
    r"topic 326|asc 326|charge[- ]?offs?|provision for credit loss|credit quality|past due|"
    r"collateral[- ]dependent|nonaccrual|expected credit loss",
    re.I,
)
# Substring pre-checks on `text.lower()` that every match of the pattern above them
# contains. Under re.I only i, k and s also match non-ASCII letters (ı İ K ſ), so the
# words avoid those letters and the pre-check can never reject a real match.
BALANCE_SHEET_WORDS = ("balance", "tatement")
FALLBACK_KEY_WORDS = (
    "cred",
    "allowance",
    "cecl",
    "326",
    "charge",
    "due",
    "collateral",
    "nonaccrual",
)
_ASCII_LETTERS = ascii_letters.encode()
_ASCII_UPPER = ascii_uppercase.encode()
HEADING_QUALIFIES = 50.0
MAX_NOTE_TOKENS = 40_000
FALLBACK_WINDOW = 30


def _upper_ratio(text: str) -> float:
    if text.isascii():
        raw = text.encode()
        letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        if not letters:
            return 0.0
        return (len(raw) - len(raw.translate(None, _ASCII_UPPER))) / letters
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(c.isupper() for c in letters) / len(letters)


def _block_upper(block: Block) -> float:
    if block._upper is None:
        block._upper = _upper_ratio(block.text)
    return block._upper


def is_heading_like(block: Block) -> bool:
    if block._heading is None:
        block._heading = _heading_like(block)
    return block._heading


def _heading_like(block: Block) -> bool:
    if block.kind != "text" or block.tokens > 25 or len(block.text) > 250:
        return False
    if block.text.endswith(".") and block.tokens > 12:
        return False
    return block.bold or _block_upper(block) >= 0.8 or NOTE_NUM_RE.match(block.text) is not None


def _continued_heading(block: Block) -> bool:
    """A heading-like text block marked "(continued)"."""
    if block._continued is None:
        block._continued = (
            is_heading_like(block)
            and "cont" in block.text.lower()
            and CONTINUED_RE.search(block.text) is not None
        )
    return block._continued


def _normalise_title(text: str) -> str:
    t = CONTINUED_RE.sub(" ", text)
    t = NOTE_NUM_RE.sub(" ", t, count=1)
    t = NON_ALNUM_RE.sub(" ", t.lower())
    return " ".join(t.split())


def _note_number(text: str) -> str | None:
    m = NOTE_NUM_RE.match(text)
    if not m:
        return None
    return (m.group(1) or m.group(2) or m.group(3)).lower()


def heading_score(text: str, *, bold: bool = False, after_statements: bool = False) -> float:
    """Score a heading as the start of the CECL note (0..100); >= 50 qualifies."""
    low = text.lower()
    # Every scoring phrase below ends in "loss" or "326"; without them the score is 0.
    if ("loss" not in low and "326" not in low) or CONTINUED_RE.search(text):
        return 0.0
    h = " " + _normalise_title(text) + " "
    score = 0.0
    if "allowance for credit loss" in h:
        score = 60.0
    elif "allowance for loan loss" in h or "allowance for loan and lease loss" in h:
        # Pre-CECL (incurred-loss) title of the same note, still used before adoption.
        score = 45.0
    elif " credit loss" in h:
        score = 30.0
    if " asc 326 " in h or " topic 326 " in h:
        score = max(score + 10.0, 50.0)
    if score == 0.0:
        return 0.0
    rest = LOAN_LOSS_TITLE_RE.sub(" ", h)
    if " loans " in rest or " loan " in rest:
        score += 10.0
    if "credit quality" in h:
        score += 10.0
    if any(
        w in h for w in (" securities ", " held to maturity ", " available for sale ", " unfunded ")
    ):
        score -= 20.0
    if NOTE_NUM_RE.match(text):
        score += 20.0
    if bold or _upper_ratio(text) >= 0.8:
        score += 5.0
    if after_statements:
        score += 10.0
    return float(min(100.0, max(0.0, score)))


@dataclass
class CeclNote:
    located_by: str  # heading | fallback | none
    heading: str | None = None
    heading_score: float | None = None
    segments: list[tuple[str, object]] = field(
        default_factory=list
    )  # ("p", str) | ("t", rows) | ("img", alt)
    distance_share: float = 0.0
    statements_found: bool = False
    balance_sheet_acl: float | None = None
    start_token: int = 0
    doc_tokens: int = 0

    @property
    def prose(self) -> str:
        return "\n\n".join(str(v) for k, v in self.segments if k == "p")

    @property
    def tables(self) -> list[list[list[str]]]:
        return [v for k, v in self.segments if k == "t"]  # type: ignore[misc]

    @property
    def n_tables(self) -> int:
        return sum(k == "t" for k, _ in self.segments)

    @property
    def n_images(self) -> int:
        return sum(k == "img" for k, _ in self.segments)

    @property
    def text(self) -> str:
        out = []
        for kind, value in self.segments:
            if kind == "p":
                out.append(str(value))
            elif kind == "t":
                out.append("\n".join(" | ".join(r) for r in value))  # type: ignore[union-attr]
            else:
                out.append(f"[image: {value}]")
        return "\n\n".join(out)

    def to_record(self) -> dict:
        return {
            "heading": self.heading,
            "heading_score": self.heading_score,
            "located_by": self.located_by,
            "note_text": self.text,
            "n_tables": self.n_tables,
            "n_images": self.n_images,
            "distance_share": self.distance_share,
            "statements_found": self.statements_found,
            "balance_sheet_acl": self.balance_sheet_acl,
            "segments_json": json.dumps(self.segments, ensure_ascii=False),
        }

    @classmethod
    def from_record(cls, rec: dict) -> CeclNote:
        segments = [(k, v) for k, v in json.loads(rec["segments_json"])]
        bs = rec.get("balance_sheet_acl")
        hs = rec.get("heading_score")
        return cls(
            located_by=rec["located_by"],
            heading=rec.get("heading") or None,
            heading_score=None if hs is None or hs != hs else float(hs),
            segments=segments,
            distance_share=float(rec.get("distance_share") or 0.0),
            statements_found=bool(rec.get("statements_found")),
            balance_sheet_acl=None if bs is None or bs != bs else float(bs),
        )


def parse_number(cell: str) -> float | None:
    c = cell.strip()
    if not NUMBER_CELL_RE.match(c) or YEAR_RE.match(c):
        return None
    neg = "(" in c or c.lstrip().startswith("-")
    digits = NON_NUMBER_RE.sub("", c)
    if not digits or digits == ".":
        return None
    try:
        value = float(digits)
    except ValueError:
        return None
    return -value if neg else value


def _statements_anchor(blocks: list[Block]) -> tuple[int | None, float | None]:
    """Index of the block where the notes to the statements begin, and the balance-sheet ACL."""
    bs_idx = None
    acl = None
    for i, b in enumerate(blocks):
        if b.kind != "text" or b.tokens > 20:
            continue
        low = b.text.lower()
        if any(w in low for w in BALANCE_SHEET_WORDS) and BALANCE_SHEET_RE.search(b.text):
            for j in range(i + 1, min(i + 6, len(blocks))):
                t = blocks[j]
                if t.kind == "table" and "total assets" in t.text.lower():
                    bs_idx = j
                    acl = _acl_from_balance_sheet(t.rows or [])
                    break
            if bs_idx is not None:
                break
    start = bs_idx if bs_idx is not None else 0
    for i in range(start, len(blocks)):
        b = blocks[i]
        if b.kind == "text" and b.tokens <= 20 and _notes_to_statements(b.text):
            return i, acl
    return bs_idx, acl


def _notes_to_statements(text: str) -> bool:
    return text[:4].lower() == "note" and NOTES_TO_FS_RE.match(text) is not None


def _acl_from_balance_sheet(rows: list[list[str]]) -> float | None:
    for row in rows:
        label = row[0]
        if ACL_ROW_RE.search(label):
            inline = ACL_INLINE_RE.search(label)
            if inline:
                return float(inline.group(1).replace(",", ""))
            for cell in row[1:]:
                v = parse_number(cell)
                if v is not None:
                    return abs(v)
    return None


def _is_note_level(block: Block, chosen_upper: bool) -> bool:
    if not is_heading_like(block):
        return False
    if NOTE_NUM_RE.match(block.text) or SECTION_END_RE.match(block.text):
        return True
    return chosen_upper and _block_upper(block) >= 0.8 and block.tokens >= 2


def _is_continuation_of(block: Block, number: str | None, title: str) -> bool:
    if not _continued_heading(block):
        return False
    if number is not None and _note_number(block.text) == number:
        return True
    return bool(title) and _normalise_title(block.text) == title


def running_headers(blocks: list[Block]) -> frozenset[str]:
    """Page headers repeated on every printed page (company name, "Notes to ... (continued)")."""
    seen: dict[str, int] = {}
    for b in blocks:
        if b.tokens <= 25 and is_heading_like(b) and not NOTE_NUM_RE.match(b.text):
            seen[b.text.lower()] = seen.get(b.text.lower(), 0) + 1
    return frozenset(t for t, n in seen.items() if n >= 3)


def _skippable(block: Block, headers: frozenset[str]) -> bool:
    if block.kind != "text":
        return False
    if block._skip is None:
        block._skip = PAGE_NUMBER_RE.match(block.text) is not None or (
            block.tokens <= 20 and _notes_to_statements(block.text)
        )
    return block._skip or (bool(headers) and block.text.lower() in headers)


def _collect(
    blocks: list[Block], start: int, number, title, stop_on_upper: bool, headers: frozenset[str]
) -> tuple[list[Block], int]:
    out: list[Block] = []
    tokens = 0
    i = start
    while i < len(blocks):
        b = blocks[i]
        if _is_continuation_of(b, number, title) or _skippable(b, headers):
            i += 1
            continue
        if i > start and _is_note_level(b, stop_on_upper):
            break
        out.append(b)
        tokens += b.tokens
        if tokens > MAX_NOTE_TOKENS:
            i += 1
            break
        i += 1
    return out, i


def _note_body(
    blocks: list[Block], idx: int, headers: frozenset[str], continued: list[int]
) -> list[Block]:
    """`continued`: indices of the "(continued)" headings, the only places a note resumes."""
    head = blocks[idx]
    number, title = _note_number(head.text), _normalise_title(head.text)
    # Only an unnumbered upper-case title ends at the next upper-case heading; a numbered
    # note runs to the next numbered note, whatever its subheadings look like.
    stop_on_upper = number is None and _block_upper(head) >= 0.8
    body, end = _collect(blocks, idx + 1, number, title, stop_on_upper, headers)
    # Later "(continued)" pages of the same note that sit after another note.
    j = end
    for k in continued:
        if k >= j and _is_continuation_of(blocks[k], number, title):
            more, j = _collect(blocks, k + 1, number, title, stop_on_upper, headers)
            body.extend(more)
    return body


def _segments(blocks: list[Block]) -> list[tuple[str, object]]:
    segs: list[tuple[str, object]] = []
    for b in blocks:
        if b.kind == "text":
            segs.append(("p", b.text))
        elif b.kind == "table":
            segs.append(("t", b.rows))
        else:
            segs.append(("img", b.text))
    return segs


def locate_note(blocks: list[Block]) -> CeclNote:
    """Choose the CECL note among heading candidates, merging "(continued)" pages."""
    anchor, acl = _statements_anchor(blocks)
    doc_tokens = blocks[-1].start + blocks[-1].tokens if blocks else 0
    anchor_start = blocks[anchor].start if anchor is not None else 0

    heads = [i for i, b in enumerate(blocks) if is_heading_like(b)]
    candidates: list[tuple[float, int]] = []
    for i in heads:
        b = blocks[i]
        s = heading_score(b.text, bold=b.bold, after_statements=anchor is not None and i > anchor)
        if s >= HEADING_QUALIFIES:
            candidates.append((s, i))

    if candidates:
        headers = running_headers([blocks[i] for i in heads])
        best_score = max(s for s, _ in candidates)
        # Near-ties (a table-of-contents line, a repeated title) go to the candidate that
        # heads a real note body; then the higher score, then the earlier one.
        near = [(s, i) for s, i in candidates if s >= best_score - 5][:10]
        continued = [k for k in heads if _continued_heading(blocks[k])]
        ranked = []
        for s, i in near:
            body = _note_body(blocks, i, headers, continued)
            words = sum(b.tokens for b in body)
            ranked.append(((words >= 40, s, -i), i, s, body))
        _, best, score, body = max(ranked, key=lambda r: r[0])
        head = blocks[best]
        note = CeclNote("heading", head.text, score, _segments(body))
        start_token = head.start
    else:
        found = _fallback(blocks, anchor)
        if found is None:
            return CeclNote(
                "none",
                statements_found=anchor is not None,
                balance_sheet_acl=acl,
                doc_tokens=doc_tokens,
            )
        lo, hi = found
        heading_idx = next((k for k in range(lo, -1, -1) if is_heading_like(blocks[k])), None)
        heading = blocks[heading_idx].text if heading_idx is not None else None
        hs = (
            heading_score(
                heading,
                bold=blocks[heading_idx].bold,
                after_statements=anchor is not None and heading_idx > anchor,
            )
            if heading is not None
            else None
        )
        headers = running_headers([blocks[i] for i in heads])
        body = [b for b in blocks[lo:hi] if not (_skippable(b, headers) or _continued_heading(b))]
        note = CeclNote("fallback", heading, hs, _segments(body))
        start_token = blocks[lo].start

    note.statements_found = anchor is not None
    note.balance_sheet_acl = acl
    note.start_token = start_token
    note.doc_tokens = doc_tokens
    if start_token >= anchor_start:
        note.distance_share = (start_token - anchor_start) / max(1, doc_tokens - anchor_start)
    else:
        note.distance_share = (anchor_start - start_token) / max(1, anchor_start)
    note.distance_share = float(min(1.0, max(0.0, note.distance_share)))
    return note


def _has_fallback_word(low: str) -> bool:
    return any(w in low for w in FALLBACK_KEY_WORDS)


def _fallback(blocks: list[Block], anchor: int | None) -> tuple[int, int] | None:
    """The densest run of CECL keywords, extended to the end of its section."""
    hits = [
        len(FALLBACK_KEY_RE.findall(b.text))
        if b.kind != "image" and _has_fallback_word(b.text.lower())
        else 0
        for b in blocks
    ]
    if sum(hits) < 3:
        return None
    lo_bound = anchor if anchor is not None and sum(hits[anchor:]) >= 3 else 0
    prefix = [0]
    for h in hits:
        prefix.append(prefix[-1] + h)
    best_i, best_sum = lo_bound, -1
    for i in range(lo_bound, len(blocks)):
        if hits[i] == 0:
            continue
        s = prefix[min(len(blocks), i + FALLBACK_WINDOW)] - prefix[i]
        if s > best_sum:
            best_i, best_sum = i, s
    lo = best_i
    last_hit = max(k for k in range(lo, min(len(blocks), lo + FALLBACK_WINDOW)) if hits[k])
    hi = last_hit + 1
    limit = min(len(blocks), lo + 3 * FALLBACK_WINDOW)
    while hi < limit:
        b = blocks[hi]
        if is_heading_like(b) and not _continued_heading(b) and _is_note_level(b, True):
            break
        hi += 1
    return lo, hi


def extract_note(document: str | bytes) -> CeclNote:
    """Locate the CECL note of one primary document (HTML, inline XBRL or text)."""
    return locate_note(document_blocks(document))
