#!/usr/bin/env python3
"""A real HTTP receiver for webhook tests, on 127.0.0.1.

Usage: webhook_sink.py PORT_FILE LOG_FILE STATUS[,STATUS...] [LOCATION] [ECHO_PAD]
Listens on an ephemeral port (written to PORT_FILE), appends one JSON line per request to
LOG_FILE ({"path", "headers", "body"}), and answers the Nth request with the Nth status of the
list (the last one repeats). A 3xx answer carries `Location: LOCATION`. With ECHO_PAD (a number)
an error answer's body is ECHO_PAD filler characters followed by the Authorization header and
every other request header value, to
test that secrets echoed back by a receiver are masked. Runs until killed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port_file, log_file, statuses = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
location = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
echo_pad = int(sys.argv[5]) if len(sys.argv) > 5 else None
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(log_file, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body.decode("utf-8", "replace")}) + "\n")
        status = statuses[min(count, len(statuses) - 1)]
        count += 1
        reply = b'{"ok":true}' if status < 300 else b'{"error":"refused by the test receiver"}'
        if echo_pad is not None and status >= 400:
            auth = self.headers.get("Authorization", "")
            rest = [v for k, v in self.headers.items() if k.lower() != "authorization"]
            reply = ("x" * echo_pad + " ".join([auth] + rest)).encode()
        self.send_response(status)
        if location and 300 <= status < 400:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
