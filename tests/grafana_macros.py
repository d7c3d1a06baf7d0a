"""Grafana's SQL macros and template variables, expanded as Grafana's PostgreSQL data source
does, so the dashboard's queries can run against a real database in the tests.

Only what the provisioned dashboard uses is supported; anything else left in a query (an
unknown ``$__macro``, an undefined ``$variable``) raises, so a new macro in the dashboard
cannot slip past the test unexpanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# $__name(args) with arguments that hold no parentheses (true of every macro used here).
MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")


class MacroError(ValueError):
    """A query uses a macro or variable this expander does not know."""


@dataclass(frozen=True)
class Expansion:
    """The dashboard's time range, interval and template variable values for one run."""

    time_from: datetime
    time_to: datetime
    interval: str = "5m"
    variables: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def sql(self, query: str) -> str:
        """``query`` with its variables and macros replaced, ready for PostgreSQL."""
        # Grafana interpolates template variables ($__interval among them) before macros.
        query = VARIABLE.sub(self._variable, query)
        query = MACRO.sub(self._macro, query)
        if "$" in query.replace("$$", ""):
            raise MacroError(f"unexpanded placeholder left in: {query}")
        return query

    def _variable(self, m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name.startswith("__") and name != "__interval":
            return m.group(0)  # a macro: expanded after the variables
        if name == "__interval":
            return self.interval
        if name == "__interval_ms":
            return str(int(seconds(self.interval) * 1000))
        if name not in self.variables:
            raise MacroError(f"undefined template variable ${name}")
        # A SQL data source formats (multi-)values as quoted literals joined by commas.
        return ",".join(quote(v) for v in self.variables[name])

    def _macro(self, m: re.Match[str]) -> str:
        name, args = m.group(1), [a.strip() for a in m.group(2).split(",") if a.strip()]
        start, end = literal(self.time_from), literal(self.time_to)
        if name == "timeFilter":
            return f"{args[0]} BETWEEN {start} AND {end}"
        if name == "timeFrom":
            return start
        if name == "timeTo":
            return end
        if name in ("timeGroup", "timeGroupAlias"):
            step = seconds(args[1].strip("'\""))
            group = f"floor(extract(epoch from {args[0]})/{step:g})*{step:g}"
            return f'{group} AS "time"' if name == "timeGroupAlias" else group
        raise MacroError(f"unknown macro $__{name}")


def seconds(duration: str) -> float:
    m = DURATION.match(duration)
    if m is None:
        raise MacroError(f"not a Grafana duration: {duration!r}")
    return int(m.group(1)) * UNIT_S[m.group(2)]


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def literal(at: datetime) -> str:
    return quote(at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
