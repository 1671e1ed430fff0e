"""Ken French's data library, downloaded (the `live` factor source)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from .. import kenfrench
from ..base import FactorData, finish_factors
from .http import retrying_session

KEN_FRENCH_DATASETS = {
    "daily": ("F-F_Research_Data_5_Factors_2x3_daily", "F-F_Momentum_Factor_daily"),
    "monthly": ("F-F_Research_Data_5_Factors_2x3", "F-F_Momentum_Factor"),
}


@dataclass(frozen=True)
class KenFrenchFactors:
    """Ken French's data library: the published zips, fetched with `requests`.

    The project's own parser reads them, because it must record the vintage and SHA-256
    of the raw file and handle every historical layout (METHODS 2).
    """

    base_url: str = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"
    retries: int = 3
    backoff_seconds: float = 1.0
    timeout: float = 30.0

    def url(self, dataset: str) -> str:
        return f"{self.base_url.rstrip('/')}/{dataset}_CSV.zip"

    def _download(self, dataset: str) -> bytes:
        url = self.url(dataset)
        with retrying_session(self.retries, self.backoff_seconds) as session:
            try:
                resp = session.get(url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise RuntimeError(f"Ken French library: {url}: {exc}") from exc
        if resp.status_code != 200:
            raise RuntimeError(f"Ken French library: HTTP {resp.status_code} from {url}")
        if not resp.content.startswith(b"PK"):
            raise RuntimeError(f"Ken French library: {url} did not return a zip file")
        return resp.content

    def load(self, frequency: str) -> FactorData:
        files, meta = [], {}
        for dataset in KEN_FRENCH_DATASETS[frequency]:
            raw = self._download(dataset)
            digest = hashlib.sha256(raw).hexdigest()
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                text = zf.read(zf.namelist()[0]).decode("latin-1")
            parsed = kenfrench.parse_text(text, f"{dataset}_CSV.zip", digest)
            files.append(parsed)
            meta[dataset] = {"sha256": digest, "vintage": parsed.vintage}
        frame = kenfrench.merge_files(files, frequency)
        return FactorData(
            finish_factors(frame),
            {
                "source": "live",
                "files": list(meta),
                "vintage": ",".join(sorted({m["vintage"] for m in meta.values() if m["vintage"]}))
                or "unknown",
                "sha256": {k: v["sha256"] for k, v in meta.items()},
                "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
