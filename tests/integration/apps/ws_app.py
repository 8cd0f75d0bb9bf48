"""A small ASGI app for Portcullis's WebSocket integration tests, run by uvicorn and by daphne.

One module for both servers, so a difference between the two runs comes from the server (or the
proxy in front), never from two apps. Standard library only: the servers bring the protocol.

WebSocket paths:
  /echo             echoes each text and binary message as it came
  /broadcast        says "joined" once the client is registered, then sends each message to
                    every client connected to /broadcast
  /push?n=N         sends N server-initiated text messages "push <i>" on connect, then echoes
  /close/<code>     closes with <code> after the first message
  /reject403        refuses the handshake (websocket.close before accept: 403 on both servers)
  /whoami           sends the server's name on connect, then echoes
HTTP paths:
  /whoami           the server's name (argv-free: $WS_APP_NAME), so a test sees which upstream served
  /needs-upgrade    426 Upgrade Required with a body
  /stats            JSON counters: websockets accepted, open, closed, and the close codes seen
  /conn?id=ID       "open", "closed <code>" or "unknown" for the WebSocket opened with ?id=ID,
                    so a test sharing the server with others can follow its own connection
  /echo etc.        a WebSocket path reached as plain HTTP (the proxy stripped the upgrade):
                    200 "plain http <path>", so the test sees that no upgrade arrived
"""

import json
import os
import urllib.parse

NAME = os.environ.get("WS_APP_NAME", "app")

# Shared by every connection of this process (one process, one event loop on both servers).
stats = {"accepted": 0, "open": 0, "closed": 0, "close_codes": [], "server_closed": 0}
broadcast_clients = set()
connections = {}  # ?id= of a WebSocket -> "open" / "closed <code>"


def query_param(scope, name, default=None):
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
    return query.get(name, [default])[0]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket(scope, receive, send)


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def http(scope, receive, send):
    # Drain the request body, so a keep-alive connection stays in step.
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    path = scope["path"]
    headers = [(b"content-type", b"text/plain")]
    if path == "/whoami":
        status, body = 200, NAME.encode()
    elif path == "/needs-upgrade":
        status, body = 426, b"this resource needs a websocket\n"
        headers.append((b"upgrade", b"websocket"))
    elif path == "/conn":
        status, body = 200, connections.get(query_param(scope, "id", ""), "unknown").encode()
    elif path == "/stats":
        status, body = 200, json.dumps(stats).encode()
        headers = [(b"content-type", b"application/json")]
    else:
        # What the request looked like on arrival: a test of "forwarded as a plain request"
        # reads whether an Upgrade header got here.
        upgrade = b""
        for k, v in scope["headers"]:
            if k == b"upgrade":
                upgrade = v
        status = 200
        body = b"plain http " + path.encode() + b" upgrade=" + upgrade
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def note_closed(scope, code):
    stats["open"] -= 1
    stats["closed"] += 1
    stats["close_codes"].append(code)
    conn_id = query_param(scope, "id")
    if conn_id is not None:
        connections[conn_id] = "closed %d" % code


async def websocket(scope, receive, send):
    path = scope["path"]
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if path == "/reject403":
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    stats["accepted"] += 1
    stats["open"] += 1
    conn_id = query_param(scope, "id")
    if conn_id is not None:
        connections[conn_id] = "open"

    try:
        if path == "/broadcast":
            broadcast_clients.add(send)
            await send({"type": "websocket.send", "text": "joined"})
        elif path == "/push":
            for i in range(int(query_param(scope, "n", "1"))):
                await send({"type": "websocket.send", "text": "push %d" % i})
        elif path == "/whoami":
            await send({"type": "websocket.send", "text": NAME})

        close_code = None
        if path.startswith("/close/"):
            close_code = int(path[len("/close/"):])

        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                note_closed(scope, message.get("code", 1005))
                return
            if close_code is not None:
                await send({"type": "websocket.close", "code": close_code})
                stats["server_closed"] += 1
                # The server's close is answered by the client's; record it when it arrives.
                message = await receive()
                note_closed(scope, message.get("code", close_code) if message["type"] == "websocket.disconnect" else close_code)
                return
            out = {"type": "websocket.send"}
            if message.get("text") is not None:
                out["text"] = message["text"]
            else:
                out["bytes"] = message.get("bytes") or b""
            if path == "/broadcast":
                for peer in list(broadcast_clients):
                    try:
                        await peer(out)
                    except Exception:
                        broadcast_clients.discard(peer)
            else:
                await send(out)
    finally:
        broadcast_clients.discard(send)
