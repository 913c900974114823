"""Facts about the Northwind demo agent that tests check against: the question its shipped router
prompt misroutes, and the router prompt that fixes it (billing keywords checked before product
ones, the fix an optimizer is expected to find)."""

from __future__ import annotations

from mcp_server.demo_agent import ROUTER_SYSTEM_PROMPT

MISROUTED = "Why was I charged for roaming in Spain?"
"""The demo question the router sends to the wrong specialist."""

BILLING_FIRST = ROUTER_SYSTEM_PROMPT.replace(
    "1. roaming, coverage, signal, 5G, plans, compare, phone, device -> product_specialist\n"
    "2. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist",
    "1. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist\n"
    "2. roaming, coverage, signal, 5G, plans, compare, phone, device -> product_specialist",
)
assert BILLING_FIRST != ROUTER_SYSTEM_PROMPT, "the demo's router rules changed: update BILLING_FIRST"
