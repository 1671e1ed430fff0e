import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _results_outside_the_repo(tmp_path_factory):
    """Assets publish tables and figures to ACCT445_RESULTS_DIR; tests must not touch results/."""
    previous = os.environ.get("ACCT445_RESULTS_DIR")
    os.environ["ACCT445_RESULTS_DIR"] = str(tmp_path_factory.mktemp("results"))
    yield
    if previous is None:
        os.environ.pop("ACCT445_RESULTS_DIR", None)
    else:
        os.environ["ACCT445_RESULTS_DIR"] = previous
