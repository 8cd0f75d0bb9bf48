"""An HTTP/2 client that speaks WebSocket over HTTP/2 (RFC 8441), for
tests/integration/http2_websocket_test.cc.

It reuses h2_peer.py's connection (hyperframe framing, hpack header blocks, TLS with ALPN h2 from
Python's ssl module, the certificate not verified) and adds what a tunnel needs: extended CONNECT
(":protocol" is sent as is, no validation in the way), send-side flow control (the server's
windows, so a 1 MiB message goes out as the proxy lets it), and RFC 6455 framing inside the
stream's DATA (client frames masked, server frames parsed and reassembled).

One run is one connection, driven by --step arguments run in order (NAME names a stream):

  ws NAME PATH [SUBPROTOCOL]   extended CONNECT: :method CONNECT, :protocol websocket,
                               :scheme https, :path PATH, :authority, sec-websocket-version 13
  get NAME PATH [AUTHORITY]    an ordinary GET (END_STREAM on its HEADERS)
  head NAME                    waits until NAME has a response head, ended or was reset
  text NAME STRING             sends a text message (one masked frame)
  binary NAME SIZE SEED        sends a binary message of SIZE pattern bytes (one masked frame)
  close NAME CODE              sends a close frame with CODE
  recv NAME [COUNT]            waits until COUNT (default 1) more messages than earlier recv
                               steps waited for have arrived on NAME (control frames count,
                               each on its own)
  end NAME                     an empty DATA frame with END_STREAM (the client's half-close)
  rst NAME                     RST_STREAM CANCEL
  done NAME                    waits until NAME ended (END_STREAM) or was reset
  sleep MS                     reads for MS
  wait_file PATH               reads until PATH exists (the test says when to go on)

Events, one per line, besides h2_peer.py's (alpn, settings, response, header, end, body, reset,
goaway, eof, timeout, error):

  stream NAME SID                      the stream a step opened
  sent NAME OPCODE LEN SHA256          a message sent
  msg NAME OPCODE LEN SHA256 HEX       a message received (HEX: its payload up to 256 bytes, "-" if
                                       empty or longer); OPCODE is text, binary, close, ping, pong
  mark step_<i>_done T_MS              step i (from 0) finished
  mark rst_NAME T_MS                   RST_STREAM sent

A step that waits and runs out of time prints "timeout T_MS" and ends the run (exit status 0:
the test reads what happened). The whole run is bounded by --timeout-ms.
"""

import argparse
import hashlib
import os
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h2_peer  # noqa: E402
from h2_peer import Conn, emit  # noqa: E402
from hyperframe.frame import DataFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame  # noqa: E402

OPCODES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}
MAX_FRAME = 16384


class StepTimeout(Exception):
    pass


