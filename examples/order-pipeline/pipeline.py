#!/usr/bin/env python3
"""Run the order pipeline: shmqd as a sidecar, the web server publishing to
the topic `orders`, two email workers (Python, group `email`) and an
inventory worker (Go, group `inventory`).

  pipeline.py run [--orders 300] [--check]   the whole story in one go, then a summary
  pipeline.py up                             start everything and leave it running
  pipeline.py down                           stop what `up` started
  pipeline.py run|up --rabbitmq HOST:PORT    the inventory work goes over RabbitMQ to a
                                             "warehouse" with its own shmqd (README.md)

`run` sends orders (and one poison order) through the topic, kills an email
worker with SIGKILL while it works, waits until every order is emailed once
and applied to the inventory once and the poison order is dead-lettered; then
binds a third group, `analytics`, live, with its worker, and sends the same
orders to a server in synchronous mode (email inside the request), which the
analytics group gets and nothing before them; and prints both runs' request
latency. --check exits 1 unless the counts add up. `up` is for the
walkthrough in README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import load  # noqa: E402
from orders import (ANALYTICS_GROUP, EMAIL_GROUP, EMAIL_STORE, GROUPS,  # noqa: E402
                    INVENTORY_GROUP, REMOTE_QUEUE, TOPIC)


class Failed(Exception):
    """Something did not start or did not finish in time; the message says what."""


def wait_for(what: str, cond: Callable[[], object], timeout: float) -> object:
    """Poll cond until it returns something true, or raise Failed after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


