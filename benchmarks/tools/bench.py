#!/usr/bin/env python3
"""Helpers for benchmarks/run.sh (standard library only; Debian's python3).

  bench.py cpu [--split] PID     utime+stime of PID and all its descendants, in seconds
                                 (--split: "user system" instead of the sum)
  bench.py pids PID              PID and all its descendants, one per line (for strace -p)
  bench.py stracejson FILE       the summary table of `strace -c -o FILE`, as JSON
  bench.py rss PID               VmRSS of PID and all its descendants, in KiB
  bench.py waitport PORT [SECS]  wait until 127.0.0.1:PORT accepts a TCP connection
  bench.py idle --pid PID --port PORT [--conns N] [--settle SECS]
                                 memory per idle TLS connection (scenario 7), prints JSON
  bench.py wsidle --pid PID --tool WS_TOOL --url wss://... [--conns N] [--settle SECS]
                                 memory per idle WebSocket (scenario 9): scenario 7's method,
                                 with `ws_tool idle` holding the WebSockets; prints JSON
  bench.py h2idle --pid PID --tool H2_TOOL --url https://... [--conns N] [--settle SECS]
                                 memory per idle HTTP/2 connection (scenario 13): wsidle's
                                 method, with `h2_tool idle` holding the connections
  bench.py h2loadjson OUT [--log FILE] [--rc N] [--limit SECS]
                                 h2load's output (and its --log-file, for latency
                                 percentiles) as one JSON object
  bench.py html OUT [--size N]   the compression scenarios' HTML page (deterministic, N bytes)
  bench.py bodycheck --headers H --body B --expect FILE [--encoding gzip|br|identity]
                                 one curl response of scenarios 14-17 checked: 200, the
                                 Content-Encoding asked for, compressed under half, decodes to
                                 FILE (identity: is FILE); prints JSON, exit 1 if not
  bench.py report RESULTS.jsonl OUT_BASENAME [--machine FILE] [--micro FILE] [--quick]
                                 writes OUT_BASENAME.md and .tsv (and .png when matplotlib is
                                 installed) and prints the markdown

Records in RESULTS.jsonl carry a "round" (1, 2, ...; records without one are round 1). Each
figure in the report is the median of its rounds (with two rounds, the mean of the two).
"""
import argparse
import asyncio
import json
import os
import socket
import ssl
import signal
import statistics
import subprocess
import sys
import threading
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


def cpu_split(pid):
    """(utime, stime) in seconds: fields 14 and 15 of /proc/PID/stat (all threads of the
    process), summed over PID and its descendants."""
    user = system = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        user += int(fields[11])
        system += int(fields[12])
    tck = os.sysconf("SC_CLK_TCK")
    return user / tck, system / tck


def cpu_seconds(pid):
    """utime + stime of PID and its descendants, in seconds."""
    return sum(cpu_split(pid))


def parse_strace(path):
    """The summary table `strace -c` writes: {"calls": {syscall: n}, "errors": {syscall: n},
    "total_calls": n, "total_errors": n}."""
    calls, errors, total_calls, total_errors = {}, {}, 0, 0
    for line in open(path):
        parts = line.split()
        # "% time seconds usecs/call calls [errors] syscall"; the errors column is empty when 0.
        if len(parts) < 5 or not parts[3].isdigit():
            continue
        try:
            float(parts[0])
        except ValueError:
            continue
        name = parts[-1]
        n_err = int(parts[4]) if len(parts) == 6 else 0
        if name == "total":
            total_calls, total_errors = int(parts[3]), n_err
        else:
            calls[name] = int(parts[3])
            if n_err:
                errors[name] = n_err
    if not total_calls:
        total_calls, total_errors = sum(calls.values()), sum(errors.values())
    return {"calls": calls, "errors": errors, "total_calls": total_calls,
            "total_errors": total_errors}


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


# -------------------------------------------------------- scenario 9: idle WebSocket memory


def ws_idle(args):
    """idle_main's method (warm-up, settle, baseline, open N, settle, RSS again) for WebSockets
    (and, as `h2idle`, for HTTP/2 connections: `h2_tool idle` speaks the same JSON lines):
    `ws_tool idle` opens them (TLS 1.3, upgrade, one echo round trip each), says when all are
    open, and holds them until it gets SIGTERM after the second RSS reading."""
    tool = [args.tool, "idle", "--url", args.url]

    def lines(text):
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    # Warm-up: 20 WebSockets opened and closed, so one-time allocations are in the baseline. A
    # proxy without WebSocket support fails here (ws_tool exits 2), before 5,000 attempts.
    warm = subprocess.run(tool + ["--connections", "20", "--hold-seconds", "0"],
                          capture_output=True, text=True, timeout=90)
    first = (lines(warm.stdout) or [{}])[0]
    if warm.returncode != 0 or first.get("event") != "open":
        first.update({"unsupported": warm.returncode == 2, "rc": warm.returncode,
                      "stderr": warm.stderr[-300:]})
        print(json.dumps(first))
        return
    time.sleep(args.settle)
    base = rss_kib(args.pid)
    proc = subprocess.Popen(tool + ["--connections", str(args.conns),
                                    "--hold-seconds", str(args.hold)],
                            stdout=subprocess.PIPE, text=True)
    # ws_tool bounds its opening phase itself (60 s + 1 s per 50 connections); this timer is
    # only a guard against a hang, and kills our own child by its PID.
    guard = threading.Timer(args.hold + 120 + args.conns / 50, proc.kill)
    guard.start()
    try:
        opened = lines(proc.stdout.readline())
        opened = opened[0] if opened else {}
        if opened.get("event") != "open":
            proc.wait(timeout=30)
            opened.update({"rc": proc.returncode, "unsupported": proc.returncode == 2})
            print(json.dumps(opened))
            return
        # Portcullis frees idle buffers from a once-a-second sweep; every proxy gets the same wait.
        time.sleep(args.settle)
        loaded = rss_kib(args.pid)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = (lines(rest) or [{}])[-1]
    n = opened.get("open", 0)
    delta = loaded - base
    out = {
        "conns": n, "requested": args.conns,
        "errors": args.conns - n, "handshake_failed": opened.get("handshake_failed", 0),
        "closed_while_idle": done.get("closed_while_idle"), "still_open": done.get("still_open"),
        "detail": opened.get("detail", ""),
        "rss_base_kib": base, "rss_loaded_kib": loaded, "rss_delta_kib": delta,
        "open_seconds": opened.get("open_seconds"),
        "kib_per_conn": round(delta / n, 3) if n else None,
    }
    print(json.dumps(out))


