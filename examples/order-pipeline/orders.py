"""The order model shared by the web server and the email worker: validation
of a POST /orders body, the order.created event put on the queues, and the
confirmation email's text."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any, Optional

EMAIL_QUEUE = "orders.email"
INVENTORY_QUEUE = "orders.inventory"
QUEUES = (EMAIL_QUEUE, INVENTORY_QUEUE)

_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_LOCALE = re.compile(r"[a-z]{2}")
MAX_ITEMS = 20
MAX_QTY = 100


class InvalidOrder(ValueError):
    """The request body is not an order; the message says which field."""


def validate(body: Any) -> dict:
    """The order in ``body`` (parsed JSON), normalised, or InvalidOrder."""
    if not isinstance(body, dict):
        raise InvalidOrder("the body must be a JSON object")
    unknown = set(body) - {"user_id", "email", "items", "locale"}
    if unknown:
        raise InvalidOrder(f"unknown field {sorted(unknown)[0]!r}")
    user_id = _field(body, "user_id", _TOKEN, "1-64 of [A-Za-z0-9._-]")
    email = _field(body, "email", _EMAIL, "an email address")
    locale = body.get("locale", "en")
    if not isinstance(locale, str) or not _LOCALE.fullmatch(locale):
        raise InvalidOrder("locale: expected two lowercase letters, like \"en\"")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidOrder(f"items: expected a list of 1..{MAX_ITEMS} items")
    return {"user_id": user_id, "email": email, "locale": locale,
            "items": [_item(i, n) for n, i in enumerate(items)]}


def _field(body: dict, name: str, pattern: re.Pattern, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidOrder(f"{name}: expected {what}")
    return value


def _item(item: Any, n: int) -> dict:
    if not isinstance(item, dict) or set(item) != {"sku", "qty"}:
        raise InvalidOrder(f"items[{n}]: expected {{\"sku\": ..., \"qty\": ...}}")
    sku, qty = item["sku"], item["qty"]
    if not isinstance(sku, str) or not _TOKEN.fullmatch(sku):
        raise InvalidOrder(f"items[{n}].sku: expected 1-64 of [A-Za-z0-9._-]")
    if type(qty) is not int or not 1 <= qty <= MAX_QTY:
        raise InvalidOrder(f"items[{n}].qty: expected an integer in 1..{MAX_QTY}")
    return {"sku": sku, "qty": qty}


def order_id(idempotency_key: Optional[str]) -> str:
    """A new order id, or the same one for every retry with the same key, so
    that a client retrying after a timeout does not place a second order."""
    if idempotency_key:
        return "ord-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return "ord-" + secrets.token_hex(8)


def event(oid: str, order: dict) -> bytes:
    """The order.created message: everything a worker needs, nothing it must look up."""
    return json.dumps({"event": "order.created", "order_id": oid, **order,
                       "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                      separators=(",", ":")).encode()


TEMPLATES = {
    "en": ("Your order {order_id}", "Hello {user_id},\n\nthank you for order {order_id}: {items}."),
    "de": ("Ihre Bestellung {order_id}", "Hallo {user_id},\n\ndanke fuer Bestellung {order_id}: {items}."),
}


def confirmation(order: dict, fallback_locale: Optional[str] = None) -> tuple[str, str]:
    """The confirmation email's subject and body. KeyError for a locale without
    a template (and no fallback): the bug the example's poison order hits."""
    locale = order.get("locale", "en")
    if locale not in TEMPLATES and fallback_locale:
        locale = fallback_locale
    subject, body = TEMPLATES[locale]
    items = ", ".join(f"{i['qty']} x {i['sku']}" for i in order["items"])
    return (subject.format(order_id=order["order_id"]),
            body.format(user_id=order["user_id"], order_id=order["order_id"], items=items))
