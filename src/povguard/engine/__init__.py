"""Analytics engines: one protocol, DuckDB (default) and Apache Spark backends.

Stages build Ibis expressions and hand them to an :class:`Engine`, which runs them
and stores results per period, so the same stage code runs on both backends.
"""

from povguard.engine.base import Engine, open_engine
from povguard.engine.duck import DuckDBEngine

__all__ = ["DuckDBEngine", "Engine", "open_engine"]