# ------------------------------------------------------------- scenarios 11, 12: h2load


def h2load_json(args):
    """h2load's summary (finished in, requests, status codes, traffic, protocol) and, from its
    per-request --log-file (start µs, status, duration µs), p50 and p99 latency. Errors are
    counted, not raised: a proxy without HTTP/2 makes h2load fail every request, and that has
    to reach the report as a row of failures, not stop the run."""
    import re
    text = open(args.out, errors="replace").read()
    out = {"rc": args.rc}
    m = re.search(r"finished in ([0-9.]+)(ms|s)", text)
    if m:
        out["seconds"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                        m.groups()):
            out[k] = int(v)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        out["status_2xx"] = int(m.group(1))
        out["status_other"] = sum(int(x) for x in m.groups()[1:])
    m = re.search(r"traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers .*?, \S+ \((\d+)\) data", text)
    if m:
        out["bytes_total"], out["bytes_headers"], out["bytes_data"] = (int(x) for x in m.groups())
    m = re.search(r"Application protocol: (\S+)", text)
    out["protocol"] = m.group(1) if m else None
    if args.rc == 124 or args.rc == 137:
        out["detail"] = f"h2load did not finish within {args.limit} s (stopped by timeout)"
    elif "seconds" not in out:
        out["detail"] = " | ".join(l.strip() for l in text.strip().splitlines()[-3:])[-300:]
    elif not out.get("succeeded"):
        lines = [l.strip() for l in text.splitlines()
                 if any(w in l.lower() for w in ("negotiated", "error", "fail", "refused"))
                 and not l.startswith("requests:")]
        out["detail"] = ("no request succeeded: " + " | ".join(dict.fromkeys(lines[:4])))[-300:]
    if args.log:
        lat = []
        try:
            with open(args.log) as f:
                for line in f:
                    parts = line.split("\t")
                    if len(parts) >= 3 and parts[1].strip().isdigit():
                        lat.append(int(parts[2]))
        except OSError:
            pass
        lat.sort()
        out["latency_rows"] = len(lat)
        if lat:
            out["p50_us"] = lat[min(len(lat) - 1, int(0.5 * len(lat)))]
            out["p99_us"] = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(json.dumps(out))


# --------------------------------------------------- scenarios 14-17: files and compression


def html_page(size, seed=20261203):
    """A deterministic HTML page of exactly `size` bytes that compresses like a real one (gzip -6
    to about 22 %, brotli -4 about the same; a page of one repeated line would compress 100x and
    cost nothing): a nav bar, paragraphs of pseudo-words, tables of ids, names, prices and dates,
    cards with images, all drawn from a seeded PRNG, so every run serves the same bytes."""
    import random
    rnd = random.Random(seed)
    syl = ["ka", "lo", "mi", "ne", "tor", "vel", "us", "an", "der", "po", "ri", "sta", "en", "qu",
           "is", "ma", "ter", "con", "ple", "ox", "ban", "dis", "gra", "hu", "ly"]
    words = ["".join(rnd.choice(syl) for _ in range(rnd.randint(1, 4))) for _ in range(3000)]

    def sentence():
        t = " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 18)))
        return t[0].upper() + t[1:] + "."
    head = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<title>Portcullis benchmark page</title>\n'
            '<link rel="stylesheet" href="/static/css/site.3f2a9c1b7d4e.css">\n</head>\n<body>\n'
            '<header class="site-header"><nav><ul>\n')
    for i in range(12):
        w = rnd.choice(words)
        head += f'<li class="nav-item"><a href="/{w}/{i}/" title="{w.title()}">{w.title()}</a></li>\n'
    head += '</ul></nav></header>\n<main id="content">\n'
    body, n, total = [], 0, 0
    while total < size:
        n += 1
        k = rnd.random()
        if k < 0.45:
            part = (f'<p class="lead-{n % 7}">' +
                    " ".join(sentence() for _ in range(rnd.randint(2, 5))) + "</p>\n")
        elif k < 0.8:
            rows = "".join(
                f'<tr class="row-{j % 2}"><td class="id">{rnd.randint(1000, 999999)}</td>'
                f'<td class="name"><a href="/items/{rnd.randint(1, 99999)}/">{rnd.choice(words)} '
                f'{rnd.choice(words)}</a></td>'
                f'<td class="price">{rnd.randint(1, 9999)}.{rnd.randint(0, 99):02d}</td>'
                f'<td class="date">2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}</td></tr>\n'
                for j in range(rnd.randint(3, 10)))
            part = ('<table class="items"><thead><tr><th>Id</th><th>Name</th><th>Price</th>'
                    f'<th>Date</th></tr></thead>\n<tbody>\n{rows}</tbody></table>\n')
        else:
            part = (f'<div class="card" data-id="{rnd.randint(1, 10**9)}"><h2>{sentence()}</h2>'
                    f'<img src="/media/{rnd.randint(1, 10**6):x}.jpg" alt="{rnd.choice(words)}" '
                    f'width="{rnd.randint(100, 800)}" height="{rnd.randint(100, 600)}"></div>\n')
        body.append(part)
        total += len(part)
    tail = "</main>\n<footer>Portcullis benchmark</footer>\n</body>\n</html>\n"
    text = (head + "".join(body))[: size - len(tail) - 1]
    text = text[: text.rindex("\n") + 1]  # whole lines only, then a comment to the exact size
    pad = size - len(text) - len(tail)
    text += ("<!--" + "x" * (pad - 8) + "-->\n") if pad >= 8 else " " * pad
    out = (text + tail).encode()
    assert len(out) == size, (len(out), size)
    return out


