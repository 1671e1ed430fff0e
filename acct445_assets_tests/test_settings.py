import pytest

from acct445_assets.settings import SettingsError, load_settings


def test_default_is_sample_with_warehouse_under_data(tmp_path):
    s = load_settings({"ACCT445_HOME": str(tmp_path)})
    assert s.source == "sample"
    assert s.warehouse == tmp_path / "acct445.duckdb"


def test_unknown_source_is_a_clear_error():
    with pytest.raises(
        SettingsError, match="ACCT445_SOURCE='csv' is not one of sample, files, live"
    ):
        load_settings({"ACCT445_SOURCE": "csv"})


def test_files_needs_an_existing_directory(tmp_path):
    with pytest.raises(SettingsError, match="needs ACCT445_DATA_DIR"):
        load_settings({"ACCT445_SOURCE": "files"})
    with pytest.raises(SettingsError, match="is not a directory"):
        load_settings({"ACCT445_SOURCE": "files", "ACCT445_DATA_DIR": str(tmp_path / "nope")})
    s = load_settings({"ACCT445_SOURCE": "files", "ACCT445_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path


def test_explicit_warehouse_path(tmp_path):
    s = load_settings({"ACCT445_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert s.warehouse == tmp_path / "w.duckdb"


def test_sqlite_connections_of_the_code_location_sync_at_checkpoints(tmp_path):
    import sqlalchemy

    import acct445_assets.definitions  # noqa: F401  (installs the hook)

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        # 1 = NORMAL; SQLite's default is 2 = FULL (an fsync per commit).
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1


def test_closing_a_sqlite_connection_of_the_code_location_does_not_checkpoint(tmp_path):
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    import acct445_assets.definitions  # noqa: F401  (installs the hook)

    path = tmp_path / "events.db"
    # As Dagster's SQLite storages do: a new connection per operation, closed after it.
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("create table events (id integer primary key, body text)")
        conn.commit()
    for i in range(20):
        with engine.connect() as conn:
            conn.exec_driver_sql("insert into events (body) values (?)", (f"event {i}",))
            conn.commit()
    # The last close of a WAL database checkpoints the log and deletes it; the held
    # connection keeps these closes from being the last, so the log is still there.
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from events").scalar() == 20


def test_the_sample_source_keeps_its_universe_and_truth_record_under_acct445_home(
    tmp_path, monkeypatch
):
    from acct445_assets.resources import build_resources
    from acct445_assets.sources.sample import SamplePrices, SampleSpec

    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    resources = build_resources(load_settings({"ACCT445_HOME": str(home)}))
    for name in ("factor_source", "price_source", "filing_source"):
        assert resources[name].spec().sample_dir == str(home / "sample")
    # The resource's own directory, on a universe small enough for a unit test.
    small = SampleSpec(445, 4, "2022-01-01", "2022-03-31", resources["price_source"].sample_dir)
    truth = SamplePrices(small).provenance()["truth_record"]
    assert truth == str(home / "sample" / "truth.json")
    assert list((home / "sample" / "cache").glob("*.pkl"))
    assert not (tmp_path / "data").exists()
