#!/usr/bin/env python3
"""An independent reader of cosign's `.att` attestation layout, for tests.

Written from the DSSE protocol, the in-toto Statement v1 spec and cosign's attestation spec
(docs/formats.md §2, §4, §5), not from cleanpipe's code: GET the `sha256-<hex>.att`
manifest from a registry, GET each DSSE layer blob, check the blob digest, verify the ECDSA
P-256/SHA-256 DER signature over PAE(payloadType, payload) with the PEM public key (Python
`cryptography`), check that a subject names the image digest and that the layer's
`predicateType` annotation matches the statement; for SLSA v1 provenance also check the fields
Build L1 requires (buildType, externalParameters, runDetails.builder.id).

Usage: dsse_verify.py REGISTRY REPOSITORY DIGEST PUBKEY.pem
Prints `verified <predicateType>` per verified layer; exits 0 if at least one verifies, else 1.
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


def b64(s):
    try:
        return base64.b64decode(s, validate=True)
    except Exception:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def main():
    registry, repository, digest, pubkey_path = sys.argv[1:5]
    with open(pubkey_path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    algo, hexpart = digest.split(":", 1)
    base = f"http://{registry}/v2/{repository}"
    manifest = json.loads(get(f"{base}/manifests/{algo}-{hexpart}.att", ACCEPT))
    verified = 0
    for layer in manifest["layers"]:
        name = layer.get("annotations", {}).get("predicateType", "?")
        if layer["mediaType"] != "application/vnd.dsse.envelope.v1+json":
            print(f"{name}: not a DSSE layer")
            continue
        blob = get(f"{base}/blobs/{layer['digest']}")
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
            print(f"{name}: blob digest mismatch")
            continue
        env = json.loads(blob)
        body = b64(env["payload"])
        ok = False
        for s in env["signatures"]:
            try:
                key.verify(b64(s["sig"]), pae(env["payloadType"], body), ec.ECDSA(hashes.SHA256()))
                ok = True
            except InvalidSignature:
                pass
        if not ok:
            print(f"{name}: no signature verifies")
            continue
        st = json.loads(body)
        if st.get("_type") != "https://in-toto.io/Statement/v1":
            print(f"{name}: not an in-toto v1 statement")
            continue
        if not any(x.get("digest", {}).get("sha256") == hexpart for x in st.get("subject", [])):
            print(f"{name}: no subject names {digest}")
            continue
        if st.get("predicateType") != name:
            print(f"{name}: annotation and statement disagree")
            continue
        if name == "https://slsa.dev/provenance/v1":
            p = st["predicate"]
            bd, rd = p.get("buildDefinition", {}), p.get("runDetails", {})
            if not bd.get("buildType") or "externalParameters" not in bd or not rd.get("builder", {}).get("id"):
                print(f"{name}: missing SLSA Build L1 fields")
                continue
        verified += 1
        print(f"verified {name}")
    sys.exit(0 if verified else 1)


if __name__ == "__main__":
    main()
