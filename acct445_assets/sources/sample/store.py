"""One in-process copy of the generated sample universe, shared by the sample sources."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from .universe import (
    SampleConfig,
    SampleUniverse,
    generate_sample_banks,
    generate_universe,
    latent_opacity_path,
)

# Modules outside this package that the generator reads (trading days, column names).
READ_MODULES = (
    Path(__file__).resolve().parents[2] / "calendar.py",
    Path(__file__).resolve().parents[1] / "base.py",
)


def generator_fingerprint() -> str:
    """Changes with the generator's code, the calendar it reads and numpy/pandas, so a
    universe cached on disk is never one the current code would not make."""
    versions = f"{np.__version__} {pd.__version__} {version('exchange_calendars')}"
    digest = hashlib.sha256(versions.encode())
    for path in sorted([*Path(__file__).parent.glob("*.py"), *READ_MODULES]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=2)
def load_sample_universe(
    seed: int, n_banks: int, start: str, end: str, cache_dir: str | None = None
) -> SampleUniverse:
    """The generated universe; with ``cache_dir``, kept there as a pickle between processes
    (at 5,000 banks generating takes 8 s, and each CLI call and daily run needs it)."""
    config = SampleConfig(seed=seed, n_banks=n_banks, start=start, end=end)
    if cache_dir is None:
        return generate_universe(config)
    stem = f"universe-{seed}-{n_banks}-{start}-{end}"
    path = Path(cache_dir) / "cache" / f"{stem}-{generator_fingerprint()}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # a damaged or foreign file is rebuilt below
    universe = generate_universe(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(universe, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    for stale in path.parent.glob(f"{stem}-*.pkl"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return universe


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
