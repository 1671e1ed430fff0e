"""Ken French's data library, downloaded (the `live` factor source)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import kenfrench
from ..base import FactorData, finish_factors

KEN_FRENCH_DATASETS = {
    "daily": ("F-F_Research_Data_5_Factors_2x3_daily", "F-F_Momentum_Factor_daily"),
    "monthly": ("F-F_Research_Data_5_Factors_2x3", "F-F_Momentum_Factor"),
}


@dataclass(frozen=True)
class KenFrenchFactors:
    """Ken French's data library through pandas-datareader's downloader.

    pandas-datareader fetches the zip (with its session and retries); the project's own
    parser reads it, because it must record the vintage and SHA-256 of the raw file and
    handle every historical layout.
    """

    base_url: str = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp"
    retry_count: int = 3
    pause: float = 1.0
    timeout: float = 30.0

    def _download(self, dataset: str) -> bytes:
        from pandas_datareader.famafrench import FamaFrenchReader

        base_url = self.base_url

        class _RawReader(FamaFrenchReader):
            @property
            def url(self):
                return f"{base_url}/{self.symbols}_CSV.zip"

        reader = _RawReader(
            dataset, retry_count=self.retry_count, pause=self.pause, timeout=self.timeout
        )
        try:
            return reader._get_response(reader.url).content
        finally:
            reader.close()

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
