"""The warehouse IO manager: one transaction per write, columns by name, no empty overwrite."""

import duckdb
import pandas as pd
from dagster import (
    DailyPartitionsDefinition,
    Output,
    asset,
    materialize,
)

from acct445_assets.resources import build_resources
from acct445_assets.resources.io_manager import (
    AtomicDuckDBIOManager,
    AtomicPandasTypeHandler,
    _write_memory_limit,
)
from acct445_assets.settings import load_settings


def _run(db, frame, key=("raw", "things"), metadata=None, partition=None, partitions_def=None):
    @asset(key=list(key), metadata=metadata or {}, partitions_def=partitions_def)
    def things() -> Output[pd.DataFrame]:
        return Output(frame)

    return materialize(
        [things],
        resources={"io_manager": AtomicDuckDBIOManager(database=str(db))},
        partition_key=partition,
        raise_on_error=False,
    )


def _table(db, name="raw.things"):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * from {name} order by 1").df()


def test_the_project_uses_the_atomic_io_manager(tmp_path):
    resources = build_resources(load_settings({"ACCT445_HOME": str(tmp_path)}))
    assert isinstance(resources["io_manager"], AtomicDuckDBIOManager)


def test_columns_match_by_name_and_new_columns_are_added(tmp_path):
    db = tmp_path / "w.duckdb"
    assert _run(db, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})).success
    # Reordered, with one more column: values must land under their own names.
    assert _run(db, pd.DataFrame({"c": [9.5, 8.5], "b": ["p", "q"], "a": [3, 4]})).success
    out = _table(db)
    assert out["a"].tolist() == [3, 4]
    assert out["b"].tolist() == ["p", "q"]
    assert out["c"].tolist() == [9.5, 8.5]
    # A later frame without the new column leaves it NULL rather than shifting values.
    assert _run(db, pd.DataFrame({"b": ["r"], "a": [5]})).success
    out = _table(db)
    assert out["a"].tolist() == [5] and out["b"].tolist() == ["r"] and out["c"].isna().all()


def test_exception_between_delete_and_insert_leaves_table_unchanged(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    assert _run(db, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})).success
    before = _table(db)

    def boom(connection, target):
        # The old rows are already deleted inside the transaction at this point.
        assert connection.execute(f"select count(*) from {target}").fetchall() == [(0,)]
        raise RuntimeError("injected failure after the delete")

    monkeypatch.setattr(AtomicPandasTypeHandler, "insert", staticmethod(boom))
    result = _run(db, pd.DataFrame({"a": [7], "b": ["z"], "c": [1.0]}))
    assert not result.success
    after = _table(db)
    pd.testing.assert_frame_equal(before, after)
    assert list(after.columns) == ["a", "b"]  # the ALTER was rolled back too


def test_empty_output_fails_before_writing(tmp_path):
    db = tmp_path / "w.duckdb"
    assert _run(db, pd.DataFrame({"a": [1, 2]})).success
    result = _run(db, pd.DataFrame({"a": pd.Series([], dtype=int)}))
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "produced no rows" in str(failure.event_specific_data.error.cause)
    assert _table(db)["a"].tolist() == [1, 2]


def test_asset_that_may_be_empty_says_so(tmp_path):
    db = tmp_path / "w.duckdb"
    assert _run(db, pd.DataFrame({"a": [1, 2]})).success
    empty = pd.DataFrame({"a": pd.Series([], dtype=int)})
    assert _run(db, empty, metadata={"may_be_empty": True}).success
    assert _table(db).empty


