"""One in-process copy of the generated sample universe, shared by the sample sources."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .universe import (
    SampleConfig,
    SampleUniverse,
    generate_sample_banks,
    generate_universe,
    latent_opacity_path,
)


@lru_cache(maxsize=2)
def load_sample_universe(seed: int, n_banks: int, start: str, end: str) -> SampleUniverse:
    return generate_universe(SampleConfig(seed=seed, n_banks=n_banks, start=start, end=end))


@lru_cache(maxsize=2)
def load_sample_banks(seed: int, n_banks: int, start: str, end: str) -> pd.DataFrame:
    """The sample's banks alone: the filing source must not make every price to get them."""
    return generate_sample_banks(SampleConfig(seed=seed, n_banks=n_banks, start=start, end=end))


@lru_cache(maxsize=2)
def load_sample_opacity_path(seed: int, n_banks: int, start: str, end: str) -> pd.DataFrame:
    """The sample's latent opacity by quarter and bank, which its filings follow."""
    cfg = SampleConfig(seed=seed, n_banks=n_banks, start=start, end=end)
    return latent_opacity_path(cfg, load_sample_banks(seed, n_banks, start, end))


def write_truth(universe: SampleUniverse, sample_dir: Path) -> Path:
    """The truth record lives beside the data so tests and users can compare estimates to it."""
    sample_dir.mkdir(parents=True, exist_ok=True)
    path = sample_dir / "truth.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(universe.truth, indent=2, default=str))
    tmp.replace(path)
    return path
