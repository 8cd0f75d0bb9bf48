#!/usr/bin/env python3
"""A tiny HTTP/1.1 keep-alive app server for the Portcullis demo (stdlib only).

    scripts/demo_upstream.py --port 8001 --name demo-1

Answers every GET, POST and HEAD with a short text page saying which demo server answered, the
request method and path, and the Host and X-Forwarded-* headers it received, so you can see what
the proxy passed on. Binds 127.0.0.1 only.
"""
import argparse
import http.server
import signal
import sys


class DemoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like gunicorn/uvicorn behind a proxy
    server_version = "portcullis-demo"
    sys_version = ""
    name = "demo"

    def version_string(self) -> str:
        return self.server_version

    def _drain_body(self) -> None:
        """Reads and discards the request body so the keep-alive connection can be reused."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                self.rfile.read(size + 2)  # chunk data + CRLF
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def _answer(self, send_body: bool) -> None:
        self._drain_body()
        forwarded = [
            f"  {k}: {v}" for k, v in self.headers.items()
            if k.lower().startswith("x-forwarded-") or k.lower() in ("forwarded", "via")
        ]
        lines = [
            f"Hello from {self.name} (127.0.0.1:{self.server.server_address[1]})",
            f"Request: {self.command} {self.path}",
            f"Host: {self.headers.get('Host', '(none)')}",
            "Forwarded headers received:",
            *(forwarded or ["  (none)"]),
            "",
        ]
        body = "\n".join(lines).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Demo-Upstream", self.name)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._answer(send_body=True)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"[{self.name}] {self.address_string()} {fmt % args}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--name", default=None, help="name shown in the page (default: demo-PORT)")
    args = ap.parse_args()
    DemoHandler.name = args.name or f"demo-{args.port}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), DemoHandler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop quietly when run-dev.sh ends
    print(f"{DemoHandler.name}: listening on http://127.0.0.1:{server.server_address[1]}/",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
