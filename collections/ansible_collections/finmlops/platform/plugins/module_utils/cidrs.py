"""Checks of inventory address ranges before they reach a Service or a NetworkPolicy.

loadBalancerSourceRanges and NetworkPolicy ipBlocks take CIDRs; a typo there
either locks every client out or, read loosely, opens a door wider than meant,
so lists of ranges are checked on the controller before anything is applied.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# Dotted quad and prefix, nothing else: ipaddress alone would take "10/8" or a bare address.
_SHAPE = re.compile(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}")


def ipv4_cidr_problems(values: Any, name: str) -> list[str]:
    """One message per entry of ``values`` that is not an IPv4 CIDR ``a.b.c.d/n``; [] when usable.

    Host bits may be set (Kubernetes accepts 192.168.1.7/24 in both places). An
    empty list is a problem: it would leave the ranges to Kubernetes' defaults.
    """
    if not isinstance(values, list):
        return [f"{name} must be a list of IPv4 CIDRs, got {type(values).__name__} {values!r}"]
    if not values:
        return [f"{name} is empty: give at least one IPv4 CIDR (a.b.c.d/n)"]
    problems = []
    for index, value in enumerate(values):
        text = value if isinstance(value, str) else None
        try:
            if text is None or not _SHAPE.fullmatch(text):
                raise ValueError
            ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            problems.append(f"{name}[{index}]: {value!r} is not an IPv4 CIDR (a.b.c.d/n, n from 0 to 32)")
    return problems
