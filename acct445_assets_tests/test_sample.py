import numpy as np
import pandas as pd
import pytest

from acct445_assets.calendar import trading_days
from acct445_assets.sources.sample.universe import (
    SampleConfig,
    generate_universe,
    monthly_from_daily,
)

SMALL = SampleConfig(seed=7, n_banks=20, start="2021-06-01", end="2023-12-29")


@pytest.fixture(scope="module")
def universe():
    return generate_universe(SMALL)


def test_same_seed_same_universe(universe):
    again = generate_universe(SMALL)
    pd.testing.assert_frame_equal(universe.prices, again.prices)
    pd.testing.assert_frame_equal(universe.factors_daily, again.factors_daily)
    pd.testing.assert_frame_equal(universe.banks, again.banks)
    assert universe.truth == again.truth


def test_other_seed_other_universe(universe):
    other = generate_universe(SampleConfig(seed=8, n_banks=20, start=SMALL.start, end=SMALL.end))
    assert not other.prices["adj_close"].equals(universe.prices["adj_close"])


def test_prices_on_nyse_sessions_positive_unique(universe):
    sessions = trading_days(SMALL.start, SMALL.end)
    assert set(universe.prices["date"]) <= set(sessions)
    assert (universe.prices["adj_close"] > 0).all()
    assert not universe.prices.duplicated(["date", "ticker"]).any()
    assert list(universe.factors_daily.index) == list(sessions)


def test_failed_banks_delist_on_their_last_price(universe):
    failed = universe.truth["failed_banks"]
    assert len(failed) == 3
    for bank in failed:
        rows = universe.prices[universe.prices["ticker"] == bank["ticker"]]
        assert rows["date"].max() == pd.Timestamp(bank["last_date"])
        assert rows.loc[rows["delisted"], "date"].tolist() == [pd.Timestamp(bank["last_date"])]
    assert universe.prices["delisted"].sum() == 3
    # The failures are the most opaque banks, as in the planted crisis.
    latent = pd.Series(universe.truth["latent_opacity"])
    assert set(b["cik"] for b in failed) == set(latent.nlargest(3).index)


def test_truth_record_holds_every_planted_parameter(universe):
    t = universe.truth
    for key in (
        "opacity_premium_daily_per_point",
        "svb_car_per_point",
        "svb_car_mean_at_50",
        "cecl_att_volatility",
        "latent_opacity",
        "adoption_quarter",
        "config",
    ):
        assert key in t
    assert set(t["latent_opacity"]) == set(universe.banks["cik"])
    assert set(t["adoption_quarter"].values()) <= {"2020Q1", "2020Q4", "2021Q1", "2022Q1", "2023Q1"}
    # Smaller reporting companies adopt in 2023Q1; the CARES deferrals are non-SRC.
    banks = universe.banks.set_index("cik")
    for cik, quarter in t["adoption_quarter"].items():
        if banks.loc[cik, "smaller_reporting_company"]:
            assert quarter == "2023Q1"
    assert t["cecl_att_volatility"] > 0


def test_svb_shock_grows_with_opacity(universe):
    r = universe.prices.pivot(index="date", columns="cik", values="adj_close").pct_change()
    window = r.loc["2023-03-09":"2023-03-13"].sum()
    latent = pd.Series(universe.truth["latent_opacity"])
    alive = window.dropna().index.difference([b["cik"] for b in universe.truth["failed_banks"]])
    slope = np.polyfit(latent[alive], window[alive], 1)[0]
    assert slope < 0


def test_monthly_factors_compound_daily():
    daily = pd.DataFrame(
        {c: [1.0, 2.0, -1.0] for c in ["mkt_rf", "smb", "hml", "rmw", "cma", "mom"]}
        | {"rf": [0.01] * 3},
        index=pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01"]),
    )
    monthly = monthly_from_daily(daily)
    assert list(monthly.index) == list(pd.to_datetime(["2024-01-31", "2024-02-29"]))
    jan_rf = (1.0001**2 - 1) * 100
    assert monthly.loc["2024-01-31", "rf"] == pytest.approx(round(jan_rf, 2))
    jan_mkt = ((1.0101 * 1.0201) - 1 - (1.0001**2 - 1)) * 100
    assert monthly.loc["2024-01-31", "mkt_rf"] == pytest.approx(round(jan_mkt, 2))


def test_periods_without_the_2023_crisis_have_no_failures():
    early = generate_universe(SampleConfig(seed=1, n_banks=8, start="2019-01-01", end="2020-12-31"))
    assert early.truth["failed_banks"] == []
    assert not early.prices["delisted"].any()
    assert early.prices["date"].max() == pd.Timestamp("2020-12-31")


def test_the_universe_is_cached_on_disk_and_rebuilt_when_stale_or_damaged(tmp_path):
    from acct445_assets.sources.sample import store

    args = (7, 12, "2022-01-01", "2022-06-30")
    made = store.load_sample_universe.__wrapped__(*args, cache_dir=str(tmp_path))
    cached = sorted((tmp_path / "cache").glob("universe-*.pkl"))
    assert [p.name for p in cached] == [
        f"universe-7-12-2022-01-01-2022-06-30-{store.generator_fingerprint()}.pkl"
    ]
    again = store.load_sample_universe.__wrapped__(*args, cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(again.prices, made.prices)
    assert again.truth == made.truth
    # A file from other generator code is replaced; a damaged one is rebuilt.
    stale = tmp_path / "cache" / "universe-7-12-2022-01-01-2022-06-30-0000000000000000.pkl"
    stale.write_bytes(b"old")
    cached[0].write_bytes(b"not a pickle")
    rebuilt = store.load_sample_universe.__wrapped__(*args, cache_dir=str(tmp_path))
    pd.testing.assert_frame_equal(rebuilt.prices, made.prices)
    assert not stale.exists()
    assert cached[0].read_bytes()[:1] == b"\x80"