def body_check(args):
    """One response fetched by curl (-D headers, -o body, no --compressed: the bytes as sent) in
    run.sh's pre-flight check of scenarios 14-17: the status is 200, Content-Encoding is the one
    asked for (none for a static file), a compressed body is under COMPRESSED_MAX_SHARE of the
    original and decodes to exactly the original (gzip: zlib; br: python3-brotli), an identity
    body is byte for byte the file. Prints JSON {"ok", "problems", "detail"}; exit 1 if not ok."""
    import gzip
    import hashlib
    raw = open(args.headers, "rb").read().decode("latin-1")
    # With a 100-continue or similar there could be several heads: the last one counts.
    heads = [h for h in raw.replace("\r\n", "\n").split("\n\n") if h.strip()]
    lines = heads[-1].split("\n") if heads else [""]
    status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "none"
    hdr = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdr.setdefault(k.strip().lower(), v.strip())
    body = open(args.body, "rb").read() if os.path.exists(args.body) else b""
    want = open(args.expect, "rb").read()
    enc = hdr.get("content-encoding", "").lower()
    problems = []
    if status != "200":
        problems.append(f"status {status}, not 200")
    decoded = body
    if args.encoding == "identity":
        if enc and enc != "identity":
            problems.append(f"Content-Encoding: {enc} on a request without Accept-Encoding")
    else:
        if enc != args.encoding:
            problems.append(f"Content-Encoding is '{enc or '(none)'}', not {args.encoding}: the "
                            f"response was not compressed")
        elif len(body) > COMPRESSED_MAX_SHARE * len(want):
            problems.append(f"{len(body)} bytes for a {len(want)}-byte page: not compressed")
        try:
            if enc == "gzip":
                decoded = gzip.decompress(body)
            elif enc == "br":
                import brotli  # Debian python3-brotli (run.sh installs it for br_html)
                decoded = brotli.decompress(body)
        except Exception as e:  # noqa: BLE001 - reported
            problems.append(f"the {enc} body does not decode: {e}")
            decoded = None
    if decoded is not None and decoded != want:
        problems.append(f"the body ({len(decoded)} bytes decoded, sha256 "
                        f"{hashlib.sha256(decoded).hexdigest()[:12]}) is not the expected "
                        f"{len(want)} bytes (sha256 {hashlib.sha256(want).hexdigest()[:12]})")
    detail = (f"{args.what}: {status}, {len(body)} bytes on the wire"
              + (f" ({len(body) / len(want):.1%} of {len(want)})" if enc and enc != "identity" else "")
              + f", Content-Type {hdr.get('content-type', '-')}, Content-Encoding "
              f"{enc or '-'}, Vary {hdr.get('vary', '-')}, Cache-Control "
              f"{hdr.get('cache-control', '-')}, ETag {'yes' if 'etag' in hdr else 'no'}, "
              f"Transfer-Encoding {hdr.get('transfer-encoding', '-')}")
    print(json.dumps({"ok": not problems, "problems": problems, "detail": detail}))
    return 0 if not problems else 1


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
    ("full_cpu_us", "proxy CPU time per full handshake in (3)", "µs/hs", False, None),
    ("resumed_cpu_us", "proxy CPU time per resumed handshake in (4)", "µs/hs", False, None),
    ("redirect_cpu_us", "proxy CPU time per redirect in (5)", "µs/req", False, None),
    ("kalog_rps", "(2L) keep-alive as (2), JSON access log on (no HAProxy)", "req/s", True, None),
    ("kalog_cpu_us", "(8L) proxy CPU time per request in (2L)", "µs/req", False, 1.0),
    ("ws_idle_kib", "(9) memory per idle WebSocket (TLS)", "KiB/WS", False, 0.5),
    ("ws_rtps", "(10) WebSocket echo round trips, 64 WebSockets", "round trips/s", True, 1.2),
    ("ws_p99", "(10) WebSocket round-trip latency p99", "ms", False, None),
    ("ws_cpu_us", "(10) proxy CPU time per WebSocket round trip", "µs/rt", False, None),
    ("h2_rps", "(11) HTTP/2, small responses, 64 conns x 10 streams", "req/s", True, 1.2),
    ("h2_p99", "(11) HTTP/2 latency p99", "ms", False, None),
    ("h2_cpu_us", "(11) proxy CPU time per HTTP/2 request", "µs/req", False, 0.8),
    ("h2_big_mibps", "(12) HTTP/2, 1 MiB responses, 4 conns x 4 streams", "MiB/s", True, 1.0),
    ("h2_idle_kib", "(13) memory per idle HTTP/2 connection", "KiB/conn", False, 0.5),
    # Static files and compression: Portcullis ÷ nginx (HAProxy serves no files, and Debian's
    # HAProxy compresses with libslz, which has no level 6: see README).
    ("static_small_rps", "(14) static 10 KiB file over TLS, 64 conns (vs nginx)", "req/s", True, 1.0),
    ("static_small_mibps", "(14) static 10 KiB file, throughput (vs nginx)", "MiB/s", True, 1.0),
    ("static_small_cpu_us", "(14) proxy CPU time per 10 KiB static file", "µs/req", False, 0.8),
    ("static_large_rps", "(15) static 1 MiB file over TLS, 16 conns (vs nginx)", "req/s", True, 1.0),
    ("static_large_mibps", "(15) static 1 MiB file, throughput (vs nginx)", "MiB/s", True, 1.0),
    ("static_large_cpu_us", "(15) proxy CPU time per 1 MiB static file", "µs/req", False, 0.8),
    ("gzip_rps", "(16) 100 KiB HTML gzip-6 on the fly, 16 conns (vs nginx)", "req/s", True, None),
    ("gzip_cpu_us", "(16) proxy CPU time per gzip-compressed response", "µs/resp", False, 1.0),
    ("gzip_resp_bytes", "(16) bytes received per response (headers included)", "bytes", False, None),
    ("br_rps", "(17) 100 KiB HTML brotli-4 on the fly, 16 conns (vs nginx + ngx_brotli)", "req/s", True, None),
    ("br_cpu_us", "(17) proxy CPU time per brotli-compressed response", "µs/resp", False, 1.0),
    ("br_resp_bytes", "(17) bytes received per response (headers included)", "bytes", False, None),
]