class Pipeline:
    """The processes of one pipeline and the state directory they share."""

    def __init__(self, build: str, state: str, shmq_dir: str) -> None:
        self.build, self.state = os.path.abspath(build), os.path.abspath(state)
        self.shmq_dir = shmq_dir
        self.lib = os.path.join(self.build, "lib")
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ, SHMQ_DIR=shmq_dir, PYTHONDONTWRITEBYTECODE="1",
                        SHMQ_PYTHON_CORE=os.path.join(self.build, "bindings", "python"),
                        PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "bindings", "python"), HERE]))
        for d in ("logs", "bin", "outbox"):
            os.makedirs(os.path.join(self.state, d), exist_ok=True)
        self.config = os.path.join(self.state, "shmqd.toml")
        shutil.copy(os.path.join(HERE, "shmqd.toml"), self.config)

    def path(self, *parts: str) -> str:
        return os.path.join(self.state, *parts)

    def tool(self, name: str) -> str:
        return os.path.join(self.build, "daemon", name, name)

    # ---- processes --------------------------------------------------------
    def spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        with open(self.path("logs", name + ".out"), "wb") as out, \
             open(self.path("logs", name + ".log"), "wb") as err:
            p = subprocess.Popen(argv, stdout=out, stderr=err, env=env or self.env, cwd=self.state,
                                 start_new_session=True)  # outlives `up`; ^C does not reach it
        self.procs[name] = p
        return p

    def output(self, name: str, log: str = "out") -> str:
        with open(self.path("logs", f"{name}.{log}"), errors="replace") as f:
            return f.read()

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def expect_alive(self, name: str) -> None:
        if not self.alive(name):
            raise Failed(f"{name} exited with {self.procs[name].returncode}:\n"
                         + self.output(name, "log")[-2000:])

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(sig)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failed(f"{name} did not stop within {timeout:.0f} s of signal {sig}")

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):  # shmqd, started first, stops last
            if self.alive(name):
                self.stop(name)

    # ---- the parts --------------------------------------------------------
    def start_shmqd(self, name: str = "shmqd", config: str = "", env: dict | None = None,
                    sources: tuple = tuple((TOPIC, g) for g in GROUPS)) -> str:
        """shmqd, once its metrics are up and each (queue or topic, group or "") exists."""
        config = config or self.config
        self.spawn(name, [self.tool("shmqd"), "--config", config, "--foreground"], env)
        url = wait_for(f"{name}'s metrics address", lambda: self.metrics_url(name), 20)
        for q, g in sources:
            argv = ("stat", q) + (("--group", g) if g else ())
            wait_for(f"{q}{'/' + g if g else ''}", lambda: self.ctl(
                *argv, check=False, config=config, env=env).returncode == 0, 20)
        return url

    def metrics_url(self, name: str) -> str:
        self.expect_alive(name)
        for word in self.output(name, "log").split():
            if word.startswith("http://") and word.endswith("/metrics"):
                return word
        return ""

    def build_inventory(self) -> str:
        exe = self.path("bin", "inventory-worker")
        env = dict(self.env, CGO_ENABLED="1", CGO_LDFLAGS=f"-L{self.lib} -Wl,-rpath,{self.lib}",
                   GOPROXY="off", GOFLAGS="-mod=mod -buildvcs=false", GOTOOLCHAIN="local")
        if shutil.which("go") is None:
            raise Failed("go is not installed (scripts/deps.sh installs golang-go)")
        r = subprocess.run(["go", "build", "-o", exe, "."], cwd=os.path.join(HERE, "inventory"),
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise Failed("building the Go inventory worker failed:\n" + r.stderr)
        return exe

    def start_server(self, name: str, mode: str, args: argparse.Namespace, port: int = 0) -> str:
        argv = [sys.executable, os.path.join(HERE, "server.py"), "--data", self.path("data"),
                "--port", str(port), "--mode", mode,
                "--mail-latency-ms", str(args.mail_latency_ms), "--fail-rate", str(args.fail_rate)]
        if mode == "sync":
            argv += ["--outbox", self.path("outbox", "sync")]
        self.spawn(name, argv)

        def url() -> str:
            self.expect_alive(name)
            words = self.output(name).split()
            return words[words.index("on") + 1] if "listening" in words else ""
        return wait_for(f"{name} to listen", url, 20)

    def start_email(self, name: str, args: argparse.Namespace, seed: int) -> None:
        self.spawn(name, [sys.executable, os.path.join(HERE, "email_worker.py"),
                          "--outbox", self.path("outbox", "email"), "--state", self.path("data"),
                          "--mail-latency-ms", str(args.mail_latency_ms),
                          "--fail-rate", str(args.fail_rate), "--seed", str(seed)])

    def start_inventory(self, exe: str, env: dict | None = None, queue: str = "") -> None:
        source = ["-queue", queue] if queue else ["-topic", TOPIC, "-group", INVENTORY_GROUP]
        self.spawn("inventory", [exe, "-outbox", self.path("outbox"), *source], env)

    def start_analytics(self) -> None:
        """Bind the group `analytics` live, then start its worker."""
        self.ctl("group", "add", TOPIC, ANALYTICS_GROUP)
        self.spawn("analytics", [sys.executable, os.path.join(HERE, "analytics_worker.py"),
                                 "--outbox", self.path("outbox")])

    def warehouse_env(self) -> dict:
        """The warehouse's environment: its own SHMQ_DIR, as if on another host."""
        return dict(self.env, SHMQ_DIR=self.shmq_dir + "-warehouse")

    def start_bridge(self, name: str, amqp: str, env: dict | None = None) -> None:
        """shmq-bridge with bridge/<name>.toml, pointed at amqp (HOST:PORT)."""
        host, port = amqp.rsplit(":", 1)
        with open(os.path.join(HERE, "bridge", name + ".toml")) as f:
            text = re.sub(r"(?m)^port = \d+", f"port = {int(port)}",
                          re.sub(r'(?m)^host = ".*"', f'host = "{host}"', f.read()))
        config = self.path(f"bridge-{name}.toml")
        with open(config, "w") as f:
            f.write(text)
        exe = os.path.join(self.build, "daemon", "bridge", "shmq-bridge")
        self.spawn(f"bridge-{name}", [exe, "--config", config], env)

    def start_remote_inventory(self, exe: str, amqp: str) -> None:
        """The inventory work over RabbitMQ: the shop's bridge leases the group
        orders/inventory and publishes to the broker's queue orders.inventory; the
        warehouse (its own SHMQ_DIR and shmqd, reached only through the broker) feeds
        it to its own queue orders.inventory, where the inventory worker leases it.
        The worker writes to the shop's outbox, so that the summary can count."""
        env = self.warehouse_env()
        os.makedirs(env["SHMQ_DIR"], mode=0o700, exist_ok=True)
        os.makedirs(self.path("warehouse"), exist_ok=True)
        config = self.path("warehouse", "shmqd.toml")
        shutil.copy(os.path.join(HERE, "bridge", "warehouse-shmqd.toml"), config)
        self.start_bridge("shop", amqp)
        self.start_shmqd("warehouse-shmqd", config, env, ((REMOTE_QUEUE, ""),))
        self.start_bridge("warehouse", amqp, env)
        self.start_inventory(exe, env, REMOTE_QUEUE)

    # ---- looking ----------------------------------------------------------
    def ctl(self, *argv: str, check: bool = True, config: str = "",
            env: dict | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([self.tool("shmqctl"), "--config", config or self.config, *argv],
                           env=env or self.env, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise Failed(f"shmqctl {' '.join(argv)}: {r.stderr.strip()}")
        return r

    def stat(self, group: str = "") -> dict:
        """shmqctl stat of the topic (its payload slots) or of one of its groups:
        {"stats": counts and totals, "params": ..., "clients": [...]}"""
        return json.loads(self.ctl("--json", "stat", TOPIC, *group_arg(group)).stdout)

    def dead_letters(self, group: str) -> list[dict]:
        r = self.ctl("--json", "dlq", "list", TOPIC, *group_arg(group), check=False)
        if r.returncode == 2:  # no dead-letter file yet
            return []
        if r.returncode != 0:
            raise Failed(f"shmqctl dlq list {TOPIC} --group {group}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def dead_letter_payload(self, group: str, dead_id: int) -> dict:
        return json.loads(self.ctl("--raw", "dlq", "show", TOPIC, str(dead_id),
                                   *group_arg(group)).stdout)

    def emails(self, run: str) -> list[str]:
        d = self.path("outbox", run)
        names = os.listdir(d) if os.path.isdir(d) else []
        return sorted(n[:-4] for n in names if n.endswith(".eml") and not n.startswith("."))

    def inventory_lines(self, log: str = "inventory.log") -> dict[str, int]:
        """Lines per order id in the inventory (or analytics) worker's log."""
        per: dict[str, int] = {}
        try:
            with open(self.path("outbox", log)) as f:
                for line in f:
                    if line.endswith("\n"):
                        oid = line.split(" ", 1)[0]
                        per[oid] = per.get(oid, 0) + 1
        except FileNotFoundError:
            pass
        return per

    def leaseholder(self, name: str) -> bool:
        """True when process `name` holds a lease in the email group right now."""
        clients = self.stat(EMAIL_GROUP)["clients"]
        pid = self.procs[name].pid
        return any(c["pid"] == pid and c["leased"] > 0 for c in clients)

    def metrics(self, url: str) -> list[str]:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        keep = ("shmq_queue_messages_ready", "shmq_messages_enqueued_total",
                "shmq_messages_acked_total", "shmq_messages_nacked_total",
                "shmq_leases_reclaimed_total", "shmq_messages_dead_lettered_total")
        return [line for line in text.splitlines() if line.startswith(keep)]


def group_arg(group: str) -> tuple:
    return ("--group", group) if group else ()


# ---- `run`: the bounded demo ------------------------------------------------
def run(args: argparse.Namespace) -> int:
    state = args.state or tempfile.mkdtemp(prefix="shmq-orders-")
    shmq_dir = tempfile.mkdtemp(prefix="shmq-orders-", dir="/dev/shm")
    p = Pipeline(args.build, state, shmq_dir)
    try:
        summary = story(p, args)
    except Failed as e:
        print(f"pipeline: {e}\n(state and logs kept in {state})", file=sys.stderr)
        p.stop_all()
        return 1
    finally:
        for name in p.procs:
            if p.alive(name):
                p.procs[name].kill()
        shutil.rmtree(shmq_dir, ignore_errors=True)
        shutil.rmtree(p.warehouse_env()["SHMQ_DIR"], ignore_errors=True)
    print_summary(summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    problems = check(summary, args) if args.check else []
    for problem in problems:
        print(f"CHECK FAILED: {problem}", file=sys.stderr)
    if args.check and not problems:
        print("\nchecks passed: every order accepted, emailed once and applied once; "
              "the poison order, and only it, dead-lettered; analytics got exactly the "
              "orders after its add; traceparents logged; the topic and its groups drained")
    if args.state is None and not args.keep and not problems:
        shutil.rmtree(state, ignore_errors=True)
    else:
        print(f"\nstate and logs: {state}")
    return 1 if problems else 0


def start_inventory(p: Pipeline, exe: str, args: argparse.Namespace) -> None:
    if args.rabbitmq:
        p.start_remote_inventory(exe, args.rabbitmq)
    else:
        p.start_inventory(exe)


def story(p: Pipeline, args: argparse.Namespace) -> dict:
    say = (lambda *a: None) if args.quiet else (lambda *a: print("==", *a, flush=True))
    exe = p.build_inventory()
    metrics_url = p.start_shmqd()
    say(f"shmqd is up, supervising topic {TOPIC} with groups {', '.join(GROUPS)}; "
        f"metrics on {metrics_url}")
    url = p.start_server("server-queue", "queue", args)
    for i in (1, 2):
        p.start_email(f"email-{i}", args, seed=i)
    start_inventory(p, exe, args)
    say(f"web server (queue mode) on {url}; email workers x2 (provider fails "
        f"{args.fail_rate:.0%} of calls), inventory worker x1"
        + (f", over RabbitMQ at {args.rabbitmq}" if args.rabbitmq else ""))

    work = load.make_orders(args.orders, 1, seed=1, tag="queue")
    queued = load.run(url, work, args.concurrency)
    say(f"sent {queued['sent']} orders ({queued['accepted']} accepted), one of them poison")
    killed = kill_a_worker(p, args, say)
    expect_drained(p, queued, say)
    p.stop("server-queue")

    p.start_analytics()
    say(f"bound the group {ANALYTICS_GROUP} live (shmqctl group add) and started its worker")
    url = p.start_server("server-sync", "sync", args)
    synced = load.run(url, load.make_orders(args.orders, 1, seed=1, tag="sync"), args.concurrency)
    say(f"sync mode: sent {synced['sent']} orders, {synced['accepted']} accepted")
    p.stop("server-sync")
    wait_for("the inventory worker to apply the sync run's orders",
             lambda: set(synced["orders"]) <= set(p.inventory_lines()), 60)
    wait_for("the analytics worker to record the sync run's orders",
             lambda: set(synced["orders"]) <= set(p.inventory_lines("analytics.log")), 60)
    wait_for("the email group to take the sync run's orders (sent inline: acked only)",
             lambda: p.stat(EMAIL_GROUP)["stats"]["ready"] == 0, 60)
    return collect(p, args, queued, synced, killed, metrics_url)


def kill_a_worker(p: Pipeline, args: argparse.Namespace, say: Callable) -> bool:
    """SIGKILL email-1 while it holds a lease (if it gets one within 10 s), start email-3."""
    try:
        wait_for("email-1 to hold a lease", lambda: p.leaseholder("email-1"), 10)
        holding = True
    except Failed:
        holding = False  # the backlog may be gone already with a tiny --orders
    p.stop("email-1", signal.SIGKILL)
    p.start_email("email-3", args, seed=3)
    say(f"killed email-1 with SIGKILL{' while it held a lease' if holding else ''}; "
        "started email-3 in its place")
    return holding


def expect_drained(p: Pipeline, queued: dict, say: Callable) -> None:
    poison = set(queued["poison_ids"])
    want = sorted(set(queued["orders"]) - poison)
    try:
        wait_for("every order to be emailed", lambda: p.emails("email") == want, 120)
    except Failed as e:
        missing = sorted(set(want) - set(p.emails("email")))
        raise Failed(f"{e}: {len(missing)} not emailed ({', '.join(missing[:3])}...); "
                     f"{len(p.dead_letters(EMAIL_GROUP))} in the dead-letter store")
    wait_for("every order to reach the inventory",
             lambda: set(queued["orders"]) <= set(p.inventory_lines()), 60)
    wait_for("the poison order in the email group's dead-letter store",
             lambda: len(p.dead_letters(EMAIL_GROUP)) >= len(poison), 60)
    say(f"every order emailed and applied; the poison order is in {EMAIL_STORE}'s dead letters")


def collect(p: Pipeline, args: argparse.Namespace, queued: dict, synced: dict, killed: bool,
            metrics_url: str) -> dict:
    metrics = p.metrics(metrics_url)
    for name in list(p.procs):
        if name not in ("shmqd", "warehouse-shmqd") and p.alive(name):
            p.stop(name)
    remote = remote_stats(p) if args.rabbitmq else {}
    workers = [json.loads(line) for name in p.procs
               if name.startswith(("email", "inventory", "analytics"))
               for line in p.output(name).splitlines() if line.startswith("{")]
    stats = {g: p.stat(g)["stats"] for g in (*GROUPS, ANALYTICS_GROUP, "")}
    max_attempts = p.stat()["params"]["max_attempts"]
    dead = p.dead_letters(EMAIL_GROUP)
    dead_orders = [p.dead_letter_payload(EMAIL_GROUP, d["id"])["order_id"] for d in dead]
    shown = {cmd: p.ctl(*cmd.split()).stdout
             for cmd in ("list", f"dlq list {TOPIC} --group {EMAIL_GROUP}")}
    traced = traceparents(p)
    for name in ("warehouse-shmqd", "shmqd"):
        if name in p.procs:
            p.stop(name)
    return {"remote": remote, "orders": args.orders, "queue_run": queued, "sync_run": synced,
            "emails": p.emails("email"), "sync_emails": p.emails("sync"),
            "inventory": p.inventory_lines(), "analytics": p.inventory_lines("analytics.log"),
            "traceparents": traced, "stats": stats, "workers": workers,
            "dead_letters": dead, "dead_orders": dead_orders, "killed_with_lease": killed,
            "metrics": metrics, "max_attempts": max_attempts, "shmqctl": shown}


TRACED = re.compile(r"traceparent (\S+): (ord-[0-9a-f]+) ")
VALID_TRACE = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def traceparents(p: Pipeline) -> dict:
    """The traceparent logged with each order: by the email workers (any line naming
    the order, so a redelivery's counts too) and in the analytics log."""
    email = {m[2]: m[1] for name in p.procs if name.startswith("email")
             for m in TRACED.finditer(p.output(name, "log"))}
    analytics = {}
    try:
        with open(p.path("outbox", "analytics.log")) as f:
            for line in f:
                oid, *_, trace = line.split()
                analytics[oid] = trace.removeprefix("trace=")
    except FileNotFoundError:
        pass
    return {"email": email, "analytics": analytics}


def remote_stats(p: Pipeline) -> dict:
    """What crossed the broker: both bridges' counters and the warehouse's queue."""
    def bridge(name: str) -> dict:
        r = p.ctl("--json", "bridge", "--status-file", p.path(f"bridge-{name}.prom"))
        return json.loads(r.stdout)["bindings"][0]
    r = p.ctl("--json", "stat", REMOTE_QUEUE, env=p.warehouse_env(),
              config=p.path("warehouse", "shmqd.toml"))
    return {"shop": bridge("shop"), "warehouse": bridge("warehouse"),
            "warehouse_queue": json.loads(r.stdout)["stats"]}


# ---- the summary and its checks ---------------------------------------------
def print_summary(s: dict) -> None:
    q, y, e = s["queue_run"], s["sync_run"], s["stats"][EMAIL_GROUP]
    dups = sum(w.get("duplicates", 0) for w in s["workers"])
    lines = [
        ("orders accepted", f"{q['accepted']} of {q['sent']} (1 poison)"),
        ("emails sent", f"{len(s['emails'])}, one per order: "
         f"{'yes' if one_email_each(s) else 'NO'} ({dups} redeliveries found it sent already)"),
        ("inventory lines", f"{sum(s['inventory'].values())} for {len(s['inventory'])} orders"
         " (both runs)"),
        ("analytics", f"{sum(s['analytics'].values())} lines for {len(s['analytics'])} orders "
         f"(bound live before the sync run; {len(set(s['analytics']) & set(q['orders']))} "
         "from before)"),
        ("traceparent", f"logged for {len(s['traceparents']['email'])} orders by the email "
         f"workers, {len(s['traceparents']['analytics'])} by analytics"),
        ("email retries", f"{e['nacked']} failed attempts retried with backoff"),
        ("leases reclaimed", f"{e['reclaimed']} (from the email worker killed with SIGKILL)"),
        ("dead letters", f"{len(s['dead_letters'])} in {EMAIL_STORE} "
         f"(orders {', '.join(s['dead_orders']) or '-'})"),
        *([("over RabbitMQ", over_rabbitmq(s["remote"]))] if s["remote"] else []),
        ("latency, queue", f"p50 {q['p50_ms']} ms  p99 {q['p99_ms']} ms  "
         f"({q['accepted']} accepted in {q['seconds']} s)"),
        ("latency, sync", f"p50 {y['p50_ms']} ms  p99 {y['p99_ms']} ms  ({y['accepted']} accepted,"
         f" failed {y['failed'] or 'none'}, in {y['seconds']} s)"),
    ]
    print("\n== summary")
    for k, v in lines:
        print(f"{k:18} {v}")
    if q["p50_ms"] > 0:
        print(f"{'':18} the topic answers {y['p50_ms'] / q['p50_ms']:.0f}x faster at p50, "
              f"{y['p99_ms'] / max(q['p99_ms'], 0.01):.0f}x at p99")
    for cmd, out in s["shmqctl"].items():
        print(f"\n== shmqctl {cmd}\n{out.rstrip()}")
    print("\n== shmqd metrics (excerpt)")
    print("\n".join(s["metrics"]))


def over_rabbitmq(r: dict) -> str:
    shop, wh = r["shop"], r["warehouse"]
    return (f"{shop['messages_confirmed_total']:.0f} confirmed by the broker to the shop's bridge, "
            f"{wh['messages_acked_broker_total']:.0f} acked to it by the warehouse's, "
            f"{r['warehouse_queue']['acked']} applied in the warehouse")


def one_email_each(s: dict) -> bool:
    q = s["queue_run"]
    return s["emails"] == sorted(set(q["orders"]) - set(q["poison_ids"]))


def check(s: dict, args: argparse.Namespace) -> list[str]:
    q, y = s["queue_run"], s["sync_run"]
    problems = []
    if q["accepted"] != args.orders + 1:
        problems.append(f"queue run: {q['accepted']} orders accepted, expected {args.orders + 1}")
    if not one_email_each(s):
        problems.append(f"{len(s['emails'])} emails for {q['accepted'] - 1} orders (not one each)")
    if sorted(s["dead_orders"]) != q["poison_ids"]:
        problems.append(f"dead letters {s['dead_orders']}, expected {q['poison_ids']}")
    expected = {**q["orders"], **y["orders"]}
    if s["inventory"] != expected:
        wrong = sorted(k for k in expected.keys() | s["inventory"].keys()
                       if s["inventory"].get(k) != expected.get(k))
        problems.append(f"inventory lines differ from the orders' items for {wrong[:5]}")
    if sorted(s["sync_emails"]) != sorted(y["orders"]):
        problems.append("sync run: the emails sent inline differ from the accepted orders")
    least = len(q["poison_ids"]) * (s["max_attempts"] - 1)
    if s["stats"][EMAIL_GROUP]["nacked"] < least:
        problems.append(f"{s['stats'][EMAIL_GROUP]['nacked']} retries, expected at least {least}")
    for name, st in s["stats"].items():
        if st["ready"] or st["leased"] or st["delayed"] or st["dead"]:
            problems.append(f"{TOPIC}{'/' + name if name else ''} not drained: {st}")
    problems += check_once(s, args, expected)
    problems += check_traces(s)
    if args.rabbitmq:
        problems += check_remote(s["remote"], len(expected))
    return problems


def check_once(s: dict, args: argparse.Namespace, expected: dict) -> list[str]:
    """Each group got each order once: the inventory (not killed) saw no redelivery,
    the email workers at most one per kill; analytics got exactly the orders
    published after its add (the sync run), each once."""
    problems = []
    count = lambda worker, key: sum(w.get(key, 0) for w in s["workers"] if w["worker"] == worker)
    if not args.rabbitmq and (count("inventory", "applied"), count("inventory", "duplicates")) \
            != (len(expected), 0):
        problems.append(f"inventory: applied {count('inventory', 'applied')}, duplicates "
                        f"{count('inventory', 'duplicates')}; expected {len(expected)}, 0")
    if count("email", "duplicates") > int(s["killed_with_lease"]):
        problems.append(f"email: {count('email', 'duplicates')} redeliveries, more than the kills")
    want = {oid: 1 for oid in s["sync_run"]["orders"]}
    if s["analytics"] != want:
        before = sorted(set(s["analytics"]) & set(s["queue_run"]["orders"]))
        problems.append(f"analytics: {sum(s['analytics'].values())} lines for "
                        f"{len(s['analytics'])} orders, expected the {len(want)} sync-run orders "
                        f"once each ({len(before)} from before its add)")
    return problems


def check_traces(s: dict) -> list[str]:
    """Every order emailed, and every analytics line, has a well-formed traceparent,
    a new trace per request (load.py sends none)."""
    problems = []
    for worker, traces in s["traceparents"].items():
        bad = [t for t in traces.values() if not VALID_TRACE.fullmatch(t)]
        ids = {t.split("-")[1] for t in traces.values()}
        if bad or len(ids) != len(traces):
            problems.append(f"{worker}: traceparents malformed {bad[:3]} or shared "
                            f"({len(ids)} trace ids for {len(traces)} orders)")
    missing = set(s["emails"]) - set(s["traceparents"]["email"])
    if missing:
        problems.append(f"no traceparent logged for the emails of {sorted(missing)[:3]}")
    return problems


def check_remote(r: dict, orders: int) -> list[str]:
    """Every order's inventory work crossed the broker and was done in the warehouse."""
    st = r["warehouse_queue"]
    counts = (r["shop"]["messages_confirmed_total"], r["warehouse"]["messages_acked_broker_total"],
              st["acked"])
    problems = [] if min(counts) >= orders else [
        f"over RabbitMQ: confirmed, acked to the broker, applied = {counts}, expected >= {orders}"]
    if st["ready"] or st["leased"] or st["delayed"] or st["dead"]:
        problems.append(f"the warehouse's {REMOTE_QUEUE} not drained: {st}")
    return problems


# ---- `up` and `down`: the walkthrough ---------------------------------------
def up(args: argparse.Namespace) -> int:
    state = os.path.abspath(args.state)
    if os.path.exists(os.path.join(state, "pids.json")):  # an earlier `up`, maybe still running
        print(f"pipeline: already up ({state}/pids.json); `pipeline.py down` first", file=sys.stderr)
        return 1
    shmq_dir = shm_dir(state)
    os.makedirs(shmq_dir, mode=0o700, exist_ok=True)
    p = Pipeline(args.build, state, shmq_dir)
    try:
        exe = p.build_inventory()
        metrics_url = p.start_shmqd()
        url = p.start_server("server", "queue", args, args.port)
        for i in (1, 2):
            p.start_email(f"email-{i}", args, seed=i)
        start_inventory(p, exe, args)
    except Failed as e:
        print(f"pipeline: {e}", file=sys.stderr)
        p.stop_all()
        return 1
    with open(os.path.join(state, "pids.json"), "w") as f:
        json.dump({name: proc.pid for name, proc in p.procs.items()}, f)
    write_env(p, state, shmq_dir, url, metrics_url)
    print(open(os.path.join(state, "env")).read().rstrip())
    print(f"\nup: {', '.join(f'{n} (pid {pr.pid})' for n, pr in p.procs.items())}")
    print(f"logs in {state}/logs; load the variables above with: source {state}/env")
    return 0


def shm_dir(state: str) -> str:
    """The walkthrough's private queue directory, named after its state directory."""
    return os.path.join("/dev/shm", os.path.basename(state.rstrip("/")) + f"-{os.getuid()}")


def write_env(p: Pipeline, state: str, shmq_dir: str, url: str, metrics_url: str) -> None:
    with open(os.path.join(state, "env"), "w") as f:
        f.write(f"export SHMQ_DIR={shmq_dir}\n"
                f"export PATH={os.path.dirname(p.tool('shmqctl'))}:$PATH\n"
                f"export SHOP={url}\n"
                f"export METRICS={metrics_url}\n"
                f"export PIPELINE={state}\n"
                f"export WAREHOUSE_SHMQ_DIR={p.warehouse_env()['SHMQ_DIR']}\n"
                f"export SHMQ_PYTHON_CORE={p.env['SHMQ_PYTHON_CORE']} PYTHONPATH={p.env['PYTHONPATH']}\n"
                + "".join(f"export {n.upper().replace('-', '_')}_PID={pr.pid}\n"
                          for n, pr in p.procs.items()) +
                f"alias shmqctl='shmqctl --config {p.config}'\n")


def down(args: argparse.Namespace) -> int:
    state = os.path.abspath(args.state)
    try:
        with open(os.path.join(state, "pids.json")) as f:
            pids = json.load(f)
    except FileNotFoundError:
        print(f"pipeline: nothing is up in {state}", file=sys.stderr)
        return 1
    for name, pid in reversed(list(pids.items())):  # shmqd last
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        try:
            wait_for(f"{name} (pid {pid}) to stop", lambda: not os.path.exists(f"/proc/{pid}"), 30)
        except Failed as e:
            print(f"pipeline: {e}; sending SIGKILL", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
        print(f"stopped {name} (pid {pid})")
    os.unlink(os.path.join(state, "pids.json"))
    p = Pipeline(args.build, state, shm_dir(state))
    try:
        st = p.stat()["stats"]  # the topic's payload slots: held while any group holds one
        left = {TOPIC: sum(st[k] for k in ("ready", "leased", "delayed", "dead"))}
    except (Failed, OSError) as e:  # cannot look: keep them
        left = {"unknown": str(e)}
    if any(left.values()):  # never throw messages away: `up` picks them up again
        print(f"the topic still holds messages ({left}): kept in {shm_dir(state)}")
    else:
        shutil.rmtree(shm_dir(state), ignore_errors=True)
    warehouse = p.warehouse_env()["SHMQ_DIR"]
    if os.path.isdir(warehouse):  # `up --rabbitmq` ran: the same for the warehouse's queue
        r = p.ctl("--json", "stat", REMOTE_QUEUE, check=False, env=p.warehouse_env(),
                  config=p.path("warehouse", "shmqd.toml"))
        st = json.loads(r.stdout)["stats"] if r.returncode == 0 else {}
        if r.returncode == 0 and not any(st[k] for k in ("ready", "leased", "delayed", "dead")):
            shutil.rmtree(warehouse, ignore_errors=True)
        else:
            print(f"the warehouse's queue may hold messages: kept in {warehouse}")
    print(f"the outbox, dead letters, spill and logs stay in {state}; remove it when done")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("command", choices=("run", "up", "down"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the shmq build directory (default: build/ in the source tree)")
    ap.add_argument("--state", help="state directory (run: a new temporary one; "
                                    "up/down: /tmp/shmq-orders)")
    ap.add_argument("--orders", type=int, default=300, help="orders per run (run)")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent clients (run)")
    ap.add_argument("--fail-rate", type=float, default=0.2, help="share of provider calls that fail")
    ap.add_argument("--mail-latency-ms", type=float, default=20.0, help="the provider's round trip")
    ap.add_argument("--port", type=int, default=8080, help="the web server's port (up)")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the counts add up (run)")
    ap.add_argument("--json", help="also write the summary as JSON to this file (run)")
    ap.add_argument("--keep", action="store_true", help="keep the state directory (run)")
    ap.add_argument("--quiet", action="store_true", help="only the summary (run)")
    ap.add_argument("--rabbitmq", metavar="HOST:PORT",
                    help="run, up: carry the inventory work over this RabbitMQ broker "
                         "(user guest) to a warehouse with its own shmqd")
    args = ap.parse_args()
    if args.rabbitmq and not re.fullmatch(r"[^:]+:\d{1,5}", args.rabbitmq):
        ap.error("--rabbitmq: expected HOST:PORT, e.g. 127.0.0.1:5672")
    if args.orders < 1 or args.concurrency < 1 or not 0 <= args.fail_rate < 1:
        ap.error("--orders and --concurrency must be >= 1, --fail-rate in [0, 1)")
    missing = [f for f in ("lib/libshmq.so", "daemon/shmqd/shmqd", "daemon/shmqctl/shmqctl")
               + (("daemon/bridge/shmq-bridge",) if args.rabbitmq else ())
               if not os.path.exists(os.path.join(args.build, f))]
    if missing and args.command != "down":
        ap.exit(2, f"pipeline: {args.build} has no {missing[0]}: build shmq first "
                   f"(scripts/build.sh, or pass --build DIR)\n")
    if args.command != "run" and args.state is None:
        args.state = os.path.join(tempfile.gettempdir(), "shmq-orders")
    return {"run": run, "up": up, "down": down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
