#!/usr/bin/env python3
"""A hostile registry on loopback for one image: it serves that image's manifest, and a referrers
API that lists COUNT made-up referrers, PAGE per page, linked with `Link: rel="next"`.

Usage: hostile_referrers.py PORT_FILE MANIFEST_FILE COUNT PAGE LOG_FILE [NEXT_ORIGIN [ODD_FIRST]]

With NEXT_ORIGIN (`http://host:port`, or empty), the `Link` to the next page points there
instead. With ODD_FIRST set to `sha512`, the first entry has a sha512 digest.

It writes the port it listens on to PORT_FILE, and one line per referrers page it served to
LOG_FILE, so a test can tell how much of the list a client read.
"""
import hashlib
import http.server
import json
import sys
import urllib.parse

port_file, manifest_file, count, page, log_file = sys.argv[1:6]
next_origin = sys.argv[6] if len(sys.argv) > 6 else ""
odd_first = sys.argv[7] if len(sys.argv) > 7 else ""
count, page = int(count), int(page)
manifest = open(manifest_file, "rb").read()
digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def fake(i):
    digest = "sha256:" + hashlib.sha256(b"referrer %d" % i).hexdigest()
    if i == 0 and odd_first == "sha512":
        digest = "sha512:" + hashlib.sha512(b"referrer 0").hexdigest()
    return {
        "mediaType": MANIFEST_TYPE,
        "digest": digest,
        "size": 500,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "annotations": {"dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
    }


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        parts = url.path.split("/")
        if url.path == "/v2/":
            return self.send(200, b"{}")
        if "manifests" in parts:
            ref = parts[-1]
            if ref in ("v1", digest):
                return self.send(200, manifest, MANIFEST_TYPE, [("Docker-Content-Digest", digest)])
            return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        if "referrers" in parts:
            start = int(urllib.parse.parse_qs(url.query).get("start", ["0"])[0])
            entries = [fake(i) for i in range(start, min(start + page, count))]
            with open(log_file, "a") as log:
                log.write(f"page {start}\n")
            headers = []
            if start + page < count:
                headers.append(("Link", f'<{next_origin}{url.path}?start={start + page}>; rel="next"'))
            body = json.dumps({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": entries,
            }).encode()
            return self.send(200, body, "application/vnd.oci.image.index.v1+json", headers)
        return self.send(404, b"{}")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os

os.rename(port_file + ".tmp", port_file)
server.serve_forever()
