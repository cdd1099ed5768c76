#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 reverse proxy for cleanpipe's registry tests.

Sits in front of a real OCI registry and forwards every request to it,
except the requests selected by --fail-method / --fail-path-regex, which get
an error response instead and are never forwarded.

    python3 fault_proxy.py --upstream 127.0.0.1:5000 --listen-port-file FILE \
        [--fail-method PUT] [--fail-path-regex REGEX] [--fail-status 500] \
        [--fail-count N]

* Listens on 127.0.0.1 on an ephemeral port and writes that port number to
  FILE (atomically, via rename) once it is accepting connections.
* Request bodies (Content-Length or chunked) and response bodies are streamed
  in 64 KiB pieces, so large blob uploads pass through without being held in
  memory.
* `Location` response headers that point at the upstream are rewritten to
  point at the proxy, so follow-up upload requests come back through it.
* A request is faulted when every given criterion matches: the method equals
  --fail-method (case-insensitive) and --fail-path-regex is found (re.search)
  in the request target (path and query). With neither option, nothing is
  faulted. --fail-min-length N also requires a request body of at least N
  bytes (by Content-Length). --fail-count N faults only the first N matching
  requests (0, the default, means all of them): "fail the first K requests
  matching a path with status S" is --fail-path-regex P --fail-count K
  --fail-status S.
* --fault-kind picks what a faulted request gets (default `status`):
    status    --fail-status with a JSON error body (--echo-auth adds the decoded
              Basic credentials the client sent, to test that they are masked;
              --pad N puts N filler characters before them; --retry-after S adds
              a `Retry-After: S` header)
    reset     the first --reset-after bytes of the request body are read, then
              the connection is reset (TCP RST), mid-upload: no answer at all
    redirect  307 with `Location: --redirect-to` (the request path is appended
              when the value ends with `/`)
    stall     the request is read, then nothing is sent for --stall-seconds
    huge      200 with --huge-bytes bytes of JSON-ish filler, streamed;
              `Content-Length` is sent only with --huge-announce
    wrong     the real answer's status and headers with a different body of the
              same length (bytes flipped)
    challenge 401 with `WWW-Authenticate: --challenge` (every faulted request that
              does not carry `Authorization: Bearer --token`)
    token     200 with `{"token": --token}`: a registry token service
* --tls-cert PEM --tls-key PEM: listen with TLS (https) instead of plain HTTP.
* --log-file FILE appends one JSON line per request: method, path, the
  Authorization header (or null) and the fault injected (its kind, or null),
  so tests can see what was sent where and what was faulted.
* Each request is logged to stderr.

