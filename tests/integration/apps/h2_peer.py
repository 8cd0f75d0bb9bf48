"""A scriptable HTTP/2 client for Portcullis's HTTP/2 integration tests (tests/integration/http2_test.cc).

It speaks HTTP/2 frame by frame (hyperframe for the framing, hpack for header blocks, from
Debian's python3-h2), so it can send what a well-behaved client never would: malformed request
heads, content-length that disagrees with the DATA, and the floods of the known HTTP/2 attacks.
TLS with ALPN h2 from Python's ssl module; the test certificate is not verified.

Run with /usr/bin/python3 (where python3-h2 installs). One run is one connection (plus nothing
else); what happened goes to stdout, one event per line, for the C++ side to parse
(harness/h2_peer.cc):

  alpn <protocol>
  settings <name>=<value> ...          the server's SETTINGS (first one)
  response <sid> <status>              a response head (final, not 1xx)
  header <sid> <name> <value...>       each of its fields, in order, names as received
  end <sid> <t_ms> <body_len>          the response ended (END_STREAM)
  body <sid> <hex>                     its body, hex (only bodies up to 64 KiB)
  data <sid> <body_len>                body bytes received so far (noread scenario)
  reset <sid> <code> <t_ms>            RST_STREAM from the server
  goaway <code> <last_sid> <t_ms>      GOAWAY from the server
  eof <t_ms>                           the server closed the connection (clean close or reset)
  mark <name> <t_ms>                   a point in the scenario (flood_start, flood_end,
                                       send_failed, stall_start, stall_end, cancel_<sid>,
                                       client_goaway)
  value <name> <v>                     a number the scenario measured (e.g. flood_frames)
  timeout <t_ms>                       the scenario's deadline passed first
  error <message>                      the script itself failed (exit status 2)

Times are milliseconds since the TLS handshake completed.

Scenarios (--scenario):
  requests   sends each --req (a JSON object, see Request below) on its own stream, all at once
             unless a request says "after_prev", and reads until every stream ended (response or
             reset); with --until-eof, then reads on until the server closes.
  flood      --kind rapid_reset | continuation | ping | settings | empty_data | streams |
             malformed | window_update | priority:
             floods the connection with --count frames (or streams) and reads until the server
             closes or the deadline passes.
  noread     --mode zero_window: SETTINGS_INITIAL_WINDOW_SIZE 0, one GET, then reads everything
             (no WINDOW_UPDATE is ever sent) until the stream or the connection ends. --mode no_read: huge windows, one GET, then does not
             read at all for --stall-ms, then reads until the server closes.
"""

import argparse
import json
import select
import socket
import ssl
import sys
import time

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, PriorityFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_WINDOW = 2**31 - 1
CANCEL = 0x8
FRAME_TYPE_HEADERS = 0x1
FRAME_TYPE_CONTINUATION = 0x9
SETTINGS_NAMES = {
    0x1: "header_table_size",
    0x2: "enable_push",
    0x3: "max_concurrent_streams",
    0x4: "initial_window_size",
    0x5: "max_frame_size",
    0x6: "max_header_list_size",
    0x8: "enable_connect_protocol",
}


def emit(*parts):
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


class Closed(Exception):
    pass


