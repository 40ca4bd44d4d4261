"""How values are written in reports, narration and state tables.

>>> show(None), show("X"), show([1, "a"])
('-', 'X', '[1, "a"]')
>>> per_node({"S1": "X", "S2": None})
'S1=X  S2=-'
>>> ms(4.11034), ms(3.0), ms(0.5)
('4.11', '3', '0.5')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def show(v: Any) -> str:
    """A value as the reports write it (``-`` for nothing)."""
    return "-" if v is None else v if isinstance(v, str) else json.dumps(v)


def per_node(mapping: Mapping[str, Any]) -> str:
    """``node=value`` pairs, two spaces apart."""
    return "  ".join(f"{node}={show(v)}" for node, v in mapping.items())


def ms(time: float) -> str:
    """A simulated time as the reports write it: milliseconds to two decimals, no trailing zeros."""
    return f"{round(time, 2):g}"
