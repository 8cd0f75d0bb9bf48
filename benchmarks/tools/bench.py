#!/usr/bin/env python3
"""Helpers for benchmarks/run.sh (standard library only; Debian's python3).

  bench.py cpu PID               utime+stime of PID and all its descendants, in seconds
  bench.py rss PID               VmRSS of PID and all its descendants, in KiB
  bench.py waitport PORT [SECS]  wait until 127.0.0.1:PORT accepts a TCP connection
  bench.py idle --pid PID --port PORT [--conns N] [--settle SECS]
                                 memory per idle TLS connection (scenario 7), prints JSON
  bench.py report RESULTS.jsonl OUT_BASENAME [--machine FILE] [--micro FILE] [--quick]
                                 writes OUT_BASENAME.md and .tsv (and .png when matplotlib is
                                 installed) and prints the markdown
"""
import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import time

# ---------------------------------------------------------------------------------- /proc


def descendants(pid):
    """PID and every descendant (nginx: master + workers), from /proc/*/stat parent links."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid):
    """utime + stime (fields 14 and 15 of /proc/PID/stat; all threads of the process)."""
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    total = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def wait_port(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return 0
        except OSError:
            time.sleep(0.05)
    print(f"bench.py: nothing listens on 127.0.0.1:{port} after {seconds}s", file=sys.stderr)
    return 1


# ------------------------------------------------------------------ scenario 7: idle memory

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench-idle\r\n\r\n"


async def open_idle(port, ctx, stats):
    """Handshake, one keep-alive request, read the whole response, then keep the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="localhost")
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    stats["ok" if status == 200 else "bad_status"] += 1
    return writer


