#!/usr/bin/env python3
"""An independent reader of cosign's legacy `.sig` layout, for tests.

Written from cosign's documented behaviour (SimpleClaimVerifier), not from cleanpipe's code:
GET the `sha256-<hex>.sig` manifest from a registry, GET each simple-signing layer blob, check
the blob digest, verify the ECDSA P-256/SHA-256 DER signature from the
`dev.cosignproject.cosign/signature` annotation with the PEM public key (Python `cryptography`),
and check that `critical.image.docker-manifest-digest` equals the image digest.

Usage: cosign_verify.py REGISTRY REPOSITORY DIGEST PUBKEY.pem
Prints one line per verified signature; exits 0 if at least one verifies, 1 otherwise.
"""
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read()


def main():
    registry, repository, digest, pubkey_path = sys.argv[1:5]
    with open(pubkey_path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    algo, hexpart = digest.split(":", 1)
    base = f"http://{registry}/v2/{repository}"
    manifest = json.loads(get(f"{base}/manifests/{algo}-{hexpart}.sig", ACCEPT))
    verified = 0
    for layer in manifest["layers"]:
        if layer["mediaType"] != "application/vnd.dev.cosign.simplesigning.v1+json":
            continue
        payload = get(f"{base}/blobs/{layer['digest']}")
        if "sha256:" + hashlib.sha256(payload).hexdigest() != layer["digest"]:
            print(f"layer {layer['digest']}: blob digest mismatch")
            continue
        sig = base64.b64decode(layer.get("annotations", {}).get("dev.cosignproject.cosign/signature", ""))
        try:
            key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            print(f"layer {layer['digest']}: signature does not verify")
            continue
        claims = json.loads(payload)
        if claims["critical"]["image"]["docker-manifest-digest"] != digest:
            print(f"layer {layer['digest']}: payload names another image")
            continue
        if claims["critical"]["type"] != "cosign container image signature":
            print(f"layer {layer['digest']}: wrong payload type")
            continue
        verified += 1
        print(f"verified {layer['digest']} identity={claims['critical']['identity']['docker-reference']}")
    sys.exit(0 if verified else 1)


if __name__ == "__main__":
    main()
