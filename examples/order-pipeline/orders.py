"""The order model shared by the web server and the workers: validation of a
POST /orders body, the order.created event published to the topic, the W3C
traceparent it carries, and the confirmation email's text."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Any, Optional

TOPIC = "orders"                  # order.created is published here, once per order
EMAIL_GROUP = "email"             # the topic's consumer groups (shmqd.toml): each gets
INVENTORY_GROUP = "inventory"     # every order, and its workers share that group's work
ANALYTICS_GROUP = "analytics"     # not configured: added live (README, walkthrough step 7)
GROUPS = (EMAIL_GROUP, INVENTORY_GROUP)
EMAIL_STORE = f"{TOPIC}.{EMAIL_GROUP}"  # the email group's dead-letter store (shmqd names it so)
REMOTE_QUEUE = "orders.inventory"  # over RabbitMQ: the broker's queue and the warehouse's

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


_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def traceparent(incoming: Optional[str]) -> str:
    """The traceparent of the server's span for a request (W3C Trace Context):
    the caller's trace id and flags with a new span id, or a new trace when the
    request has no valid header (absent, another version, all-zero ids)."""
    m = _TRACEPARENT.fullmatch((incoming or "").strip())
    if m and m[1] != "0" * 32 and m[2] != "0" * 16:
        return f"00-{m[1]}-{secrets.token_hex(8)}-{m[3]}"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def event(oid: str, order: dict, emailed: bool = False) -> bytes:
    """The order.created message: everything a worker needs, nothing it must look up.
    `emailed`: the confirmation went out inside the request (the server's sync mode)."""
    extra = {"email_sent_inline": True} if emailed else {}
    return json.dumps({"event": "order.created", "order_id": oid, **order, **extra,
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