async def idle_main(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    stats = {"ok": 0, "bad_status": 0, "errors": 0}

    # Warm-up: a few connections first, so one-time allocations (TLS context, upstream pool,
    # worker buffers) are in the baseline and not charged to the idle connections.
    warm = []
    for _ in range(20):
        warm.append(await open_idle(args.port, ctx, stats))
    for w in warm:
        w.close()
    await asyncio.sleep(args.settle)
    base = rss_kib(args.pid)

    sem = asyncio.Semaphore(200)  # handshakes in flight at once
    writers = []

    async def one():
        async with sem:
            try:
                writers.append(await asyncio.wait_for(open_idle(args.port, ctx, stats), 30))
            except Exception:  # noqa: BLE001 - counted and reported
                stats["errors"] += 1

    t0 = time.time()
    await asyncio.gather(*(one() for _ in range(args.conns)))
    opened = time.time() - t0
    # Portcullis frees idle buffers from a once-a-second sweep; give every proxy the same wait.
    await asyncio.sleep(args.settle)
    loaded = rss_kib(args.pid)
    open_now = len(writers)
    for w in writers:
        w.close()
    delta = loaded - base
    out = {
        "conns": open_now, "ok": stats["ok"] - 20, "bad_status": stats["bad_status"],
        "errors": stats["errors"], "rss_base_kib": base, "rss_loaded_kib": loaded,
        "rss_delta_kib": delta, "open_seconds": round(opened, 2),
        "kib_per_conn": round(delta / open_now, 3) if open_now else None,
    }
    print(json.dumps(out))


# ----------------------------------------------------------------------------------- report

PROXIES = [("portcullis", "Portcullis"), ("nginx", "nginx"), ("haproxy", "HAProxy")]

# key, label, unit, higher_is_better, target ratio (None = informational)
METRICS = [
    ("ka_rps", "(2) keep-alive, small responses, 64 conns", "req/s", True, 1.2),
    ("ka_p50", "(2) keep-alive latency p50", "ms", False, None),
    ("ka_p99", "(2) keep-alive latency p99", "ms", False, 1.0),
    ("full_hs", "(3) full TLS handshakes (new connection per request)", "handshakes/s", True, 1.0),
    ("resumed_hs", "(4) resumed TLS handshakes (session tickets)", "handshakes/s", True, 1.0),
    ("redirect_rps", "(5) plain-HTTP 301 redirects, 64 conns", "req/s", True, 1.2),
    ("big_mibps", "(6) 1 MiB responses over TLS, 16 conns", "MiB/s", True, 1.0),
    ("idle_kib", "(7) memory per idle TLS connection", "KiB/conn", False, 0.5),
    ("cpu_us", "(8) proxy CPU time per request in (2)", "µs/req", False, 0.8),
]


def fmt(v, key):
    if v is None:
        return "—"
    if key in ("ka_p50", "ka_p99"):
        return f"{v:.2f}"
    if key in ("idle_kib", "cpu_us"):
        return f"{v:.1f}"
    if key == "big_mibps":
        return f"{v:.0f}"
    return f"{v:,.0f}"


def derive(rows):
    """(workers, proxy) -> {metric: value}, plus the list of problems seen."""
    table, problems, direct = {}, [], {}
    for r in rows:
        w, proxy, sc = r["workers"], r["proxy"], r["scenario"]
        m = table.setdefault((w, proxy), {})
        bad = []
        if sc in ("keepalive", "redirect", "big", "direct_small", "direct_big"):
            secs = r["duration_us"] / 1e6
            for k in ("connect_errors", "read_errors", "write_errors", "timeouts"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
            if r.get("status_errors"):
                bad.append(f"non-2xx/3xx responses: {r['status_errors']}")
            if sc == "keepalive":
                m["ka_rps"] = r["requests"] / secs
                m["ka_p50"] = r["p50_us"] / 1000
                m["ka_p99"] = r["p99_us"] / 1000
                if r.get("cpu_seconds") is not None and r["requests"]:
                    m["cpu_us"] = r["cpu_seconds"] * 1e6 / r["requests"]
            elif sc == "redirect":
                m["redirect_rps"] = r["requests"] / secs
            elif sc == "big":
                m["big_mibps"] = r["bytes"] / secs / (1 << 20)
            elif sc == "direct_small":
                direct.setdefault(w, {})["ka_rps"] = r["requests"] / secs
                direct[w]["ka_p50"] = r["p50_us"] / 1000
                direct[w]["ka_p99"] = r["p99_us"] / 1000
            elif sc == "direct_big":
                direct.setdefault(w, {})["big_mibps"] = r["bytes"] / secs / (1 << 20)
        elif sc in ("full", "resume"):
            for k in ("bad_status", "short_body", "errors", "timeouts"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
            if sc == "full":
                m["full_hs"] = r["ok"] / r["seconds"]
                if r.get("resumed"):
                    bad.append(f"{r['resumed']} handshakes were resumed in the full-handshake run")
            else:
                m["resumed_hs"] = r["resumed"] / r["seconds"]
                if r["handshakes"] and r["resumed"] < 0.95 * r["handshakes"]:
                    bad.append(f"only {r['resumed']} of {r['handshakes']} handshakes resumed")
        elif sc == "idle":
            m["idle_kib"] = r.get("kib_per_conn")
            for k in ("bad_status", "errors"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
        elif sc == "check":
            bad.extend(r.get("problems", []))
        elif sc == "log":
            last = " | ".join(l.strip() for l in r.get("last", "").strip().splitlines()[-2:])
            bad.append(f"the proxy logged {r['lines']} warning/error line(s) during the "
                       f"{r['sc']} scenario; last: `{last[:240]}`")
        for b in bad:
            problems.append(f"workers={w} {proxy} {r.get('sc', sc) if sc == 'log' else sc}: {b}")
    return table, direct, problems


def ratio_cell(key, higher, target, mine, others):
    others = [o for o in others if o is not None]
    if mine is None or not others:
        return None, "—", "—"
    best = max(others) if higher else min(others)
    if best == 0:
        return None, "—", "—"
    ratio = mine / best
    if target is None:
        return ratio, f"{ratio:.2f}x", "—"
    met = ratio >= target if higher else ratio <= target
    return ratio, f"{ratio:.2f}x", ("met" if met else "**not met**")


def report(args):
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    table, direct, problems = derive(rows)
    machine = open(args.machine).read().strip() if args.machine else ""
    workers = sorted({r["workers"] for r in rows if r["proxy"] != "direct"})
    md, tsv = [], ["workers\tmetric\tunit\tbetter\tdirect\tportcullis\tnginx\thaproxy\tratio\ttarget\tmet"]
    title = "Portcullis benchmark" + (" (QUICK MODE: 2 s per scenario, not for publishing)" if args.quick else "")
    md.append(f"# {title}\n")
    md.append(machine + "\n")
    md.append("Ratio = Portcullis ÷ the best of nginx and HAProxy in the same run. For req/s, "
              "handshakes/s and MiB/s higher is better (target: ratio ≥ target); for latency, "
              "memory and CPU **lower is better** (target: ratio ≤ target). \"direct\" is wrk "
              "straight to one upstream nginx over plain HTTP: the ceiling, no TLS, no proxy.\n")
    for w in workers:
        md.append(f"\n## {w} worker{'s' if w > 1 else ''} / thread{'s' if w > 1 else ''} per proxy\n")
        md.append("| Scenario | Unit | Better | direct | Portcullis | nginx | HAProxy | Portcullis ÷ best other | Target | Met |")
        md.append("|---|---|---|--:|--:|--:|--:|--:|--:|---|")
        for key, label, unit, higher, target in METRICS:
            vals = [table.get((w, p), {}).get(key) for p, _ in PROXIES]
            ratio, rtxt, mtxt = ratio_cell(key, higher, target, vals[0], vals[1:])
            d = direct.get(1, {}).get(key)
            ttxt = "—" if target is None else (f"≥ {target}x" if higher else f"≤ {target}x")
            better = "higher" if higher else "lower"
            md.append(f"| {label} | {unit} | {better} | {fmt(d, key)} | "
                      + " | ".join(fmt(v, key) for v in vals)
                      + f" | {rtxt} | {ttxt} | {mtxt} |")
            tsv.append("\t".join([str(w), key, unit, better, "" if d is None else f"{d:.3f}"]
                                 + ["" if v is None else f"{v:.3f}" for v in vals]
                                 + ["" if ratio is None else f"{ratio:.3f}",
                                    "" if target is None else str(target),
                                    {"met": "met", "**not met**": "not met"}.get(mtxt, "")]))
    md.append("\n## Errors and checks\n")
    if problems:
        md.append("Every wrk run's socket errors and non-2xx/3xx count, every tlsload run's "
                  "failed or non-200 connections, and the pre-flight checks:\n")
        md.extend(f"- {p}" for p in problems)
    else:
        md.append("None: no wrk socket errors or non-2xx/3xx responses, every tlsload connection "
                  "got a complete 200, every resumed-mode handshake after the first per "
                  "connection slot was resumed, every full-mode one was full, and the pre-flight "
                  "checks (status codes, redirect Location, forwarded headers) passed.")
    checks = [r for r in rows if r["scenario"] == "check"]
    if checks:
        md.append("\n<details><summary>Pre-flight check details (what each proxy forwarded)</summary>\n")
        for r in checks:
            md.append(f"- workers={r['workers']} {r['proxy']}: {r.get('detail', '')}")
        md.append("\n</details>")
    if args.micro and os.path.exists(args.micro) and os.path.getsize(args.micro) > 0:
        md.append("\n## Micro-benchmarks (Google Benchmark, benchmarks/micro)\n")
        md.append("| Benchmark | ns/op (CPU) | iterations |")
        md.append("|---|--:|--:|")
        data = json.load(open(args.micro))
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            md.append(f"| {b['name']} | {b['cpu_time'] * scale:.1f} | {b['iterations']} |")
            tsv.append("\t".join(["micro", b["name"], "ns/op", "lower", "",
                                  f"{b['cpu_time'] * scale:.3f}", "", "", "", "", ""]))
    text = "\n".join(md) + "\n"
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".tsv", "w") as f:
        f.write("\n".join(tsv) + "\n")
    print(text)
    chart(table, workers, args.out + ".png")


def chart(table, workers, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(no chart: python3-matplotlib is not installed; apt-get install python3-matplotlib)")
        return
    fig, axes = plt.subplots(len(workers), 1, figsize=(11, 4 * len(workers)), squeeze=False)
    for ax, w in zip(axes[:, 0], workers):
        labels, series = [], {p: [] for p, _ in PROXIES}
        for key, label, unit, higher, _ in METRICS:
            vals = [table.get((w, p), {}).get(key) for p, _ in PROXIES]
            if any(v is None for v in vals):
                continue
            best = max(vals) if higher else min(vals)
            labels.append(f"{key}\n({'higher' if higher else 'lower'} better)")
            for (p, _), v in zip(PROXIES, vals):
                series[p].append(v / best if best else 0)
        x = range(len(labels))
        for i, (p, name) in enumerate(PROXIES):
            ax.bar([xi + (i - 1) * 0.27 for xi in x], series[p], 0.27, label=name)
        ax.set_xticks(list(x), labels, fontsize=7)
        ax.set_ylabel("relative to best")
        ax.set_title(f"{w} worker(s)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"chart: {path}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cpu"); p.add_argument("pid", type=int)
    p = sub.add_parser("rss"); p.add_argument("pid", type=int)
    p = sub.add_parser("waitport"); p.add_argument("port", type=int)
    p.add_argument("seconds", type=float, nargs="?", default=10)
    p = sub.add_parser("idle")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=5000)
    p.add_argument("--settle", type=float, default=2.5)
    p = sub.add_parser("report")
    p.add_argument("results"); p.add_argument("out")
    p.add_argument("--machine"); p.add_argument("--micro"); p.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.cmd == "cpu":
        print(f"{cpu_seconds(args.pid):.2f}")
    elif args.cmd == "rss":
        print(rss_kib(args.pid))
    elif args.cmd == "waitport":
        sys.exit(wait_port(args.port, args.seconds))
    elif args.cmd == "idle":
        asyncio.run(idle_main(args))
    elif args.cmd == "report":
        report(args)


if __name__ == "__main__":
    main()
