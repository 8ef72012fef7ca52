"""Misbehaving check plug-ins for the isolation tests (registered through fake entry points)."""

from __future__ import annotations

import sys
from typing import Any

from trustaudit.checks.base import Check, CheckOutput
from trustaudit.results import Metric


class ExitCheck(Check):
    id = "bad.exit"
    category = "bad"
    title = "Calls sys.exit"

    def run(self, ctx: Any, params: Any) -> CheckOutput:
        sys.exit(3)


class WrongReturnCheck(Check):
    id = "bad.wrong_return"
    category = "bad"
    title = "Returns a dict"

    def run(self, ctx: Any, params: Any) -> Any:
        return {"metrics": []}


class InvalidMetricCheck(Check):
    id = "bad.invalid_metric"
    category = "bad"
    title = "Returns a metric list holding a string"

    def run(self, ctx: Any, params: Any) -> CheckOutput:
        return CheckOutput(metrics=[Metric(name="ok", value=1.0), "not a metric"])  # type: ignore[list-item]


class GoodCheck(Check):
    id = "bad.good"
    category = "bad"
    title = "A well-behaved plug-in"

    def run(self, ctx: Any, params: Any) -> CheckOutput:
        return CheckOutput(metrics=[Metric(name="rows", value=float(len(ctx.bundle.data)))], summary="fine")