class Conn:
    """One client connection: raw frames out, frames in, events printed as they arrive."""

    def __init__(self, port, authority, timeout, sni="localhost"):
        """`sni`: the TLS server name sent (None or "": no SNI extension at all)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni or None)
        self.t0 = time.monotonic()
        self.authority = authority
        emit("alpn", self.sock.selected_alpn_protocol() or "none")
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 24
        self.dec.max_allowed_table_size = 1 << 16
        self.inbuf = b""
        self.eof = False
        self.goaway = None  # (code, last_sid)
        self.server_settings = None
        self.auto_ack_settings = True
        self.streams = {}  # sid -> dict(status, body, ended, reset)
        self.pending_block = None  # (sid, fragments, end_stream) while CONTINUATIONs are due
        self.next_sid = 1
        self.send_failed = None
        self.report_data = False
        self.timers = []  # (monotonic deadline, action)

    def ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    # --- sending

    def send(self, data):
        """Sends bytes; on failure (the server closed) remembers why and returns False."""
        if self.send_failed:
            return False
        try:
            self.sock.sendall(data)
            return True
        except (OSError, ssl.SSLError) as e:
            self.send_failed = repr(e)
            emit("mark", "send_failed", self.ms())
            return False

    def preface(self, settings=None, conn_window_increment=0):
        out = PREFACE + SettingsFrame(0, settings or {}).serialize()
        if conn_window_increment:
            out += WindowUpdateFrame(0, window_increment=conn_window_increment).serialize()
        return self.send(out)

    def header_frames(self, sid, block, end_stream, max_frame=16384):
        """HEADERS (+ CONTINUATION) frames carrying `block`."""
        chunks = [block[i:i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
        frames = []
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            if i == 0:
                f = HeadersFrame(sid, data=chunk)
                if end_stream:
                    f.flags.add("END_STREAM")
            else:
                f = ContinuationFrame(sid, data=chunk)
            if last:
                f.flags.add("END_HEADERS")
            frames.append(f.serialize())
        return b"".join(frames)

    def new_stream(self):
        sid = self.next_sid
        self.next_sid += 2
        self.streams[sid] = {"status": None, "body": bytearray(), "ended": False, "reset": None}
        return sid

    # --- receiving

    def _read_some(self, timeout):
        """Reads what arrives within `timeout` into inbuf. False on timeout."""
        if self.eof:
            return False
        if self.sock.pending() == 0:
            r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not r:
                return False
        self.sock.settimeout(max(0.05, timeout))
        try:
            data = self.sock.recv(1 << 20)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.eof = True
            emit("eof", self.ms())
            return False
        self.inbuf += data
        return True

    def _parse_frames(self):
        buf = self.inbuf
        pos = 0
        while len(buf) - pos >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[pos:pos + 9]))
            if len(buf) - pos < 9 + length:
                break
            frame.parse_body(memoryview(buf[pos + 9:pos + 9 + length]))
            pos += 9 + length
            self._on_frame(frame)
        self.inbuf = buf[pos:]

    def _on_frame(self, f):
        if isinstance(f, SettingsFrame):
            if "ACK" not in f.flags:
                if self.server_settings is None:
                    self.server_settings = dict(f.settings)
                    emit("settings", *("%s=%d" % (SETTINGS_NAMES.get(k, str(k)), v)
                                       for k, v in sorted(f.settings.items())))
                if self.auto_ack_settings:
                    self.send(SettingsFrame(0, flags=["ACK"]).serialize())
        elif isinstance(f, PingFrame):
            if "ACK" not in f.flags:
                self.send(PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]).serialize())
        elif isinstance(f, GoAwayFrame):
            self.goaway = (f.error_code, f.last_stream_id)
            emit("goaway", f.error_code, f.last_stream_id, self.ms())
        elif isinstance(f, RstStreamFrame):
            s = self.streams.get(f.stream_id)
            if s is not None:
                s["reset"] = f.error_code
            emit("reset", f.stream_id, f.error_code, self.ms())
        elif isinstance(f, HeadersFrame):
            self.pending_block = (f.stream_id, [bytes(f.data)], "END_STREAM" in f.flags)
            if "END_HEADERS" in f.flags:
                self._on_block()
        elif isinstance(f, ContinuationFrame):
            if self.pending_block is not None:
                self.pending_block[1].append(bytes(f.data))
                if "END_HEADERS" in f.flags:
                    self._on_block()
        elif isinstance(f, DataFrame):
            s = self.streams.get(f.stream_id)
            if s is not None:
                s["body"] += f.data
                if self.report_data:
                    emit("data", f.stream_id, len(s["body"]))
            if "END_STREAM" in f.flags:
                self._on_end(f.stream_id)

    def _on_block(self):
        sid, fragments, end_stream = self.pending_block
        self.pending_block = None
        fields = self.dec.decode(b"".join(fragments), raw=True)
        s = self.streams.get(sid)
        status = None
        for name, value in fields:
            if name == b":status":
                status = int(value)
        if s is not None and status is not None and status >= 200:
            s["status"] = status
            emit("response", sid, status)
            for name, value in fields:
                if not name.startswith(b":"):
                    emit("header", sid, name.decode("latin-1"), value.decode("latin-1"))
        if end_stream:
            self._on_end(sid)

    def _on_end(self, sid):
        s = self.streams.get(sid)
        if s is None or s["ended"]:
            return
        s["ended"] = True
        emit("end", sid, self.ms(), len(s["body"]))
        if len(s["body"]) <= 65536:
            emit("body", sid, bytes(s["body"]).hex() or "-")

    def pump(self, timeout):
        """Reads and handles whatever arrives within `timeout` (0: only what is there)."""
        got = self._read_some(timeout)
        # Drain what is already there without waiting again.
        while got:
            self._parse_frames()
            got = self._read_some(0)
        self._parse_frames()

    def pump_until(self, done, deadline):
        while not done() and not self.eof:
            self.run_timers()
            left = deadline - time.monotonic()
            if left <= 0:
                emit("timeout", self.ms())
                return False
            due = [t for t, _ in self.timers]
            step = min([left, 0.2] + [max(0.0, t - time.monotonic()) for t in due])
            self.pump(step)
        return done()

    def at(self, delay_ms, action):
        """Runs `action` once `delay_ms` have passed (from within pump_until)."""
        self.timers.append((time.monotonic() + delay_ms / 1000.0, action))

    def run_timers(self):
        now = time.monotonic()
        due = [a for t, a in self.timers if t <= now]
        self.timers = [(t, a) for t, a in self.timers if t > now]
        for action in due:
            action()

    def stream_done(self, sid):
        s = self.streams[sid]
        return s["ended"] or s["reset"] is not None or s.get("cancelled", False)


# --- requests

def request_block(conn, req):
    """The HPACK block of request `req` (see Request in --help)."""
    if "fields" in req:
        fields = [tuple(f) for f in req["fields"]]
    else:
        fields = [(":method", req.get("method", "GET")),
                  (":scheme", req.get("scheme", "https")),
                  (":authority", req.get("authority", conn.authority)),
                  (":path", req.get("path", "/"))]
        fields += [tuple(h) for h in req.get("headers", [])]
    body = request_body(req)
    if body and req.get("cl", True) and "content_length" not in req:
        fields.append(("content-length", str(len(body))))
    if "content_length" in req:
        fields.append(("content-length", str(req["content_length"])))
    if req.get("big_header"):
        fields.append(("x-big", "a" * int(req["big_header"])))
    return conn.enc.encode(fields), body


def request_body(req):
    if "body" in req:
        return req["body"].encode("latin-1")
    return b"x" * int(req.get("body_size", 0))


def send_request(conn, req):
    sid = conn.new_stream()
    block, body = request_block(conn, req)
    # A request that names a body (even an empty one) ends with a DATA frame, else with its
    # HEADERS; one with trailers ends with those.
    has_body = "body" in req or int(req.get("body_size", 0)) > 0
    open_ = req.get("open", False) or bool(req.get("trailers"))
    end_on_headers = not has_body and not open_
    out = conn.header_frames(sid, block, end_on_headers)
    if not end_on_headers:
        for i in range(0, len(body), 16384):
            chunk = body[i:i + 16384]
            f = DataFrame(sid, data=chunk)
            if i + 16384 >= len(body) and not open_:
                f.flags.add("END_STREAM")
            out += f.serialize()
        if not body and not open_:
            out += DataFrame(sid, data=b"", flags=["END_STREAM"]).serialize()
    if req.get("trailers"):
        out += conn.header_frames(sid, conn.enc.encode([tuple(t) for t in req["trailers"]]), True)
    conn.send(out)
    if req.get("rst_after_ms") is not None:
        def cancel():
            conn.streams[sid]["cancelled"] = True
            emit("mark", "cancel_%d" % sid, conn.ms())
            conn.send(RstStreamFrame(sid, error_code=CANCEL).serialize())
        conn.at(req["rst_after_ms"], cancel)
    return sid


def scenario_requests(conn, args, deadline):
    conn.preface({SettingsFrame.INITIAL_WINDOW_SIZE: MAX_WINDOW}, MAX_WINDOW - 65535)
    reqs = [json.loads(r) for r in args.req]
    sids = []
    if args.goaway_after_ms is not None:
        def goaway():
            emit("mark", "client_goaway", conn.ms())
            conn.send(GoAwayFrame(0, last_stream_id=0, error_code=0).serialize())
        conn.at(args.goaway_after_ms, goaway)
    for req in reqs:
        if req.get("after_prev") and sids:
            conn.pump_until(lambda: all(conn.stream_done(s) for s in sids), deadline)
        if req.get("after_ms"):
            conn.pump_until(lambda: False, min(deadline, time.monotonic() + req["after_ms"] / 1000.0))
        sids.append(send_request(conn, req))
        conn.pump(0)
    conn.pump_until(lambda: all(conn.stream_done(s) for s in sids) and not conn.timers, deadline)
    if args.until_eof:
        conn.pump_until(lambda: conn.eof, deadline)


# --- floods

def flood_frames(conn, kind, i):
    """The bytes of flood step i (one frame, or one stream's frames)."""
    if kind == "rapid_reset":
        sid = conn.new_stream()
        block, _ = request_block(conn, {"path": "/rapid/%d" % i})
        return (conn.header_frames(sid, block, True) +
                RstStreamFrame(sid, error_code=CANCEL).serialize())
    if kind == "ping":
        return PingFrame(0, opaque_data=i.to_bytes(8, "big")).serialize()
    if kind == "settings":
        return SettingsFrame(0, {SettingsFrame.ENABLE_PUSH: 0}).serialize()
    if kind == "empty_data":
        return DataFrame(1, data=b"").serialize()
    if kind == "continuation":
        return ContinuationFrame(1, data=b"a" * 100).serialize()
    if kind == "streams":
        sid = conn.new_stream()
        block, _ = request_block(conn, {"method": "POST", "path": "/stream/%d" % i})
        return conn.header_frames(sid, block, False)
    if kind == "malformed":
        # Streams the server must reset itself (CVE-2025-8671, "MadeYouReset"): free for the client.
        sid = conn.new_stream()
        block, _ = request_block(conn, {"path": "/malformed/%d" % i, "headers": [["connection", "keep-alive"]]})
        return conn.header_frames(sid, block, True)
    if kind == "window_update":
        return WindowUpdateFrame(0, window_increment=1).serialize()
    if kind == "priority":
        return PriorityFrame(2 * i + 1, depends_on=0, stream_weight=16).serialize()
    raise ValueError("unknown flood kind " + kind)


def flood_prologue(conn, kind):
    """What goes before the flood proper: the stream the frames belong to."""
    if kind == "empty_data":
        sid = conn.new_stream()
        block, _ = request_block(conn, {"method": "POST", "path": "/upload"})
        return conn.header_frames(sid, block, False)
    if kind == "continuation":
        sid = conn.new_stream()
        block, _ = request_block(conn, {"path": "/continuation"})
        # A literal field without indexing, new name "x-a", whose value claims 60,000 bytes (under
        # the HPACK decoder's own 64 KiB field cap): the CONTINUATIONs carry that value for ever.
        block += b"\x00\x03x-a" + b"\x7f" + encode_hpack_int(60000 - 127)
        f = HeadersFrame(sid, data=block)  # no END_HEADERS
        return f.serialize()
    return b""


def encode_hpack_int(n):
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def scenario_flood(conn, args, deadline):
    if args.kind == "window_update":
        conn.preface()  # default windows: the flood's increments must not overflow them
    else:
        conn.preface({SettingsFrame.INITIAL_WINDOW_SIZE: MAX_WINDOW}, MAX_WINDOW - 65535)
    if args.kind == "streams":
        # The limit applies once the server's SETTINGS are acknowledged: wait for them (the
        # ACK goes out from pump) so the excess streams meet the acknowledged limit.
        conn.pump_until(lambda: conn.server_settings is not None, deadline)
        value = conn.server_settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS) if conn.server_settings else None
        emit("value", "max_concurrent_streams", value if value is not None else -1)
    conn.send(flood_prologue(conn, args.kind))
    emit("mark", "flood_start", conn.ms())
    sent = 0
    batch = max(1, args.batch)
    while sent < args.count and conn.goaway is None and not conn.eof and not conn.send_failed:
        if time.monotonic() > deadline:
            break
        n = min(batch, args.count - sent)
        if not conn.send(b"".join(flood_frames(conn, args.kind, sent + k) for k in range(n))):
            break
        sent += n
        conn.pump(0)
    emit("value", "flood_frames", sent)
    emit("mark", "flood_end", conn.ms())
    conn.pump_until(lambda: conn.eof, deadline)


