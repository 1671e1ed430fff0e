"""CNOI: CECL note location, extraction and the cnoi-1 opacity rubric (no Dagster here)."""

from .extract import CeclNote, document_blocks, extract_note, locate_note
from .readability import readability
from .rubric import RUBRIC_VERSION, WEIGHTS, NoteUnscorable, score_note

__all__ = [
    "RUBRIC_VERSION",
    "WEIGHTS",
    "CeclNote",
    "NoteUnscorable",
    "document_blocks",
    "extract_note",
    "locate_note",
    "readability",
    "score_note",
]
