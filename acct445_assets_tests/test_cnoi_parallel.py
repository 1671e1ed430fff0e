"""Extraction and scoring split over processes give the serial result, from lazily made documents."""

import pickle

import pandas as pd
import pytest

from acct445_assets.cnoi.pipeline import bank_batches, extract_notes, score_notes
from acct445_assets.sources.files.documents import LocalDocumentReader
from acct445_assets.sources.sample.filings import SampleDocumentReader, generate_filings
from acct445_assets.sources.sample.universe import (
    SampleConfig,
    generate_sample_banks,
    generate_universe,
)

CONFIG = SampleConfig(seed=445, n_banks=14, start="2019-01-01", end="2023-12-31")


@pytest.fixture(scope="module")
def banks():
    return generate_sample_banks(CONFIG)


@pytest.fixture(scope="module")
def filings(banks):
    return generate_filings(banks, seed=CONFIG.seed, start="2020-01-01", end="2023-12-31")


def test_sample_banks_alone_equal_the_universes_banks(banks):
    pd.testing.assert_frame_equal(banks, generate_universe(CONFIG).banks)


def test_reader_makes_the_same_documents_one_bank_at_a_time(banks, filings):
    reader = SampleDocumentReader(banks, seed=CONFIG.seed, start="2020-01-01", end="2023-12-31")
    # Out of bank order on purpose: a reader that revisits a bank must still be right.
    shuffled = filings.sample(frac=1.0, random_state=1)
    for row in shuffled.head(40).to_dict("records"):
        assert reader(row) == row["document"]
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._docs == {}
    row = filings.iloc[-1].to_dict()
    assert clone(row) == row["document"]
    with pytest.raises(FileNotFoundError, match="no document for accession 0000000000-99"):
        reader({**row, "accession": "0000000000-99-000001"})


def test_batches_keep_each_bank_whole_and_cover_every_row(filings):
    shuffled = filings.sample(frac=1.0, random_state=2).reset_index(drop=True)
    batches = bank_batches(shuffled, 5)
    seen = sorted(int(p) for b in batches for p in b)
    assert seen == list(range(len(shuffled)))
    owners = {}
    for i, batch in enumerate(batches):
        ciks = shuffled.loc[batch, "cik"].tolist()
        runs = [c for j, c in enumerate(ciks) if j == 0 or c != ciks[j - 1]]
        assert len(runs) == len(set(runs))  # a bank's rows are consecutive in its batch
        for cik in set(ciks):
            mine = [p for p in batch if shuffled.at[p, "cik"] == cik]
            assert mine == sorted(mine)  # and in their original order
        for cik in shuffled.loc[batch, "cik"]:
            assert owners.setdefault(cik, i) == i
    assert 3 <= len(batches) <= 6


def test_two_processes_give_the_serial_notes_and_scores(banks, filings):
    assert len(filings) >= 200  # the pool only starts from PARALLEL_MIN_FILINGS filings
    reader = SampleDocumentReader(banks, seed=CONFIG.seed, start="2020-01-01", end="2023-12-31")
    listing = filings.drop(columns=["document"]).sample(frac=1.0, random_state=3)
    serial = extract_notes(listing, reader)
    parallel = extract_notes(listing, reader, workers=2)
    pd.testing.assert_frame_equal(parallel, serial)
    assert (serial["status"] == "ok").mean() > 0.95
    pd.testing.assert_frame_equal(score_notes(serial, workers=2), score_notes(serial))


def test_local_reader_names_the_folder_and_accession(tmp_path):
    doc = tmp_path / "0001-23-000001.htm"
    doc.write_bytes(b"<html>note</html>")
    reader = pickle.loads(pickle.dumps(LocalDocumentReader(str(tmp_path))))
    assert reader({"accession": "0001-23-000001", "document_url": doc.as_uri()}) == doc.read_bytes()
    with pytest.raises(FileNotFoundError, match=r"no document for accession 9.*9\.htm"):
        reader({"accession": "9", "document_url": None})
