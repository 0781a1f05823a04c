"""Numbers formatted for people: plain notation where sensible, powers of ten where not."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "fmt_tol"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Magnitudes below this are reported as "below 10⁻¹⁵" (float64 round-off of O(1) quantities).
FLOOR = 1e-15


def _power(exponent: int) -> str:
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for prose and tables.

    Integers keep every digit (with thousands separators); 0 is "0"; magnitudes below 1e-15
    read "below 10⁻¹⁵"; magnitudes in [1e-4, 1e5) use plain notation with ``digits``
    significant digits (``0.0093``, ``12.3``, ``1,234``); others use ``3.1 × 10⁻⁸``.
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15 and value != 0 and abs(value) >= 1e4):
        return f"{int(value):,}"
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0.0:
        return "0"
    sign = "−" if x < 0 else ""
    a = abs(x)
    if a < FLOOR:
        return f"below {_power(-15)}"
    if 1e-4 <= a < 1e5:
        decimals = max(digits - 1 - math.floor(math.log10(a)), 0)
        text = f"{a:,.{decimals}f}"
        return sign + text
    exponent = math.floor(math.log10(a))
    mantissa = a / 10.0**exponent
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    m = f"{mantissa:.{digits - 1}f}"
    return f"{sign}{_power(exponent)}" if m in {"1", "1.0"} else f"{sign}{m} × {_power(exponent)}"


def fmt_tol(tol: float) -> str:
    """A tolerance: ``10⁻¹²`` for powers of ten, else :func:`fmt`."""
    if tol > 0:
        exponent = math.log10(tol)
        if abs(exponent - round(exponent)) < 1e-9:
            return _power(round(exponent)) if round(exponent) != 0 else "1"
    return fmt(tol)
