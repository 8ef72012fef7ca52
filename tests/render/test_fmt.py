"""The one number formatter: the documented rounding rule, by known answers."""

from __future__ import annotations

import pytest

from trustaudit.render.fmt import fmt_ci, fmt_num, fmt_value, short_digest


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (float("nan"), "n/a"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (True, "yes"),
        (False, "no"),
        (16281, "16281"),
        (-3, "-3"),
        (10860.0, "10860"),  # whole floats print as integers
        (0.0, "0"),
        (1.0, "1"),
        (0.29981583, "0.300"),  # 3 decimals
        (-0.29812, "-0.298"),
        (0.0103, "0.010"),
        (0.001, "0.001"),
        (999.123, "999.123"),
        (1234.6, "1235"),  # >= 1000: integer
        (-98765.4, "-98765"),
        (0.00099996, "1.0e-03"),  # < 0.001: 2 significant digits
        (3.1e-15, "3.1e-15"),
        (-1.234e-7, "-1.2e-07"),
    ],
)
def test_fmt_num_known_answers(value, text):
    assert fmt_num(value) == text


def test_fmt_ci_and_values():
    assert fmt_ci(0.29120083, 0.30791) == "[0.291, 0.308]"
    assert fmt_ci(0.0, 0.031) == "[0, 0.031]"
    assert fmt_value([0.05, 1, "a"]) == "0.050, 1, a"
    assert fmt_value([]) == "none"
    assert fmt_value({"I": 12.5, "II": 100.0}) == "I: 12.500; II: 100"
    long = fmt_value(list(range(30)), max_items=5)
    assert long == "0, 1, 2, 3, 4, …"  # cut without printing a derived count
    assert len(fmt_value("x" * 1000, max_chars=50)) == 50
    assert short_digest("246a8b6c77cabd5bf6ff") == "246a8b6c77ca"
    assert short_digest(None) == "n/a"
