"""The Northwind Mobile back office that the demo agent's tools call: a few accounts, invoices,
plans, devices and a coverage service for Oregon that times out. Fixed data, no network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ToolFailure(Exception):
    """A tool call that failed; `error_type` is the low-cardinality `error.type` for its span and
    `elapsed_ms` how long the caller waited before giving up."""

    error_type = "tool_error"
    elapsed_ms = 0.0


class CoverageServiceTimeout(ToolFailure, TimeoutError):
    error_type = "timeout"
    elapsed_ms = 5000.0


ACCOUNTS: dict[str, dict[str, Any]] = {
    "NW-20417": {
        "name": "Dana Whitfield",
        "plan": "ESS-15",
        "state": "OR",
        "phone": "+1 503 555 0142",
    },
    "NW-31802": {"name": "Marco Ruiz", "plan": "ESS-15", "state": "CA", "phone": "+1 415 555 0107"},
    "NW-27730": {
        "name": "Priya Natarajan",
        "plan": "ESS-15",
        "state": "WA",
        "phone": "+1 206 555 0175",
    },
    "NW-15566": {
        "name": "Tom Becker",
        "plan": "BASIC-5",
        "state": "ID",
        "phone": "+1 208 555 0119",
    },
    "NW-40921": {"name": "Alex Kim", "plan": "UNL-PLUS", "state": "OR", "phone": "+1 971 555 0133"},
    "NW-52208": {
        "name": "Jordan Lee",
        "plan": "UNL-PLUS",
        "state": "WA",
        "phone": "+1 206 555 0161",
    },
    "NW-61190": {"name": "Sam Okafor", "plan": "ESS-15", "state": "NV", "phone": "+1 702 555 0126"},
    "NW-73304": {
        "name": "Lena Fischer",
        "plan": "ESS-15",
        "state": "OR",
        "phone": "+1 503 555 0188",
    },
    "NW-80012": {
        "name": "Chris Dalton",
        "plan": "ESS-15",
        "state": "WA",
        "phone": "+1 360 555 0150",
    },
}

PLANS: dict[str, dict[str, Any]] = {
    "BASIC-5": {
        "name": "Basic 5GB",
        "monthly_usd": 30.0,
        "data": "5 GB",
        "network": "4G LTE",
        "roaming": "none",
    },
    "ESS-15": {
        "name": "Essentials 15GB",
        "monthly_usd": 45.0,
        "data": "15 GB",
        "network": "5G",
        "roaming": "US, Canada, Mexico",
    },
    "UNL-PLUS": {
        "name": "Unlimited Plus",
        "monthly_usd": 70.0,
        "data": "unlimited",
        "network": "5G",
        "roaming": "US, Canada, Mexico",
    },
    "GLOBAL-PLUS": {
        "name": "Global Plus",
        "monthly_usd": 85.0,
        "data": "unlimited",
        "network": "5G",
        "roaming": "40 countries incl. EU",
    },
    "TRAVEL-EU": {
        "name": "Travel Pass EU",
        "daily_usd": 10.0,
        "data": "uses your plan's allowance",
        "roaming": "EU, UK, Switzerland",
    },
}

INVOICES: dict[tuple[str, str], dict[str, Any]] = {
    ("NW-20417", "2025-05"): {
        "invoice_id": "INV-2505-20417",
        "period": "2025-05",
        "total_usd": 78.0,
        "previous_total_usd": 55.0,
        "lines": [
            {"line_id": "L1", "description": "Essentials 15GB plan", "amount_usd": 45.0},
            {"line_id": "L2", "description": "Pixel 8a installment 7 of 24", "amount_usd": 10.0},
            {
                "line_id": "L3",
                "description": "Device Protection Plus activation",
                "amount_usd": 15.0,
            },
            {
                "line_id": "L4",
                "description": "International call to Mexico, May 14",
                "amount_usd": 8.0,
            },
        ],
    },
    ("NW-31802", "2025-04"): {
        "invoice_id": "INV-2504-31802",
        "period": "2025-04",
        "total_usd": 62.5,
        "lines": [
            {"line_id": "L1", "description": "Essentials 15GB plan", "amount_usd": 45.0},
            {"line_id": "L2", "description": "Taxes and fees", "amount_usd": 17.5},
        ],
        "payments": [
            {"date": "2025-04-28", "amount_usd": 62.5, "method": "card ending 4471"},
            {"date": "2025-04-28", "amount_usd": 62.5, "method": "card ending 4471"},
        ],
    },
    ("NW-27730", "2025-05"): {
        "invoice_id": "INV-2505-27730",
        "period": "2025-05",
        "total_usd": 75.0,
        "previous_total_usd": 45.0,
        "lines": [
            {"line_id": "L1", "description": "Essentials 15GB plan", "amount_usd": 45.0},
            {"line_id": "L2", "description": "Travel Pass EU, 3 days (Spain)", "amount_usd": 30.0},
        ],
    },
    ("NW-73304", "2025-05"): {
        "invoice_id": "INV-2505-73304",
        "period": "2025-05",
        "total_usd": 49.99,
        "previous_total_usd": 49.99,
        "lines": [
            {"line_id": "L1", "description": "Essentials 15GB plan", "amount_usd": 45.0},
            {
                "line_id": "L2",
                "description": "Premium SMS: TriviaBlast (44221)",
                "amount_usd": 4.99,
            },
        ],
    },
}

CHARGE_EXPLANATIONS: dict[tuple[str, str], str] = {
    ("INV-2505-20417", "L3"): (
        "One-time activation fee for Device Protection Plus, turned on in the app on May 3. "
        "Monthly protection is included in the device installment from June."
    ),
    ("INV-2505-27730", "L2"): (
        "Travel Pass EU at $10 a day for May 9, 10 and 11. Essentials 15GB does not include EU "
        "roaming; the pass started automatically when the phone first connected to a network "
        "in Spain, and a welcome text was sent."
    ),
    ("INV-2505-73304", "L2"): (
        "Third-party Premium SMS subscription to TriviaBlast (short code 44221), active since "
        "April 12 and billed through the account at $4.99 a month. Text STOP to 44221 to end it."
    ),
}

DEVICES: dict[str, dict[str, Any]] = {
    "Pixel 9": {
        "battery_mah": 4700,
        "video_playback_hours": 27,
        "fast_charge_w": 27,
        "price_usd": 799,
    },
    "iPhone 16": {
        "battery_mah": 3561,
        "video_playback_hours": 22,
        "fast_charge_w": 25,
        "magsafe_w": 25,
        "price_usd": 829,
    },
    "Galaxy S25": {
        "battery_mah": 4000,
        "video_playback_hours": 29,
        "fast_charge_w": 25,
        "price_usd": 799,
    },
}

COVERAGE_SERVICE_DOWN_IN = frozenset({"OR"})
"""The coverage service's Oregon region is down: every lookup there times out."""