def test_partition_rows_replaced_atomically(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    parts = DailyPartitionsDefinition(start_date="2024-01-01")
    meta = {"partition_expr": "date"}

    def day(d, v):
        return pd.DataFrame({"date": [pd.Timestamp(d)], "v": [v]})

    assert _run(
        db, day("2024-01-01", 1.0), metadata=meta, partition="2024-01-01", partitions_def=parts
    ).success
    assert _run(
        db, day("2024-01-02", 2.0), metadata=meta, partition="2024-01-02", partitions_def=parts
    ).success
    assert _run(
        db, day("2024-01-02", 3.0), metadata=meta, partition="2024-01-02", partitions_def=parts
    ).success
    assert _table(db)["v"].tolist() == [1.0, 3.0]
    monkeypatch.setattr(
        AtomicPandasTypeHandler,
        "insert",
        staticmethod(lambda c, t: (_ for _ in ()).throw(OSError("disk"))),
    )
    assert not _run(
        db, day("2024-01-02", 4.0), metadata=meta, partition="2024-01-02", partitions_def=parts
    ).success
    assert _table(db)["v"].tolist() == [1.0, 3.0]


def test_only_the_report_index_may_be_empty(tmp_path, monkeypatch):
    """Every other asset writes rows (research assets a status row when not estimable);
    the report's index of figures and tables is empty when nothing was published."""
    from dagster import DagsterInstance

    from acct445_assets.assets.publication import RESEARCH_INPUTS, research_report
    from acct445_assets.definitions import defs

    declared = {
        spec.key.to_user_string()
        for spec in defs.resolve_all_asset_specs()
        if spec.metadata.get("may_be_empty")
    }
    assert declared == {"publication/research_report"}

    monkeypatch.setenv("ACCT445_RESULTS_DIR", str(tmp_path / "results"))
    db = tmp_path / "w.duckdb"

    def stand_in(key):
        @asset(key=key)
        def _stub():
            return pd.DataFrame({"status": ["not estimable"]})

        return _stub

    stubs = [stand_in(key) for key in RESEARCH_INPUTS.values()]
    resources = {"io_manager": AtomicDuckDBIOManager(database=str(db))}
    instance = DagsterInstance.ephemeral()
    assert materialize(stubs, instance=instance, resources=resources).success
    result = materialize(
        [research_report, *stubs],
        instance=instance,
        resources=resources,
        selection=[research_report.key],
    )
    assert result.success
    assert _table(db, "publication.research_report").empty
    assert (tmp_path / "results" / "report.html").exists()


def test_categorical_inputs_load_as_sorted_integer_codes(tmp_path):
    """`categorical` input metadata: the column arrives as a pandas Categorical with sorted
    categories and the same values; other columns and unlisted inputs are unchanged."""
    from dagster import build_input_context
    from dagster._core.storage.db_io_manager import TableSlice

    db = tmp_path / "w.duckdb"
    frame = pd.DataFrame({"cik": ["0000000030", "0000000010", None, "0000000020", "O'Neil"]})
    frame["ret"] = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert _run(db, frame).success
    handler = AtomicPandasTypeHandler()
    with duckdb.connect(str(db)) as con:
        coded, plain, picked = (
            handler.load_input(
                build_input_context(definition_metadata=metadata),
                TableSlice(table="things", schema="raw", columns=columns),
                con,
            )
            for metadata, columns in (
                ({"categorical": ["cik"]}, None),
                ({}, None),
                ({"categorical": ["cik"]}, ["ret"]),
            )
        )
    assert isinstance(coded["cik"].dtype, pd.CategoricalDtype)
    assert list(coded["cik"].cat.categories) == sorted(frame["cik"].dropna())
    assert coded["cik"].isna().tolist() == plain["cik"].isna().tolist() == [0, 0, 1, 0, 0]
    assert coded["cik"].dropna().astype(object).tolist() == plain["cik"].dropna().tolist()
    assert coded["ret"].tolist() == plain["ret"].tolist() == frame["ret"].tolist()
    assert plain["cik"].dtype == object
    assert list(picked.columns) == ["ret"]


def _memory_limit(connection) -> str:
    return connection.execute("select current_setting('memory_limit')").fetchone()[0]


def test_writes_run_under_a_lower_memory_limit_and_leave_the_connection_as_it_was(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        default = _memory_limit(con)
        with _write_memory_limit(con):
            assert _memory_limit(con) == "953.6 MiB"  # 1GB
        assert _memory_limit(con) == default
        for chosen in ("100MB", "4GB"):  # a limit someone set is kept
            con.execute(f"set memory_limit = '{chosen}'")
            before = _memory_limit(con)
            with _write_memory_limit(con):
                assert _memory_limit(con) == before
            assert _memory_limit(con) == before


def test_a_frame_larger_than_the_write_memory_limit_is_written_intact(tmp_path, monkeypatch):
    n = 200_000
    frame = pd.DataFrame(
        {
            "a": range(n),
            "text": pd.Series([f"row {i} " * 12 for i in range(n)], dtype="string"),
            "x": [i / 7 for i in range(n)],
        }
    )
    seen = []
    insert = AtomicPandasTypeHandler.insert

    def watched(connection, target):
        seen.append(_memory_limit(connection))
        insert(connection, target)

    monkeypatch.setattr(AtomicPandasTypeHandler, "insert", staticmethod(watched))
    tables = {}
    for limit in ("32MB", "none"):
        monkeypatch.setenv("ACCT445_DUCKDB_WRITE_MEMORY_LIMIT", limit)
        db = tmp_path / f"{limit}.duckdb"
        assert _run(db, frame).success  # creates the table
        assert _run(db, frame).success  # replaces its rows (the insert path)
        tables[limit] = _table(db)
    assert seen[0] == "30.5 MiB" and seen[1] != "30.5 MiB"
    pd.testing.assert_frame_equal(tables["32MB"], tables["none"])
    expected = frame.assign(text=frame["text"].astype(object))
    pd.testing.assert_frame_equal(tables["32MB"], expected)
