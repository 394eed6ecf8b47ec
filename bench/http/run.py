#!/usr/bin/env python3
"""The HTTP API's benchmark (issue 18's goals), in one run:

1. enqueue: wrk POSTs 64-byte messages to /v1/queues/bench/messages over
   HTTP/1.1 keep-alive, as fast as it can; a C process drains the queue;
2. the HTTP floor: the same server and load on GET /healthz, which touches no
   queue (what the HTTP library and the request path cost by themselves);
3. direct sends: one C process sends 64-byte messages with shmq_send into the
   same queue, the drain beside it;
4. latency near 10 k requests/s: wrk's per-request delay() paces the enqueue
   load; p50/p99 of what it measured.

wrk (Debian's) speaks TCP only, so the load goes to shmqd's loopback TCP
listener (api_tcp, with the bearer token), not the Unix socket: the same
server, handler and queue code, plus loopback TCP's cost.

Usage: run.py --build BUILD_DIR [--seconds S] [--connections C] [--threads T]
              [--out FILE] [--short]
--short runs each load for 1 s: proves that everything runs (CI), says nothing
about speed. Writes Markdown to --out (default bench/results/http.md).
"""
import argparse
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "bench-token"
PAYLOAD = 64
PACED_CONNECTIONS, PACED_DELAY_MS = 20, 2  # at most 20 * 1000 / 2 = 10 k requests/s


def start_shmqd(build, work):
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    with open(os.path.join(work, "shmqd.toml"), "w") as f:
        f.write(f'version = 1\n[daemon]\nspill_dir = "{work}/spill"\ndead_letter_dir = "{work}/dlq"\n'
                f'metrics = "off"\napi_tcp = "127.0.0.1:0"\napi_token_file = "{work}/token"\n'
                f'http_max_connections = 1000\nlog_level = "info"\n'
                f'[queues.bench]\nslot_size = {PAYLOAD}\nslot_count = 65536\nmax_clients = 8\n')
    log = open(os.path.join(work, "shmqd.log"), "w")
    proc = subprocess.Popen([os.path.join(build, "daemon", "shmqd", "shmqd"), "--config",
                             os.path.join(work, "shmqd.toml"), "--foreground"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log.name) as f:
            m = re.search(r"api on http://([0-9.]+:[0-9]+)/v1", f.read())
        if m:
            return proc, "http://" + m.group(1)
        time.sleep(0.05)  # polling the log for the line, with a deadline
    proc.kill()
    raise SystemExit("run.py: shmqd did not start; its log:\n" + open(log.name).read())


def wrk_script(work, name, method, paced):
    path = os.path.join(work, name + ".lua")
    with open(path, "w") as f:
        f.write(f'wrk.method = "{method}"\nwrk.headers["Authorization"] = "Bearer {TOKEN}"\n')
        if method == "POST":
            f.write(f'wrk.body = string.rep("x", {PAYLOAD})\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n')
        if paced:
            f.write(f"function delay()\n  return {PACED_DELAY_MS}\nend\n")
    return path


def parse_wrk(out):
    """Requests/s, p50 and p99 in ms, failed requests (non-2xx, socket errors)."""
    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rate": float(rate.group(1)) if rate else 0.0, "p50": ms("50"), "p99": ms("99"),
            "failed": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)}


def wrk(url, script, seconds, threads, connections):
    cmd = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script, url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def direct_sends(build, seconds):
    """shmq_send rate of one C process (the drain runs beside it)."""
    peer = os.path.join(build, "bench", "shmq_http_peer")
    n = 20000 if seconds <= 1 else 2000000
    out = subprocess.run([peer, "send", "bench", str(n), str(PAYLOAD)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[3])


def measure(build, args):
    work = tempfile.mkdtemp(prefix="shmq-http-bench-")
    shm = tempfile.mkdtemp(prefix="shmq-http-bench-", dir="/dev/shm")
    os.environ["SHMQ_DIR"] = shm
    shmqd = drain = None
    try:
        shmqd, base = start_shmqd(build, work)
        drain = subprocess.Popen([os.path.join(build, "bench", "shmq_http_peer"), "drain", "bench"],
                                 stdout=subprocess.PIPE, text=True)
        load = (args.seconds, args.threads, args.connections)
        r = {"enqueue": wrk(base + "/v1/queues/bench/messages", wrk_script(work, "post", "POST", False), *load),
             "floor": wrk(base + "/healthz", wrk_script(work, "get", "GET", False), *load),
             "paced": wrk(base + "/v1/queues/bench/messages", wrk_script(work, "paced", "POST", True),
                          args.seconds, 1, PACED_CONNECTIONS),
             "direct": direct_sends(build, args.seconds)}
        drain.send_signal(signal.SIGINT)
        r["drained"] = int(drain.communicate(timeout=30)[0].split()[1])
        return r
    finally:
        for p in (drain, shmqd):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(work, True)
        shutil.rmtree(shm, True)


def report(r, args):
    e, f, p = r["enqueue"], r["floor"], r["paced"]
    ok_rate, ok_p99 = e["rate"] >= 50000, p["p99"] < 2.0
    lines = [
        "# HTTP API benchmark (issue 18)", "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"wrk -t{args.threads} -c{args.connections} for {args.seconds} s per load, {PAYLOAD}-byte messages, "
        "HTTP/1.1 keep-alive to shmqd's loopback TCP listener (wrk has no Unix-socket mode)."
        + (" **Short run: proves the benchmark works, not a measurement.**" if args.short else ""), "",
        "| load | requests/s | p50 ms | p99 ms | failed |", "| --- | --- | --- | --- | --- |",
        f"| enqueue `POST /v1/queues/bench/messages` | {e['rate']:.0f} | {e['p50']:.2f} | {e['p99']:.2f} | {e['failed']} |",
        f"| HTTP floor `GET /healthz` | {f['rate']:.0f} | {f['p50']:.2f} | {f['p99']:.2f} | {f['failed']} |",
        f"| enqueue paced to <= 10 k/s ({PACED_CONNECTIONS} connections, delay {PACED_DELAY_MS} ms) "
        f"| {p['rate']:.0f} | {p['p50']:.2f} | {p['p99']:.2f} | {p['failed']} |",
        f"| direct `shmq_send`, one C process | {r['direct']:.0f} | | | |", "",
        "## Ratios", "",
        f"- enqueue / HTTP floor: {e['rate'] / f['rate']:.2f}" if f["rate"] else "- enqueue / HTTP floor: n/a",
        f"- enqueue / direct sends: {e['rate'] / r['direct']:.4f}" if r["direct"] else "- enqueue / direct: n/a",
        f"- messages drained by the C consumer: {r['drained']}", "",
        "## Goals (issue 18)", "",
        f"- enqueue >= 50 k messages/s: {e['rate']:.0f}/s, **{'met' if ok_rate else 'not met'}**",
        f"- p99 request latency at 10 k requests/s below 2 ms: {p['p99']:.2f} ms at {p['rate']:.0f}/s, "
        f"**{'met' if ok_p99 else 'not met'}**", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results", "http.md"))
    ap.add_argument("--short", action="store_true")
    args = ap.parse_args()
    if args.short:
        args.seconds = 1
    if shutil.which("wrk") is None:
        raise SystemExit("run.py: wrk not found (Debian's wrk; scripts/deps.sh installs it)")
    r = measure(os.path.abspath(args.build), args)
    text = report(r, args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    worked = all(r[k]["rate"] > 0 and r[k]["failed"] == 0 for k in ("enqueue", "floor", "paced"))
    if not worked or r["direct"] <= 0:
        print("run.py: a load failed or got errors (see the table)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