def pattern(size, seed):
    """Bytes that differ with offset and seed (every byte value occurs)."""
    block = bytes(((i * 131 + seed * 7 + (i >> 8)) & 0xFF) for i in range(65536))
    return (block * (size // len(block) + 1))[:size]


def ws_frame(opcode, payload, fin=True):
    """One masked client frame (RFC 6455 §5.2)."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head += struct.pack("!H", n)
    else:
        head.append(0x80 | 127)
        head += struct.pack("!Q", n)
    key = os.urandom(4)
    head += key
    # XOR with the repeated key, fast: as one big integer.
    reps = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(reps, "big")).to_bytes(n, "big") if n else b""
    return bytes(head) + masked


class WsConn(Conn):
    def __init__(self, port, authority, timeout, sni):
        super().__init__(port, authority, timeout, sni)
        self.send_conn_window = 65535
        self.send_initial_window = 65535
        self.send_windows = {}   # sid -> window
        self.outq = {}           # sid -> bytearray waiting for window
        self.out_end = set()     # sids whose END_STREAM goes after their queue
        self.names = {}          # name -> sid
        self.ws_off = {}         # sid -> bytes of the body parsed as WebSocket frames
        self.ws_msgs = {}        # sid -> count of messages reported
        self.ws_partial = {}     # sid -> (opcode, bytearray) of a fragmented message

    # --- flow control of what we send

    def _on_frame(self, f):
        if isinstance(f, WindowUpdateFrame):
            if f.stream_id == 0:
                self.send_conn_window += f.window_increment
            elif f.stream_id in self.send_windows:
                self.send_windows[f.stream_id] += f.window_increment
            return
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags:
            new = f.settings.get(SettingsFrame.INITIAL_WINDOW_SIZE)
            if new is not None:
                delta = new - self.send_initial_window
                self.send_initial_window = new
                for sid in self.send_windows:
                    self.send_windows[sid] += delta
        super()._on_frame(f)

    def new_stream(self):
        sid = super().new_stream()
        self.send_windows[sid] = self.send_initial_window
        self.ws_off[sid] = 0
        self.ws_msgs[sid] = 0
        return sid

    def queue(self, sid, data, end=False):
        self.outq.setdefault(sid, bytearray()).extend(data)
        if end:
            self.out_end.add(sid)

    def flush_out(self):
        """Sends what the windows allow. True when nothing is left queued."""
        out = bytearray()
        for sid in list(self.outq):
            q = self.outq[sid]
            s = self.streams[sid]
            if s["reset"] is not None or s.get("cancelled"):
                del self.outq[sid]
                self.out_end.discard(sid)
                continue
            while q:
                n = min(len(q), MAX_FRAME, self.send_conn_window, self.send_windows[sid])
                if n <= 0:
                    break
                chunk = bytes(q[:n])
                del q[:n]
                self.send_conn_window -= n
                self.send_windows[sid] -= n
                f = DataFrame(sid, data=chunk)
                if not q and sid in self.out_end:
                    f.flags.add("END_STREAM")
                    self.out_end.discard(sid)
                out += f.serialize()
            if not q:
                if sid in self.out_end:  # an END_STREAM with nothing before it
                    out += DataFrame(sid, data=b"", flags=["END_STREAM"]).serialize()
                    self.out_end.discard(sid)
                del self.outq[sid]
        if out:
            self.send(bytes(out))
        return not self.outq

    def wait(self, done, deadline):
        """Reads (and sends what the windows allow) until done() or the deadline."""
        while True:
            self.flush_out()
            if done():
                return
            if self.eof:
                if done():
                    return
                raise StepTimeout("connection closed")
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepTimeout("deadline")
            self.pump(min(left, 0.05 if self.outq else 0.2))

    # --- WebSocket frames inside a stream's DATA

    def parse_ws(self, sid, name):
        s = self.streams[sid]
        buf = s["body"]
        off = self.ws_off[sid]
        while True:
            if len(buf) - off < 2:
                break
            b0, b1 = buf[off], buf[off + 1]
            n = b1 & 0x7F
            pos = off + 2
            if n == 126:
                if len(buf) - pos < 2:
                    break
                n = struct.unpack("!H", bytes(buf[pos:pos + 2]))[0]
                pos += 2
            elif n == 127:
                if len(buf) - pos < 8:
                    break
                n = struct.unpack("!Q", bytes(buf[pos:pos + 8]))[0]
                pos += 8
            key = None
            if b1 & 0x80:  # a server must not mask; report it by unmasking anyway
                if len(buf) - pos < 4:
                    break
                key = bytes(buf[pos:pos + 4])
                pos += 4
            if len(buf) - pos < n:
                break
            payload = bytes(buf[pos:pos + n])
            if key:
                payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
                emit("mark", "masked_server_frame_%s" % name, self.ms())
            off = pos + n
            fin = bool(b0 & 0x80)
            opcode = b0 & 0x0F
            if opcode >= 0x8:
                self.report(sid, name, opcode, payload)
            elif opcode == 0x0:
                if sid in self.ws_partial:
                    self.ws_partial[sid][1].extend(payload)
                    if fin:
                        op, data = self.ws_partial.pop(sid)
                        self.report(sid, name, op, bytes(data))
            elif fin:
                self.report(sid, name, opcode, payload)
            else:
                self.ws_partial[sid] = (opcode, bytearray(payload))
        self.ws_off[sid] = off
        # Drop what was parsed, so a long tunnel does not keep every byte.
        if off > (1 << 20):
            del buf[:off]
            self.ws_off[sid] = 0

    def report(self, sid, name, opcode, payload):
        self.ws_msgs[sid] += 1
        hexed = payload.hex() if 0 < len(payload) <= 256 else "-"
        emit("msg", name, OPCODES.get(opcode, str(opcode)), len(payload),
             hashlib.sha256(payload).hexdigest(), hexed)


def run_steps(conn, args, deadline):
    conn.preface({SettingsFrame.INITIAL_WINDOW_SIZE: h2_peer.MAX_WINDOW}, h2_peer.MAX_WINDOW - 65535)
    # The server's SETTINGS (initial window, ENABLE_CONNECT_PROTOCOL) come before any step.
    conn.wait(lambda: conn.server_settings is not None, deadline)

    def sid_of(name):
        return conn.names[name]

    def msgs_seen(sid, name):
        conn.parse_ws(sid, name)
        return conn.ws_msgs[sid]

    consumed = {}  # sid -> messages the recv steps have waited for
    for i, step in enumerate(args.step):
        w = step.split(" ")
        op = w[0]
        if op == "ws":
            sid = conn.new_stream()
            conn.names[w[1]] = sid
            emit("stream", w[1], sid)
            fields = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                      (":path", w[2]), (":authority", conn.authority), ("sec-websocket-version", "13")]
            if len(w) > 3:
                fields.append(("sec-websocket-protocol", w[3]))
            conn.send(conn.header_frames(sid, conn.enc.encode(fields), False))
        elif op == "get":
            sid = conn.new_stream()
            conn.names[w[1]] = sid
            emit("stream", w[1], sid)
            authority = w[3] if len(w) > 3 else conn.authority
            fields = [(":method", "GET"), (":scheme", "https"), (":authority", authority), (":path", w[2])]
            conn.send(conn.header_frames(sid, conn.enc.encode(fields), True))
        elif op == "head":
            sid = sid_of(w[1])
            s = conn.streams[sid]
            conn.wait(lambda: s["status"] is not None or conn.stream_done(sid), deadline)
        elif op == "text":
            payload = " ".join(w[2:]).encode()
            conn.queue(sid_of(w[1]), ws_frame(0x1, payload))
            emit("sent", w[1], "text", len(payload), hashlib.sha256(payload).hexdigest())
            conn.wait(lambda: not conn.outq, deadline)
        elif op == "binary":
            payload = pattern(int(w[2]), int(w[3]))
            conn.queue(sid_of(w[1]), ws_frame(0x2, payload))
            emit("sent", w[1], "binary", len(payload), hashlib.sha256(payload).hexdigest())
            conn.wait(lambda: not conn.outq, deadline)
        elif op == "close":
            payload = struct.pack("!H", int(w[2]))
            conn.queue(sid_of(w[1]), ws_frame(0x8, payload))
            emit("sent", w[1], "close", len(payload), hashlib.sha256(payload).hexdigest())
            conn.wait(lambda: not conn.outq, deadline)
        elif op == "recv":
            sid = sid_of(w[1])
            # Counted from what earlier recv steps took, not from what was reported: a message
            # may have arrived (and been reported) during an earlier step.
            want = consumed.get(sid, 0) + (int(w[2]) if len(w) > 2 else 1)
            conn.wait(lambda: msgs_seen(sid, w[1]) >= want, deadline)
            consumed[sid] = want
        elif op == "end":
            sid = sid_of(w[1])
            conn.queue(sid, b"", end=True)
            conn.wait(lambda: not conn.outq, deadline)
        elif op == "rst":
            sid = sid_of(w[1])
            conn.streams[sid]["cancelled"] = True
            conn.send(RstStreamFrame(sid, error_code=h2_peer.CANCEL).serialize())
            emit("mark", "rst_" + w[1], conn.ms())
        elif op == "done":
            sid = sid_of(w[1])
            s = conn.streams[sid]
            conn.wait(lambda: s["ended"] or s["reset"] is not None, deadline)
        elif op == "sleep":
            end = min(deadline, time.monotonic() + int(w[1]) / 1000.0)
            try:
                conn.wait(lambda: time.monotonic() >= end, deadline)
            except StepTimeout:
                if not conn.eof:
                    raise
        elif op == "wait_file":
            conn.wait(lambda: os.path.exists(w[1]), deadline)
        else:
            raise ValueError("unknown step " + step)
        # Whatever arrived by now on a WebSocket stream is reported in order.
        for name, sid in conn.names.items():
            conn.parse_ws(sid, name)
        emit("mark", "step_%d_done" % i, conn.ms())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--authority", default="localhost")
    p.add_argument("--sni", default="localhost", help='TLS server name ("" : none)')
    p.add_argument("--timeout-ms", type=int, default=10000, help="bound on the whole run")
    p.add_argument("--step", action="append", default=[])
    args = p.parse_args()

    deadline = time.monotonic() + args.timeout_ms / 1000.0
    try:
        conn = WsConn(args.port, args.authority, args.timeout_ms / 1000.0, args.sni)
    except (OSError, ssl.SSLError) as e:
        emit("error", "connect:", repr(e))
        return 2
    try:
        run_steps(conn, args, deadline)
    except StepTimeout as e:
        emit("timeout", conn.ms(), str(e).replace(" ", "_"))
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