# --- clients that do not read

def scenario_noread(conn, args, deadline):
    path = args.path
    if args.mode == "zero_window":
        conn.preface({SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        sid = send_request(conn, {"path": path})
        conn.report_data = True
        # Reads everything and never opens the window: the response head can come, its body not.
        conn.pump_until(lambda: conn.eof or conn.stream_done(sid), deadline)
    else:
        conn.preface({SettingsFrame.INITIAL_WINDOW_SIZE: MAX_WINDOW}, MAX_WINDOW - 65535)
        sid = send_request(conn, {"path": path})
        emit("mark", "stall_start", conn.ms())
        time.sleep(args.stall_ms / 1000.0)
        emit("mark", "stall_end", conn.ms())
        conn.pump_until(lambda: conn.eof or conn.stream_done(sid), deadline)
        if not conn.eof:
            conn.pump_until(lambda: conn.eof, deadline)
    emit("value", "body_bytes", len(conn.streams[sid]["body"]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="localhost")
    p.add_argument("--scenario", required=True, choices=["requests", "flood", "noread"])
    p.add_argument("--timeout-ms", type=int, default=10000, help="bound on the whole scenario")
    p.add_argument("--req", action="append", default=[],
                   help="Request: JSON object with method, path, authority, scheme, headers "
                        "([[name, value], ...]), fields (the whole head instead), body or body_size, "
                        "cl (false: no content-length), content_length (sent as given), big_header "
                        "(an x-big field of that many bytes), open (no END_STREAM), after_prev "
                        "(send once the previous streams ended), after_ms (wait first, reading), trailers "
                        "([[name, value], ...] after the body), rst_after_ms (RST_STREAM CANCEL this "
                        "long after sending)")
    p.add_argument("--until-eof", action="store_true")
    p.add_argument("--goaway-after-ms", type=int, default=None,
                   help="requests: send GOAWAY(NO_ERROR) this long after the start")
    p.add_argument("--kind", default="ping")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--mode", default="zero_window", choices=["zero_window", "no_read"])
    p.add_argument("--path", default="/")
    p.add_argument("--stall-ms", type=int, default=3000)
    args = p.parse_args()

    deadline = time.monotonic() + args.timeout_ms / 1000.0
    try:
        conn = Conn(args.port, args.authority, args.timeout_ms / 1000.0)
    except (OSError, ssl.SSLError) as e:
        emit("error", "connect:", repr(e))
        return 2
    try:
        {"requests": scenario_requests, "flood": scenario_flood, "noread": scenario_noread}[args.scenario](
            conn, args, deadline)
    except Exception as e:  # a bug in this script, reported rather than hidden
        emit("error", type(e).__name__, str(e).replace("\n", " "))
        return 2
    finally:
        try:
            conn.sock.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