# The static-file and compression scenarios: scenario -> (metric key prefix, what the response
# must be). run.sh adds "body_bytes" (static: the file's size; every response must carry at
# least that) or "page_bytes" (compression: the uncompressed page; a response must come back
# under half of it, or it was not compressed and the round gives no figure).
FILE_SCENARIOS = {"static_small": "static_small", "static_large": "static_large",
                  "gzip_html": "gzip", "br_html": "br"}
COMPRESSED_MAX_SHARE = 0.5


# Scenario -> key of the load generator's CPU share in that scenario (see client_share in run.sh).
CLIENT_KEYS = {"keepalive": "ka_client", "full": "full_client", "resume": "resumed_client",
               "redirect": "redirect_client", "big": "big_client", "keepalive_log": "kalog_client",
               "ws_echo": "ws_client", "h2_small": "h2_client", "h2_large": "h2_big_client",
               "static_small": "static_small_client", "static_large": "static_large_client",
               "gzip_html": "gzip_client", "br_html": "br_client"}
CLIENT_LABELS = [("ka_client", "(2) keep-alive"), ("full_client", "(3) full handshakes"),
                 ("resumed_client", "(4) resumed handshakes"), ("redirect_client", "(5) redirects"),
                 ("big_client", "(6) 1 MiB responses"), ("kalog_client", "(2L) keep-alive, access log"),
                 ("ws_client", "(10) WebSocket round trips"), ("h2_client", "(11) HTTP/2 small responses"),
                 ("h2_big_client", "(12) HTTP/2 1 MiB responses"),
                 ("static_small_client", "(14) static 10 KiB file"),
                 ("static_large_client", "(15) static 1 MiB file"),
                 ("gzip_client", "(16) gzip HTML"), ("br_client", "(17) brotli HTML")]


def client_section(table, workers):
    """How busy the one-thread load generator was: near 100 % of its CPU, the client set the
    pace, and the proxies' figures (and ratios) mostly show who left it more CPU."""
    out = ["\n## Load generator CPU\n",
           "Share of its pinned CPU that wrk (or tlsload, ws_tool, h2load) used during each scenario, per proxy "
           "measured (mean of the rounds). Near 100 % the client, not the proxy, sets the pace: "
           "the proxies then differ only by how much CPU they leave it, and a throughput ratio "
           "cannot go far above 1.0x however cheap the proxy is; CPU per request (8) is the "
           "figure that still separates them.\n",
           "| Scenario | workers | " + " | ".join(n for _, n in PROXIES) + " |",
           "|---|--:|" + "--:|" * len(PROXIES)]
    any_row = False
    for w in workers:
        for key, label in CLIENT_LABELS:
            vals = [aggregate(table.get((w, p), {}).get(key)) for p, _ in PROXIES]
            if all(v is None for v in vals):
                continue
            any_row = True
            out.append(f"| {label} | {w} | " +
                       " | ".join("—" if v is None else f"{v * 100:.0f} %" for v in vals) + " |")
    return out if any_row else []


def fmt(v, key):
    if v is None:
        return "—"
    if key in ("ka_p50", "ka_p99", "ws_p99", "h2_p99"):
        return f"{v:.2f}"
    if key in ("idle_kib", "cpu_us", "redirect_cpu_us", "full_cpu_us", "resumed_cpu_us", "kalog_cpu_us",
               "ws_idle_kib", "ws_cpu_us", "h2_cpu_us", "h2_idle_kib", "static_small_cpu_us",
               "static_large_cpu_us", "gzip_cpu_us", "br_cpu_us"):
        return f"{v:.1f}"
    if key in ("big_mibps", "h2_big_mibps", "static_small_mibps", "static_large_mibps"):
        return f"{v:.0f}"
    return f"{v:,.0f}"


# (workers, proxy) -> metric keys the build could not run ("n/a" in the table, not "—").
NOT_AVAILABLE = {}


