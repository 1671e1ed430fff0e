"""A second code location for the integration tests: a job whose run only sleeps, so the run
queue can be observed without depending on the study's data."""

import time

from dagster import Config, Definitions, OpExecutionContext, in_process_executor, job, op


class ProbeConfig(Config):
    seconds: float = 2.0


@op
def hold_the_slot(context: OpExecutionContext, config: ProbeConfig) -> None:
    context.log.info(f"holding the run slot for {config.seconds}s")
    time.sleep(config.seconds)


# One process per run: the run worker itself, no extra step process to start.
@job(executor_def=in_process_executor)
def queue_probe():
    hold_the_slot()


defs = Definitions(jobs=[queue_probe])
