#!/usr/bin/env python3
"""A stand-in for osv.dev's bucket, on 127.0.0.1, for `cleanpipe db update` tests.

Usage: osv_mirror.py PORT_FILE ROOT LOG_FILE
Serves ROOT/<ecosystem>/all.zip at /<ecosystem>/all.zip (any path under ROOT) with an `ETag`
(a quoted sha256 of the bytes) and a `Last-Modified` (the file's mtime); answers 304 to a
matching `If-None-Match` or to an `If-Modified-Since` not older than the file. Listens on an
ephemeral port (written to PORT_FILE) and appends one JSON line per request to LOG_FILE
({"path", "headers", "status", "sent"}).

What it serves is steered by ROOT/.mode (JSON, read on every request; absent: normal):
  {"mode": "truncate"}                 the first half of the archive, announced as such
  {"mode": "cut"}                      the full length announced, half sent, connection closed
  {"mode": "corrupt", "at": N}         the archive with byte N flipped
  {"mode": "wrong", "from": "Debian"}  ROOT/Debian/all.zip, whatever was asked for
  {"mode": "redirect", "location": U}  302 to U
Runs until killed.
"""
import email.utils
import hashlib
import json
import os
import sys
from urllib.parse import unquote
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, root, log_file = sys.argv[1], sys.argv[2], sys.argv[3]


def mode():
    try:
        with open(os.path.join(root, ".mode")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"mode": "normal"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log(self, status, sent):
        with open(log_file, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "status": status, "sent": sent}) + "\n")

    def reply(self, status, body=b"", headers=()):
        # Logged before answering: the client may read the log as soon as it has the answer.
        self.log(status, len(body))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        m = mode()
        if m["mode"] == "redirect":
            return self.reply(302, headers=[("Location", m["location"])])
        rel = self.path.split("?")[0].lstrip("/")
        if m["mode"] == "wrong":
            rel = m["from"] + "/all.zip"
        parts = [unquote(p) for p in rel.split("/")]
        path = os.path.join(root, *[p for p in parts if p not in ("", ".", "..")])
        if not os.path.isfile(path):
            return self.reply(404, b"not found")
        with open(path, "rb") as f:
            data = f.read()
        etag = '"%s"' % hashlib.sha256(data).hexdigest()
        mtime = int(os.stat(path).st_mtime)
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        validators = [("ETag", etag), ("Last-Modified", last_modified)]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            if inm == etag:
                return self.reply(304, headers=validators)
        elif ims is not None:
            try:
                since = email.utils.parsedate_to_datetime(ims).timestamp()
                if mtime <= since:
                    return self.reply(304, headers=validators)
            except (TypeError, ValueError):
                pass
        if m["mode"] == "truncate":
            return self.reply(200, data[: len(data) // 2], validators)
        if m["mode"] == "corrupt":
            at = int(m["at"])
            data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
        if m["mode"] == "cut":
            self.log(200, len(data) // 2)
            self.send_response(200)
            for k, v in validators:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(200, data, validators)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
