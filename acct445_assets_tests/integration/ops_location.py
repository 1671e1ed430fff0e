"""A second code location for the integration tests: a job whose run only sleeps, so the run
queue can be observed without depending on the study's data."""

import time

from dagster import Config, Definitions, OpExecutionContext, job, op


class ProbeConfig(Config):
    seconds: float = 2.0


@op
def hold_the_slot(context: OpExecutionContext, config: ProbeConfig) -> None:
    context.log.info(f"holding the run slot for {config.seconds}s")
    time.sleep(config.seconds)


@job
def queue_probe():
    hold_the_slot()


defs = Definitions(jobs=[queue_probe])
