"""Data sources, one module or package per source: `sample`, `files`, `live`.

No Dagster import here: the resources in `acct445_assets.resources` are thin adapters
over these.
"""
