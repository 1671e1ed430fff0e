"""Declarative automation of the quarterly study: research and publication off the daily job.

The daily job (``schedules.daily_bank_prices_job``) writes the new session and rebuilds the
warehouse. The research estimates, the opacity validation and the report are quarterly by design (CNOI sorts on
quarterly filings, the DiD and panel on bank-quarters, a fixed SVB event window), so they
are not re-estimated every evening: this sensor requests them once a quarter, after the
first daily run of the new quarter has updated every input they read
(``AutomationCondition.on_cron``: a cron tick has passed and all dependencies were
updated since it). Runs it starts queue behind the daily run (one run at a time).
"""

from __future__ import annotations

import warnings

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    BetaWarning,
    DefaultSensorStatus,
)

from .schedules import DAILY_EXCLUDED_ASSETS, DAILY_EXCLUDED_GROUPS, EXECUTION_TIMEZONE

# 06:00 New York on the first calendar day of each quarter; the estimates then wait for the
# quarter's last session to reach the warehouse.
QUARTERLY_CRON = "0 6 1 1,4,7,10 *"
QUARTERLY_GROUPS = DAILY_EXCLUDED_GROUPS
QUARTERLY_ASSETS = DAILY_EXCLUDED_ASSETS
quarterly_condition = AutomationCondition.on_cron(QUARTERLY_CRON, EXECUTION_TIMEZONE)
quarterly_selection = AssetSelection.groups(*QUARTERLY_GROUPS) | AssetSelection.assets(
    *(list(key) for key in QUARTERLY_ASSETS)
)

with warnings.catch_warnings():
    # Dagster's notice that these two parameters are beta: nothing a user can act on.
    warnings.filterwarnings(
        "ignore",
        message="Parameter `(use_user_code_server|default_condition)`",
        category=BetaWarning,
    )
    quarterly_research_sensor = AutomationConditionSensorDefinition(
        "quarterly_research",
        target=quarterly_selection,
        default_condition=quarterly_condition,
        default_status=DefaultSensorStatus.RUNNING,
        # default_condition is evaluated in the code location (the assets keep their decorators).
        use_user_code_server=True,
        description="Research estimates and the report once a quarter, when their inputs moved.",
    )

sensors = [quarterly_research_sensor]
