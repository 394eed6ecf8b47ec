#!/usr/bin/env python3
"""Send N orders to the web server from C concurrent clients and report the
request latency: the number a shop's user feels.

  load.py --url http://127.0.0.1:8080 --orders 300 [--concurrency 8] [--poison 1]

Each order carries an Idempotency-Key, and a 503 (a queue full) is retried
with the same key after Retry-After, so a retry never places a second order.
--poison adds orders whose locale has no email template (the email worker's
"bug"). Prints a JSON report: accepted, failed (by status), latency p50/p99/max
in ms, and with --ids each accepted order's id and item count.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse


def make_orders(n: int, poison: int, seed: int, tag: str) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    out = []
    for i in range(n + poison):
        order = {"user_id": f"u-{rng.randrange(1000)}", "email": f"user{i}@example.com",
                 "locale": "xx" if i >= n else rng.choice(("en", "de")),
                 "items": [{"sku": f"SKU-{rng.randrange(100)}", "qty": rng.randint(1, 3)}
                           for _ in range(rng.randint(1, 3))]}
        out.append((f"{tag}-{i}", order))
    rng.shuffle(out)  # the poison somewhere in the middle
    return out


class Client:
    """One keep-alive connection; post() returns (status, body, seconds)."""

    def __init__(self, url: str) -> None:
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(self, key: str, order: dict) -> tuple[int, dict, float]:
        body = json.dumps(order)
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        for _ in range(10):
            start = time.perf_counter()
            try:
                self.conn.request("POST", "/orders", body, headers)
                resp = self.conn.getresponse()
                data = json.loads(resp.read() or b"{}")
            except (OSError, http.client.HTTPException, ValueError):
                self.conn.close()  # reconnect and retry with the same key
                continue
            took = time.perf_counter() - start
            if resp.status != 503:
                return resp.status, data, took
            time.sleep(float(resp.getheader("Retry-After") or 1))  # as the server asked
        return 0, {"error": "gave up after 10 tries"}, 0.0


def run(url: str, work: list[tuple[str, dict]], concurrency: int) -> dict:
    results: list[tuple[int, dict, float, dict]] = []
    lock = threading.Lock()
    it = iter(work)

    def client() -> None:
        c = Client(url)
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                return
            status, data, took = c.post(*job)
            with lock:
                results.append((status, data, took, job[1]))

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return report(results, time.perf_counter() - start)


def report(results: list, seconds: float) -> dict:
    ok = [r for r in results if r[0] == 202]
    lat = sorted(r[2] * 1000 for r in results if r[0])
    failed: dict[str, int] = {}
    for r in results:
        if r[0] != 202:
            failed[str(r[0])] = failed.get(str(r[0]), 0) + 1

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else 0.0

    return {"sent": len(results), "accepted": len(ok), "failed": failed,
            "seconds": round(seconds, 3), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": round(lat[-1], 2) if lat else 0.0,
            "orders": {r[1]["order_id"]: len(r[3]["items"]) for r in ok},
            "poison_ids": sorted(r[1]["order_id"] for r in ok if r[3]["locale"] == "xx"),
            "items": sum(len(r[3]["items"]) for r in ok)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--poison", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default=f"load-{int(time.time())}", help="idempotency key prefix")
    ap.add_argument("--ids", action="store_true", help="include the order ids in the report")
    args = ap.parse_args()
    if args.orders < 0 or args.poison < 0 or args.concurrency < 1:
        ap.error("--orders and --poison must be >= 0, --concurrency >= 1")
    out = run(args.url, make_orders(args.orders, args.poison, args.seed, args.tag), args.concurrency)
    if not args.ids:
        del out["orders"], out["poison_ids"]
    print(json.dumps(out, indent=2))
    return 0 if out["accepted"] == out["sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
