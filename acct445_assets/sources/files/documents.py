"""Reading primary documents from a local folder, in any process (extraction workers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname


@dataclass(frozen=True)
class LocalDocumentReader:
    """``read_document`` for filings whose ``document_url`` is a file:// URL in ``folder``."""

    folder: str
    suffixes: tuple[str, ...] = (".htm", ".html", ".xhtml", ".txt")

    def __call__(self, filing: Mapping) -> bytes:
        url = filing.get("document_url")
        if not url:
            looked = ", ".join(filing["accession"] + s for s in self.suffixes)
            raise FileNotFoundError(
                f"{self.folder}: no document for accession {filing['accession']} (looked for {looked})"
            )
        return Path(url2pathname(urlparse(url).path)).read_bytes()