OUTAGES: dict[str, list[dict[str, str]]] = {
    "WA": [
        {
            "id": "OUT-7731",
            "area": "Fremont, Seattle",
            "started": "2025-06-02T07:40:00-07:00",
            "expected_fix": "2025-06-02T14:00:00-07:00",
            "cause": "fiber cut at a cell site",
        }
    ],
}


def lookup_invoice(account_id: str, period: str) -> dict[str, Any]:
    invoice = INVOICES.get((account_id, period))
    if invoice is None:
        return {"account_id": account_id, "period": period, "found": False}
    return {"account_id": account_id, **invoice}


def explain_charge(invoice_id: str, line_id: str) -> dict[str, Any]:
    text = CHARGE_EXPLANATIONS.get((invoice_id, line_id), "A standard charge; see the plan terms.")
    return {"invoice_id": invoice_id, "line_id": line_id, "explanation": text}


def issue_refund(invoice_id: str, amount: float, reason: str) -> dict[str, Any]:
    return {
        "refund_id": "RF-88213",
        "invoice_id": invoice_id,
        "amount_usd": amount,
        "reason": reason,
        "status": "approved",
        "arrives_within_business_days": 5,
    }


def search_plans(query: str) -> dict[str, Any]:
    words = query.lower().split()
    matches = [
        {"plan_id": plan_id, **plan}
        for plan_id, plan in PLANS.items()
        if all(word in " ".join(map(str, plan.values())).lower() for word in words)
        or ("roaming" in words and plan["roaming"] not in ("none", "US, Canada, Mexico"))
    ]
    return {"query": query, "plans": matches}


