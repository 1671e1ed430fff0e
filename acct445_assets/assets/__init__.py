"""Asset modules, one per group; definitions.py loads every module listed here."""

from . import disclosure, market, publication, research, warehouse

ASSET_MODULES = [market, warehouse, research, disclosure, publication]
