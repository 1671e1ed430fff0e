"""Research parameters from params.yaml: the one source of defaults for Dagster and DVC."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path(__file__).resolve().parent.parent / "params.yaml"


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def params_path() -> Path:
    return Path(os.environ.get("ACCT445_PARAMS", PARAMS_FILE))


def load_params() -> dict[str, Any]:
    return _load(str(params_path()))


def section(name: str) -> dict[str, Any]:
    return dict(load_params().get(name, {}))