def check_coverage(address: str, technology: str) -> dict[str, Any]:
    state = address.replace(",", " ").split()[-2]
    if state in COVERAGE_SERVICE_DOWN_IN:
        raise CoverageServiceTimeout(
            f"coverage-api.northwind.internal ({state} region) did not answer within 5.0 s"
        )
    return {
        "address": address,
        "technology": technology,
        "signal": "good outdoors, fair indoors",
        "outages": OUTAGES.get(state, []),
    }


def compare_devices(models: list[str]) -> dict[str, Any]:
    return {
        "devices": [{"model": model, **DEVICES.get(model, {"known": False})} for model in models]
    }


def get_account(account_id: str) -> dict[str, Any]:
    account = ACCOUNTS[account_id]
    return {
        "account_id": account_id,
        "name": account["name"],
        "plan": PLANS[account["plan"]]["name"],
        "phone": "***-***-" + account["phone"][-4:],
        "status": "active",
        "next_cycle_starts": "2025-06-18",
    }


def change_plan(account_id: str, plan_id: str, effective: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "from": PLANS[ACCOUNTS[account_id]["plan"]]["name"],
        "to": PLANS[plan_id]["name"],
        "effective": "2025-06-18" if effective == "next_cycle" else "now",
        "confirmation": "CHG-55102",
    }


def reset_password(account_id: str, channel: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "channel": channel,
        "sent_to": "***-***-" + ACCOUNTS[account_id]["phone"][-4:],
        "expires_in_minutes": 15,
    }


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Any]
    latency_ms: float

    def definition(self) -> dict[str, Any]:
        """The tool as the model sees it (`gen_ai.tool.definitions`)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


def _params(**properties: str) -> dict[str, Any]:
    types = {"amount": "number", "models": "array"}
    return {
        "type": "object",
        "properties": {
            name: {"type": types.get(name, "string"), "description": text}
            | ({"items": {"type": "string"}} if name == "models" else {})
            for name, text in properties.items()
        },
        "required": list(properties),
    }


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            "lookup_invoice",
            "Fetch the customer's invoice for a billing period, with every line and payment.",
            _params(account_id="Account id, e.g. NW-20417.", period="Billing period as YYYY-MM."),
            lookup_invoice,
            140,
        ),
        Tool(
            "explain_charge",
            "Explain one line of an invoice: what it is and why it was billed.",
            _params(invoice_id="Invoice id.", line_id="Line id from lookup_invoice."),
            explain_charge,
            90,
        ),
        Tool(
            "issue_refund",
            "Refund an amount on an invoice; use only for billing mistakes.",
            _params(
                invoice_id="Invoice id.", amount="Amount in USD.", reason="Why the refund is due."
            ),
            issue_refund,
            320,
        ),
        Tool(
            "search_plans",
            "Search the current plans and add-ons.",
            _params(query="What the customer is looking for."),
            search_plans,
            110,
        ),
        Tool(
            "check_coverage",
            "Check network coverage and current outages at an address.",
            _params(address="Street address or ZIP code, with state.", technology="5G or 4G LTE."),
            check_coverage,
            180,
        ),
        Tool(
            "compare_devices",
            "Compare phones side by side: battery, charging, price.",
            _params(models="Device model names."),
            compare_devices,
            80,
        ),
        Tool(
            "get_account",
            "Fetch the customer's account: name, plan, masked phone, status.",
            _params(account_id="Account id."),
            get_account,
            60,
        ),
        Tool(
            "change_plan",
            "Move the account to another plan, now or at the next billing cycle.",
            _params(
                account_id="Account id.",
                plan_id="Plan id, e.g. UNL-PLUS.",
                effective="now or next_cycle.",
            ),
            change_plan,
            250,
        ),
        Tool(
            "reset_password",
            "Send a password reset link to the customer's phone or email.",
            _params(account_id="Account id.", channel="sms or email."),
            reset_password,
            200,
        ),
    )
}

TOOLS_BY_AGENT: dict[str, tuple[str, ...]] = {
    "billing_specialist": ("lookup_invoice", "explain_charge", "issue_refund"),
    "product_specialist": ("search_plans", "check_coverage", "compare_devices"),
    "account_specialist": ("get_account", "change_plan", "reset_password"),
}