Standard library only.
"""

import base64
import time

import argparse
import struct
import http.client
import http.server
import json
import os
import re
import select
import socket
import sys
import threading

CHUNK = 64 * 1024

# Headers that describe one connection, not the message: never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}

FAULT_BODY = json.dumps(
    {"errors": [{"code": "UNKNOWN", "message": "injected fault"}]}
).encode()


class Config:
    upstream_host = "127.0.0.1"
    upstream_port = 5000
    upstream = "127.0.0.1:5000"
    fail_method = None
    fail_path_re = None
    fail_status = 500
    fail_count = 0
    fail_min_length = 0
    faults_done = 0
    lock = threading.Lock()
    timeout = 600.0
    kind = "status"
    echo_auth = False
    pad = 0
    redirect_to = None
    stall_seconds = 600.0
    huge_bytes = 0
    huge_announce = False
    challenge = None
    token = "test-token"
    log_file = None
    retry_after = None
    reset_after = 64 * 1024


def log(msg):
    sys.stderr.write(f"[fault_proxy] {msg}\n")
    sys.stderr.flush()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cleanpipe-fault-proxy"

    def version_string(self):
        return self.server_version

    # One upstream connection per client connection (kept alive across
    # requests on that client connection).
    _upstream = None

    # ---- request body readers -------------------------------------------

    def _iter_content_length(self, length):
        remaining = length
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            remaining -= len(data)
            yield data

    def _iter_chunked(self):
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("client closed the connection mid-body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers (ignored) up to the blank line.
                while True:
                    t = self.rfile.readline(65537)
                    if not t or t in (b"\r\n", b"\n"):
                        return
            remaining = size
            while remaining > 0:
                data = self.rfile.read(min(CHUNK, remaining))
                if not data:
                    raise ConnectionError("client closed the connection mid-chunk")
                remaining -= len(data)
                yield data
            self.rfile.readline(3)  # CRLF after the chunk data

    def _request_body(self):
        """Returns (iterator or None, is_chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            return self._iter_chunked(), True
        length = self.headers.get("Content-Length")
        if length is not None:
            n = int(length)
            return (self._iter_content_length(n) if n > 0 else None), False
        return None, False

    # ---- faults ------------------------------------------------------------

    def _should_fail(self):
        cfg = Config
        if cfg.fail_method is None and cfg.fail_path_re is None:
            return False
        if cfg.fail_method is not None and self.command.upper() != cfg.fail_method:
            return False
        if cfg.fail_path_re is not None and not cfg.fail_path_re.search(self.path):
            return False
        if cfg.fail_min_length:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            if length < cfg.fail_min_length:
                return False
        with cfg.lock:
            if cfg.fail_count and cfg.faults_done >= cfg.fail_count:
                return False
            cfg.faults_done += 1
        return True

    def _send_simple(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self):
        """Read part of the body, then reset the connection: an upload cut off mid-stream."""
        body, _ = self._request_body()
        got = 0
        if body is not None:
            for data in body:
                got += len(data)
                if got >= Config.reset_after:
                    break
        log(f"resetting {self.command} {self.path} after {got} body bytes")
        # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _send_fault(self):
        kind = Config.kind
        if kind == "reset":
            return self._reset()
        if kind == "wrong":
            return self._forward(corrupt=True)
        if kind == "challenge" and self.headers.get("Authorization") == "Bearer " + Config.token:
            return self._forward()
        body, _ = self._request_body()
        if body is not None:
            for _ in body:  # read and discard
                pass
        log(f"injecting fault {kind} for {self.command} {self.path}")
        if kind == "redirect":
            target = Config.redirect_to
            if target.endswith("/"):
                target = target[:-1] + self.path
            self._send_simple(307, b"", [("Location", target)])
        elif kind == "stall":
            time.sleep(Config.stall_seconds)
            self.close_connection = True
        elif kind == "token":
            self._send_simple(200, json.dumps({"token": Config.token}).encode())
        elif kind == "challenge":
            self._send_simple(401, FAULT_BODY, [("WWW-Authenticate", Config.challenge)])
        elif kind == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            if Config.huge_announce:
                self.send_header("Content-Length", str(Config.huge_bytes))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            piece = b"[" * CHUNK
            sent = 0
            try:
                while sent < Config.huge_bytes:
                    n = min(CHUNK, Config.huge_bytes - sent)
                    if Config.huge_announce:
                        self.wfile.write(piece[:n])
                    else:
                        self.wfile.write(b"%x\r\n%s\r\n" % (n, piece[:n]))
                    sent += n
                if not Config.huge_announce:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                log(f"client stopped reading after {sent} bytes")
                self.close_connection = True
        else:
            msg = FAULT_BODY
            if Config.echo_auth:
                sent = self.headers.get("Authorization", "")
                creds = ""
                if sent.lower().startswith("basic "):
                    creds = base64.b64decode(sent[6:]).decode("utf-8", "replace")
                msg = json.dumps({"errors": [{"code": "UNKNOWN",
                    "message": "injected fault " + "x" * Config.pad + creds}]}).encode()
            extra = [("Retry-After", Config.retry_after)] if Config.retry_after is not None else []
            self._send_simple(Config.fail_status, msg, extra)

    # ---- forwarding -------------------------------------------------------

    def _proxy_authority(self):
        host = self.headers.get("Host")
        if host:
            return host
        return "127.0.0.1:%d" % self.server.server_address[1]

    def _rewrite_location(self, value):
        for scheme in ("http://", "https://"):
            prefix = scheme + Config.upstream
            if value == prefix or value.startswith(prefix + "/") or value.startswith(prefix + "?"):
                return "http://" + self._proxy_authority() + value[len(prefix):]
        return value

    def _connect_upstream(self):
        up = self._upstream
        if up is not None and up.sock is not None:
            # A readable idle connection means the upstream closed it (EOF).
            try:
                readable = select.select([up.sock], [], [], 0)[0]
            except (OSError, ValueError):
                readable = True
            if readable:
                self._close_upstream()
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(
                Config.upstream_host, Config.upstream_port, timeout=Config.timeout
            )
        return self._upstream

    def _close_upstream(self):
        if self._upstream is not None:
            try:
                self._upstream.close()
            except OSError:
                pass
            self._upstream = None

    def _forward(self, corrupt=False):
        body, chunked = self._request_body()
        headers = []
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in ("host", "expect"):
                continue
            headers.append((k, v))

        conn = self._connect_upstream()
        # An idle keep-alive connection may have been closed by the upstream;
        # a fresh connection is only safe to retry when no body was consumed.
        try:
            conn.putrequest(self.command, self.path, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
        except OSError:
            self._close_upstream()
            conn = self._connect_upstream()
            conn.putrequest(self.command, self.path, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()

        if body is not None:
            for data in body:
                if chunked:
                    conn.send(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    conn.send(data)
            if chunked:
                conn.send(b"0\r\n\r\n")
        elif chunked:
            conn.send(b"0\r\n\r\n")

        resp = conn.getresponse()

        self.log_request(resp.status)
        self.send_response_only(resp.status, resp.reason)
        resp_headers = resp.getheaders()
        has_length = False
        for k, v in resp_headers:
            lk = k.lower()
            if lk in HOP_BY_HOP:
                continue
            if lk == "content-length":
                has_length = True
            if lk == "location":
                v = self._rewrite_location(v)
            self.send_header(k, v)

        no_body = (
            self.command == "HEAD"
            or resp.status in (204, 304)
            or 100 <= resp.status < 200
        )
        rechunk = not no_body and not has_length
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        if not no_body:
            while True:
                data = resp.read(CHUNK)
                if not data:
                    break
                if corrupt:
                    data = bytes(b ^ 0x01 for b in data)
                if rechunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            if rechunk:
                self.wfile.write(b"0\r\n\r\n")
        else:
            resp.read()
        self.wfile.flush()

        if resp.will_close:
            self._close_upstream()

    def _log_request(self, fault):
        if Config.log_file:
            with Config.lock:
                with open(Config.log_file, "a") as f:
                    f.write(json.dumps({"method": self.command, "path": self.path,
                                        "authorization": self.headers.get("Authorization"),
                                        "fault": fault}) + "\n")

    def _handle(self):
        faulted = self._should_fail()
        # A challenge is only a fault for requests without the token.
        shown = Config.kind if faulted else None
        if faulted and Config.kind == "challenge" and \
                self.headers.get("Authorization") == "Bearer " + Config.token:
            shown = None
        self._log_request(shown)
        try:
            if faulted:
                self._send_fault()
            else:
                self._forward()
        except (ConnectionError, socket.timeout, http.client.HTTPException, OSError) as e:
            log(f"error proxying {self.command} {self.path}: {e!r}")
            self._close_upstream()
            self.close_connection = True
            try:
                msg = json.dumps(
                    {"errors": [{"code": "UNKNOWN", "message": f"proxy error: {e}"}]}
                ).encode()
                self.send_response(502)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(msg)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(msg)
                self.wfile.flush()
            except OSError:
                pass

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def finish(self):
        self._close_upstream()
        super().finish()

    def log_message(self, format, *args):
        msg = format % args
        # Non-HTTP traffic (e.g. a client probing with a TLS handshake first)
        # would otherwise put raw bytes on the terminal.
        msg = "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xFF) for c in msg)
        log("%s - %s" % (self.address_string(), msg))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT of the real registry")
    p.add_argument("--listen-port-file", required=True, help="file to write the listening port to")
    p.add_argument("--fail-method", help="HTTP method to fault (e.g. PUT)")
    p.add_argument("--fail-path-regex", help="regex searched in the request path+query")
    p.add_argument("--fail-status", type=int, default=500, help="status of faulted requests")
    p.add_argument(
        "--fail-count",
        type=int,
        default=0,
        help="fault only the first N matching requests (0 = all)",
    )
    p.add_argument("--fault-kind", default="status",
                   choices=["status", "redirect", "stall", "huge", "wrong", "challenge", "token",
                            "reset"])
    p.add_argument("--fail-min-length", type=int, default=0,
                   help="fault only requests with a body of at least N bytes")
    p.add_argument("--retry-after", help="Retry-After header value on status faults")
    p.add_argument("--reset-after", type=int, default=64 * 1024,
                   help="body bytes read before a reset fault")
    p.add_argument("--token", default="test-token")
    p.add_argument("--echo-auth", action="store_true")
    p.add_argument("--pad", type=int, default=0)
    p.add_argument("--redirect-to")
    p.add_argument("--stall-seconds", type=float, default=600.0)
    p.add_argument("--huge-bytes", type=int, default=0)
    p.add_argument("--huge-announce", action="store_true")
    p.add_argument("--challenge")
    p.add_argument("--log-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    args = p.parse_args(argv)
    Config.kind = args.fault_kind
    Config.echo_auth = args.echo_auth
    Config.pad = args.pad
    Config.redirect_to = args.redirect_to
    Config.stall_seconds = args.stall_seconds
    Config.huge_bytes = args.huge_bytes
    Config.huge_announce = args.huge_announce
    Config.challenge = args.challenge
    Config.token = args.token
    Config.log_file = args.log_file
    Config.retry_after = args.retry_after
    Config.reset_after = args.reset_after
    Config.fail_min_length = args.fail_min_length

    host, sep, port = args.upstream.rpartition(":")
    if not sep or not port.isdigit():
        p.error("--upstream must be HOST:PORT")
    Config.upstream_host = host.strip("[]")
    Config.upstream_port = int(port)
    Config.upstream = args.upstream
    Config.fail_method = args.fail_method.upper() if args.fail_method else None
    Config.fail_path_re = re.compile(args.fail_path_regex) if args.fail_path_regex else None
    Config.fail_status = args.fail_status
    Config.fail_count = args.fail_count

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ProxyHandler)
    server.daemon_threads = True
    if args.tls_cert:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]

    tmp = f"{args.listen_port_file}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.listen_port_file)
    log(
        f"listening on 127.0.0.1:{port}, upstream {args.upstream}, "
        f"fault: method={Config.fail_method} path~{args.fail_path_regex} "
        f"status={Config.fail_status} count={Config.fail_count or 'all'}"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