def derive(rows):
    """Per-round figures: {(workers, proxy): {metric: {round: value}}}, the direct (no proxy)
    figures {workers: {metric: value}}, the problems seen, and the profile records."""
    table, problems, direct, profile = {}, [], {}, {}
    multi = any(r.get("round", 1) > 1 for r in rows)
    for r in rows:
        w, proxy, sc = r["workers"], r["proxy"], r["scenario"]
        rnd = r.get("round", 1)
        m = table.setdefault((w, proxy), {})

        def put(key, value):
            m.setdefault(key, {})[rnd] = value

        bad = []
        # A proxy that exited during the run has no CPU time left to read after it: the delta
        # comes out negative and means nothing (run.sh reports the exit).
        if r.get("cpu_seconds") is not None and r["cpu_seconds"] < 0:
            r["cpu_seconds"] = None
        if r.get("client_cpu") is not None and sc in CLIENT_KEYS:
            put(CLIENT_KEYS[sc], r["client_cpu"])
        if sc in ("keepalive", "keepalive_log", "redirect", "big", "direct_small", "direct_big", "profile",
                  *FILE_SCENARIOS):
            secs = r["duration_us"] / 1e6
            for k in ("connect_errors", "read_errors", "write_errors", "timeouts"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
            if r.get("status_errors"):
                bad.append(f"non-2xx/3xx responses: {r['status_errors']}")
            if sc == "keepalive":
                put("ka_rps", r["requests"] / secs)
                put("ka_p50", r["p50_us"] / 1000)
                put("ka_p99", r["p99_us"] / 1000)
                if r.get("cpu_seconds") is not None and r["requests"]:
                    put("cpu_us", r["cpu_seconds"] * 1e6 / r["requests"])
                if r.get("cpu_user_seconds") is not None and r["requests"]:
                    put("cpu_user_us", r["cpu_user_seconds"] * 1e6 / r["requests"])
                    put("cpu_sys_us", r["cpu_sys_seconds"] * 1e6 / r["requests"])
            elif sc == "keepalive_log":
                put("kalog_rps", r["requests"] / secs)
                if r.get("cpu_seconds") is not None and r["requests"]:
                    put("kalog_cpu_us", r["cpu_seconds"] * 1e6 / r["requests"])
                # A proxy that logged fewer lines than it served would look cheap: flag it.
                if "log_lines" in r:
                    if r["log_lines"] < r["log_expected"] - 64:
                        bad.append(f"access log has {r['log_lines']} lines for "
                                   f"{r['log_expected']} requests (warm-up included)")
                    if not r.get("log_json_ok"):
                        bad.append("the access log's last line is not JSON")
                    if r["log_lines"]:
                        put("kalog_line_bytes", r["log_bytes"] / r["log_lines"])
            elif sc == "redirect":
                put("redirect_rps", r["requests"] / secs)
                if r.get("cpu_seconds") is not None and r["requests"]:
                    put("redirect_cpu_us", r["cpu_seconds"] * 1e6 / r["requests"])
            elif sc == "big":
                put("big_mibps", r["bytes"] / secs / (1 << 20))
            elif sc == "direct_small":
                direct.setdefault(w, {})["ka_rps"] = r["requests"] / secs
                direct[w]["ka_p50"] = r["p50_us"] / 1000
                direct[w]["ka_p99"] = r["p99_us"] / 1000
            elif sc == "direct_big":
                direct.setdefault(w, {})["big_mibps"] = r["bytes"] / secs / (1 << 20)
            elif sc == "profile":
                profile[(w, proxy)] = r
            elif sc in FILE_SCENARIOS:
                pre, n = FILE_SCENARIOS[sc], r["requests"]
                per_resp = r["bytes"] / n if n else 0
                figures = bool(n)
                if n and r.get("body_bytes") and per_resp < r["body_bytes"]:
                    # Every static response carries the whole file: fewer bytes than that is
                    # an error page or a cut body, whatever the status counts say.
                    bad.append(f"{per_resp:,.0f} bytes received per response, less than the "
                               f"{r['body_bytes']:,}-byte file: not the file; no figure")
                    figures = False
                if n and r.get("page_bytes") and per_resp > COMPRESSED_MAX_SHARE * r["page_bytes"]:
                    # A benchmark of compression that receives identity bodies measures nothing.
                    bad.append(f"{per_resp:,.0f} bytes received per response for the "
                               f"{r['page_bytes']:,}-byte page: the responses were NOT "
                               f"compressed; no figure")
                    figures = False
                if figures:
                    put(f"{pre}_rps", n / secs)
                    if pre.startswith("static"):
                        put(f"{pre}_mibps", r["bytes"] / secs / (1 << 20))
                    else:
                        put(f"{pre}_resp_bytes", per_resp)
                    if r.get("cpu_seconds") is not None:
                        put(f"{pre}_cpu_us", r["cpu_seconds"] * 1e6 / n)
        elif sc in ("full", "resume"):
            for k in ("bad_status", "short_body", "errors", "timeouts"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
            if r.get("cpu_seconds") is not None and r.get("handshakes"):
                put("full_cpu_us" if sc == "full" else "resumed_cpu_us",
                    r["cpu_seconds"] * 1e6 / r["handshakes"])
            if sc == "full":
                put("full_hs", r["ok"] / r["seconds"])
                if r.get("resumed"):
                    bad.append(f"{r['resumed']} handshakes were resumed in the full-handshake run")
            else:
                put("resumed_hs", r["resumed"] / r["seconds"])
                # The first handshake of each of tlsload's 64 connection slots is a full one.
                later = r["handshakes"] - min(r["handshakes"], 64)
                if later and r["resumed"] < 0.95 * later:
                    bad.append(f"only {r['resumed']} of the {later} handshakes after the first "
                               f"per connection slot resumed")
        elif sc == "idle":
            put("idle_kib", r.get("kib_per_conn"))
            for k in ("bad_status", "errors"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}")
        elif sc == "check":
            bad.extend(r.get("problems", []))
        elif sc == "unsupported" and r.get("sc") in ("ws_idle", "ws_echo"):
            # The proxy did not tunnel a WebSocket (run.sh's probe: the upgrade was answered
            # with something other than 101, or no echo came back): its rows say n/a.
            for key, _, _, _, _ in METRICS:
                if key.startswith("ws_"):
                    NOT_AVAILABLE.setdefault((w, proxy), set()).add(key)
            problems.append(f"workers={w} {proxy}: no WebSocket support, (9) and (10) are n/a "
                            f"({r.get('detail', '')})")
        elif sc == "unsupported" and str(r.get("sc", "")).startswith("h2_"):
            # The proxy did not speak HTTP/2 (run.sh's h2_tool probe: ALPN did not select h2, or
            # the preface/SETTINGS/GET exchange failed): its rows (11)-(13) say n/a.
            for key, _, _, _, _ in METRICS:
                if key.startswith("h2_"):
                    NOT_AVAILABLE.setdefault((w, proxy), set()).add(key)
            problems.append(f"workers={w} {proxy}: no HTTP/2 support, (11)-(13) are n/a "
                            f"({r.get('detail', '')})")
        elif sc == "unsupported" and r.get("sc") in FILE_SCENARIOS:
            # run.sh's pre-flight check of a static-file or compression scenario failed for this
            # proxy (a build without the feature answers the route with an error, proxies it,
            # or sends the page uncompressed; nginx without the brotli module): its cells in
            # that row say n/a, the reason is listed, and it was not run.
            pre = FILE_SCENARIOS[r["sc"]]
            for key, _, _, _, _ in METRICS:
                if key.startswith(pre + "_"):
                    NOT_AVAILABLE.setdefault((w, proxy), set()).add(key)
            problems.append(f"workers={w} {proxy} {r['sc']}: n/a, the pre-flight check failed: "
                            f"{r.get('detail', '')}")
        elif sc == "unsupported":
            # This build cannot run that variant (keepalive_log: no access_log in the config).
            for key, _, _, _, _ in METRICS:
                if key.startswith("kalog_"):
                    NOT_AVAILABLE.setdefault((w, proxy), set()).add(key)
            problems.append(f"workers={w} {proxy} {r.get('sc')}: n/a, this build rejects the "
                            f"config: {r.get('detail', '')}")
        elif sc in ("ws_echo", "direct_ws"):
            for k in ("handshake_failed", "connect_errors", "tls_errors", "timeouts",
                      "closed_by_peer", "bad_echo"):
                if r.get(k):
                    bad.append(f"{k.replace('_', ' ')}: {r[k]}" +
                               (f" ({r['detail']})" if r.get("detail") else ""))
            if r.get("open", 0) < r.get("connections", 0):
                bad.append(f"only {r.get('open', 0)} of {r['connections']} WebSockets opened")
            if r.get("seconds"):
                rtps = r["round_trips"] / r["seconds"]
                if sc == "direct_ws":
                    direct.setdefault(w, {})["ws_rtps"] = rtps
                    direct[w]["ws_p99"] = r["p99_us"] / 1000
                else:
                    put("ws_rtps", rtps)
                    put("ws_p99", r["p99_us"] / 1000)
                    if r.get("cpu_seconds") is not None and r["round_trips"]:
                        put("ws_cpu_us", r["cpu_seconds"] * 1e6 / r["round_trips"])
        elif sc in ("h2_small", "h2_large"):
            if r.get("detail"):
                bad.append(f"h2load: {r['detail']}")
            for k in ("failed", "errored", "timeout"):
                if r.get(k):
                    bad.append(f"h2load {k} requests: {r[k]}")
            if r.get("status_other"):
                bad.append(f"non-2xx responses: {r['status_other']}")
            if r.get("protocol") not in (None, "h2"):
                bad.append(f"h2load negotiated {r['protocol']}, not h2")
            ok, secs = r.get("succeeded") or 0, r.get("seconds")
            if r.get("rc") not in (0, None) and "detail" not in r:
                bad.append(f"h2load exit status {r['rc']}")
            # No figure from a run where nothing succeeded (the row then shows "—" and the
            # failures above), nor from one timeout(1) had to stop.
            if ok and secs and r.get("rc") not in (124, 137):
                if sc == "h2_small":
                    put("h2_rps", ok / secs)
                    if r.get("p99_us") is not None:
                        put("h2_p99", r["p99_us"] / 1000)
                    if r.get("cpu_seconds") is not None:
                        put("h2_cpu_us", r["cpu_seconds"] * 1e6 / ok)
                else:
                    put("h2_big_mibps", r.get("bytes_data", 0) / secs / (1 << 20))
                    if r.get("bytes_data", 0) < ok * (1 << 20):
                        bad.append(f"{r.get('bytes_data', 0)} response bytes for {ok} 1 MiB responses")
        elif sc in ("ws_idle", "h2_idle"):
            put("ws_idle_kib" if sc == "ws_idle" else "h2_idle_kib", r.get("kib_per_conn"))
            if "rc" in r:  # ws_tool gave up before holding anything (bench.py ws_idle)
                bad.append(f"no measurement: ws_tool idle exited {r['rc']} "
                           f"({r.get('detail') or r.get('stderr', '')})")
            what = "WebSockets" if sc == "ws_idle" else "HTTP/2 connections"
            if r.get("errors"):
                bad.append(f"{r['errors']} of {r.get('requested')} {what} did not open"
                           + (f" ({r['detail']})" if r.get("detail") else ""))
            if r.get("closed_while_idle"):
                bad.append(f"{r['closed_while_idle']} {what} were closed while idle")
        elif sc == "log":
            last = " | ".join(l.strip() for l in r.get("last", "").strip().splitlines()[-2:])
            bad.append(f"the proxy logged {r['lines']} warning/error line(s) during the "
                       f"{r['sc']} scenario; last: `{last[:240]}`")
        where = r.get("sc", sc) if sc == "log" else sc
        if multi and rnd >= 1 and sc not in ("check", "profile") and where != "profile":
            where += f" round {rnd}"
        for b in bad:
            problems.append(f"workers={w} {proxy} {where}: {b}")
    return table, direct, problems, profile


def aggregate(per_round):
    """The median of a metric's rounds (with two rounds: their mean); None when there is none."""
    vals = [v for v in (per_round or {}).values() if v is not None]
    return statistics.median(vals) if vals else None


def agg_name(n):
    return {1: "single run", 2: "mean of 2 rounds"}.get(n, f"median of {n} rounds")


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


def round_ratios(table, w, key, higher):
    """[(round, Portcullis ÷ best other in that round)] for the rounds every proxy ran."""
    per = [table.get((w, p), {}).get(key, {}) for p, _ in PROXIES]
    out = []
    for rnd in sorted(per[0]):
        ratio, _, _ = ratio_cell(key, higher, None, per[0].get(rnd), [o.get(rnd) for o in per[1:]])
        if ratio is not None:
            out.append((rnd, ratio))
    return out


def spread_text(ratios):
    if len(ratios) <= 1:
        return "—"
    if len(ratios) <= 4:
        return ", ".join(f"{x:.2f}" for _, x in ratios)
    xs = [x for _, x in ratios]
    return f"{min(xs):.2f}–{max(xs):.2f}"


def where_time_goes(table, profile, profile_secs):
    """The BENCH_PROFILE=1 section: CPU split and syscalls per request, keep-alive, 1 worker."""
    md = ["\n## Where the time goes (keep-alive, small responses, 1 worker)\n"]
    md.append("| Proxy | CPU µs/req, user | CPU µs/req, system | system share | syscalls/req | "
              "failed syscalls/req | most frequent syscalls, per request | req/s under strace |")
    md.append("|---|--:|--:|--:|--:|--:|---|--:|")
    for p, name in PROXIES:
        m = table.get((1, p), {})
        user, system = aggregate(m.get("cpu_user_us")), aggregate(m.get("cpu_sys_us"))
        r = profile.get((1, p))
        if user is None and r is None:
            continue
        cells = [name,
                 "—" if user is None else f"{user:.1f}",
                 "—" if system is None else f"{system:.1f}",
                 "—" if user is None or not (user + system) else f"{system / (user + system):.0%}"]
        st = (r or {}).get("strace")
        if st and r.get("requests"):
            n = r["requests"]
            top = sorted(st["calls"].items(), key=lambda kv: -kv[1])[:6]
            cells += [f"{st['total_calls'] / n:.2f}", f"{st['total_errors'] / n:.2f}",
                      ", ".join(f"{k} {v / n:.2f}" for k, v in top),
                      f"{n / (r['duration_us'] / 1e6):,.0f}"]
        else:
            cells += ["—", "—", "—" if r is None else "(strace gave no summary)", "—"]
        md.append("| " + " | ".join(cells) + " |")
    md.append(
        "\nUser and system CPU: `utime` and `stime` (fields 14 and 15 of `/proc/PID/stat`, all "
        "threads, whole process tree) read before and after each timed keep-alive round of (2) "
        "above (not traced), divided by the requests of that round; the median of the rounds "
        "(clock-tick resolution, 10 ms per read). Syscalls: a separate, untimed keep-alive run "
        f"(the same wrk command, {profile_secs} s) on a freshly started and warmed-up proxy with "
        "`strace -c -f` attached to every process of it (nginx: master and worker), divided by "
        "the requests wrk completed in that run. \"Failed\" syscalls are mostly `EAGAIN` reads "
        "on non-blocking sockets. strace stops the proxy at every syscall, so the proxy runs "
        "several times slower (last column) and each wake-up finds more work ready: counts of "
        "`epoll_wait`-type calls per request are lower than at full speed; read and write "
        "counts per request are close to the untraced ones.")
    return md


def report(args):
    rows = [json.loads(line) for line in open(args.results) if line.strip()]
    table, direct, problems, profile = derive(rows)
    machine = open(args.machine).read().strip() if args.machine else ""
    workers = sorted({r["workers"] for r in rows if r["proxy"] != "direct"
                      and r["scenario"] not in ("profile", "log", "check")} or
                     {r["workers"] for r in rows if r["proxy"] != "direct"})
    n_rounds = max([r.get("round", 1) for r in rows
                    if r["scenario"] in ("keepalive", "keepalive_log", "full", "resume", "redirect", "big",
                                          "ws_echo", "h2_small", "h2_large", *FILE_SCENARIOS)]
                   or [1])
    md = []
    tsv = ["workers\tround\tmetric\tunit\tbetter\tdirect\tportcullis\tnginx\thaproxy\tratio\ttarget\tmet"]
    title = "Portcullis benchmark" + (" (QUICK MODE: short runs, not for publishing)" if args.quick else "")
    md.append(f"# {title}\n")
    md.append(machine + "\n")
    md.append("Ratio = Portcullis ÷ the best of nginx and HAProxy in the same run. For req/s, "
              "handshakes/s and MiB/s higher is better (target: ratio ≥ target); for latency, "
              "memory and CPU **lower is better** (target: ratio ≤ target). \"direct\" is wrk "
              "straight to one upstream nginx over plain HTTP: the ceiling, no TLS, no proxy; for "
              "(10), ws_tool straight to one echo server over plain TCP.\n")
    if n_rounds > 1:
        md.append(f"Rounds: every timed scenario ran {n_rounds} times per proxy and worker count, "
                  "the proxies alternating (Portcullis, nginx, HAProxy, Portcullis, nginx, "
                  "HAProxy, ...), each round on a freshly started and warmed-up proxy. Each "
                  f"figure is the {agg_name(n_rounds)} of that proxy (for more than 2 rounds: "
                  "the median) and the ratio compares those; \"per round\" is Portcullis ÷ best "
                  "other within each round, in order (more than 4 rounds: min–max), which shows "
                  "how stable the ratio is. Idle memory, (7), (9) and (13), is a single run. \"met (k of n)\" "
                  "means the rounds disagree: k of the n per-round ratios met the target.\n")
    for w in workers:
        md.append(f"\n## {w} worker{'s' if w > 1 else ''} / thread{'s' if w > 1 else ''} per proxy\n")
        head = ("| Scenario | Unit | Better | direct | Portcullis | nginx | HAProxy "
                "| Portcullis ÷ best other |")
        rule = "|---|---|---|--:|--:|--:|--:|--:|"
        if n_rounds > 1:
            head += " per round |"
            rule += "--:|"
        md.append(head + " Target | Met |")
        md.append(rule + "--:|---|")
        for key, label, unit, higher, target in METRICS:
            per = [table.get((w, p), {}).get(key) for p, _ in PROXIES]
            vals = [aggregate(x) for x in per]
            ratio, rtxt, mtxt = ratio_cell(key, higher, target, vals[0], vals[1:])
            rr = round_ratios(table, w, key, higher)
            if target is not None and len(rr) > 1 and ratio is not None:
                k = sum(1 for _, x in rr if (x >= target if higher else x <= target))
                if 0 < k < len(rr):
                    mtxt += f" ({k} of {len(rr)})"
            d = direct.get(1, {}).get(key)
            ttxt = "—" if target is None else (f"≥ {target}x" if higher else f"≤ {target}x")
            better = "higher" if higher else "lower"
            na = [key in NOT_AVAILABLE.get((w, p), ()) for p, _ in PROXIES]
            if not any(x is not None for x in vals) and not any(na):
                continue  # a scenario not run (BENCH_SCENARIOS), or not at this worker count
            row = (f"| {label} | {unit} | {better} | {fmt(d, key)} | "
                   + " | ".join("n/a" if n else fmt(v, key) for v, n in zip(vals, na))
                   + f" | {'n/a' if na[0] else rtxt} |")
            if n_rounds > 1:
                row += f" {spread_text(rr)} |"
            md.append(row + f" {ttxt} | {mtxt} |")

            def tsv_row(rnd, vs, rt):
                met = ""
                if target is not None and rt is not None:
                    met = "met" if (rt >= target if higher else rt <= target) else "not met"
                return "\t".join([str(w), rnd, key, unit, better, "" if d is None else f"{d:.3f}"]
                                 + ["" if v is None else f"{v:.3f}" for v in vs]
                                 + ["" if rt is None else f"{rt:.3f}",
                                    "" if target is None else str(target), met])
            # "all": the aggregate (median of the rounds; the mean of two), then each round.
            tsv.append(tsv_row("all", vals, ratio))
            rounds_here = sorted({rnd for x in per if x for rnd in x})
            if len(rounds_here) > 1:
                for rnd in rounds_here:
                    vs = [(x or {}).get(rnd) for x in per]
                    rt, _, _ = ratio_cell(key, higher, None, vs[0], vs[1:])
                    tsv.append(tsv_row(str(rnd), vs, rt))
    for w in workers:
        lb = [aggregate(table.get((w, p), {}).get("kalog_line_bytes")) for p, _ in PROXIES]
        if any(v is not None for v in lb):
            md.append(f"\n(2L)/(8L), {w} worker(s): the access log's mean line length: " +
                      ", ".join(f"{name} {v:.0f} bytes" for (_, name), v in zip(PROXIES, lb)
                                if v is not None) +
                      ". HAProxy is not in this row (it logs to syslog or stdout, not to a file).")
    md.extend(client_section(table, workers))
    if profile or args.profile_seconds:
        md.extend(where_time_goes(table, profile, args.profile_seconds or "a few"))
    md.append("\n## Errors and checks\n")
    if problems:
        md.append("Every wrk run's socket errors and non-2xx/3xx count, every tlsload run's "
                  "failed or non-200 connections, and the pre-flight checks:\n")
        md.extend(f"- {p}" for p in problems)
    else:
        md.append("None: no wrk socket errors or non-2xx/3xx responses, every tlsload connection "
                  "got a complete 200, every resumed-mode handshake after the first per "
                  "connection slot was resumed, every full-mode one was full, every WebSocket "
                  "opened, stayed open and echoed correctly, every h2load request succeeded over "
                  "h2, every idle HTTP/2 connection opened and stayed open, and the pre-flight "
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
            tsv.append("\t".join(["micro", "all", b["name"], "ns/op", "lower", "",
                                  f"{b['cpu_time'] * scale:.3f}", "", "", "", "", ""]))
    text = "\n".join(md) + "\n"
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".tsv", "w") as f:
        f.write("\n".join(tsv) + "\n")
    print(text)
    chart({k: {m: aggregate(v) for m, v in ms.items()} for k, ms in table.items()},
          workers, args.out + ".png")


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
            # Rows 14-17 have no HAProxy: chart a row when Portcullis and one other have it.
            if vals[0] is None or all(v is None for v in vals[1:]):
                continue
            present = [v for v in vals if v is not None]
            best = max(present) if higher else min(present)
            labels.append(f"{key}\n({'higher' if higher else 'lower'} better)")
            for (p, _), v in zip(PROXIES, vals):
                series[p].append(v / best if best and v is not None else 0)
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
    p.add_argument("--split", action="store_true")
    p = sub.add_parser("pids"); p.add_argument("pid", type=int)
    p = sub.add_parser("stracejson"); p.add_argument("file")
    p = sub.add_parser("rss"); p.add_argument("pid", type=int)
    p = sub.add_parser("waitport"); p.add_argument("port", type=int)
    p.add_argument("seconds", type=float, nargs="?", default=10)
    p = sub.add_parser("idle")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=5000)
    p.add_argument("--settle", type=float, default=2.5)
    p = sub.add_parser("h2loadjson"); p.add_argument("out")
    p.add_argument("--log"); p.add_argument("--rc", type=int, default=0)
    p.add_argument("--limit", type=int, default=0)
    for name in ("wsidle", "h2idle"):
        p = sub.add_parser(name)
        p.add_argument("--pid", type=int, required=True)
        p.add_argument("--tool", required=True)
        p.add_argument("--url", required=True)
        p.add_argument("--conns", type=int, default=5000)
        p.add_argument("--settle", type=float, default=2.5)
        # Upper bound only: the connections are released (SIGTERM) as soon as RSS has been read.
        p.add_argument("--hold", type=float, default=120)
    p = sub.add_parser("html"); p.add_argument("out")
    p.add_argument("--size", type=int, default=102400)
    p = sub.add_parser("bodycheck")
    p.add_argument("--headers", required=True); p.add_argument("--body", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--encoding", choices=("identity", "gzip", "br"), default="identity")
    p.add_argument("--what", default="response")
    p = sub.add_parser("report")
    p.add_argument("results"); p.add_argument("out")
    p.add_argument("--machine"); p.add_argument("--micro"); p.add_argument("--quick", action="store_true")
    p.add_argument("--profile-seconds", type=int, default=0)
    args = ap.parse_args()
    if args.cmd == "cpu":
        if args.split:
            print("%.2f %.2f" % cpu_split(args.pid))
        else:
            print(f"{cpu_seconds(args.pid):.2f}")
    elif args.cmd == "pids":
        print("\n".join(str(p) for p in descendants(args.pid)))
    elif args.cmd == "stracejson":
        print(json.dumps(parse_strace(args.file)))
    elif args.cmd == "rss":
        print(rss_kib(args.pid))
    elif args.cmd == "waitport":
        sys.exit(wait_port(args.port, args.seconds))
    elif args.cmd == "idle":
        asyncio.run(idle_main(args))
    elif args.cmd in ("wsidle", "h2idle"):
        # The same measurement; h2_tool idle speaks ws_tool idle's JSON lines and exit codes.
        ws_idle(args)
    elif args.cmd == "h2loadjson":
        h2load_json(args)
    elif args.cmd == "html":
        with open(args.out, "wb") as f:
            f.write(html_page(args.size))
    elif args.cmd == "bodycheck":
        sys.exit(body_check(args))
    elif args.cmd == "report":
        report(args)


if __name__ == "__main__":
    main()
