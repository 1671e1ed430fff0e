"""One run at a time: three runs submitted at once through the operator UI queue up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import OPERATOR, PROBE_LOCATION

pytestmark = pytest.mark.integration

LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""
RUN_SECONDS = 3.0
FINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _launch(stack) -> str:
    params = {
        "executionParams": {
            "selector": {
                "repositoryLocationName": PROBE_LOCATION,
                "repositoryName": "__repository__",
                "jobName": "queue_probe",
            },
            "runConfigData": {"ops": {"hold_the_slot": {"config": {"seconds": RUN_SECONDS}}}},
        }
    }
    result = stack.graphql("/operator/graphql", LAUNCH, params, user=OPERATOR).json()
    launched = result["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_three_runs_submitted_at_once_run_one_at_a_time(stack):
    from dagster import DagsterRunStatus, RunsFilter

    with ThreadPoolExecutor(max_workers=3) as pool:
        run_ids = list(pool.map(lambda _: _launch(stack), range(3)))
    assert len(set(run_ids)) == 3

    in_progress = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    most_in_progress = 0
    saw_queued_while_one_ran = False
    deadline = time.monotonic() + 300
    with stack.instance() as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(RunsFilter(run_ids=run_ids))
            statuses = [run.status for run in runs]
            running = sum(status in in_progress for status in statuses)
            most_in_progress = max(most_in_progress, running)
            if running == 1 and DagsterRunStatus.QUEUED in statuses:
                saw_queued_while_one_ran = True
            if all(status.value in FINAL for status in statuses):
                break
            time.sleep(0.2)
        records = instance.get_run_records(RunsFilter(run_ids=run_ids))

    assert [r.dagster_run.status.value for r in records] == ["SUCCESS"] * 3
    assert most_in_progress == 1
    assert saw_queued_while_one_ran
    # The recorded run windows never overlap either (the poll above could miss an instant).
    windows = sorted((r.start_time, r.end_time) for r in records)
    for (_, end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert end <= next_start
    for start, end in windows:
        assert end - start >= RUN_SECONDS
