#!/usr/bin/env python3
"""Validate a CycloneDX JSON file against the official schema (cyclonedx-python-lib's strict
JSON validator, which bundles the CycloneDX schemas). Usage: validate_cyclonedx.py FILE [1.5|1.6]
Exits 0 when valid; otherwise prints the validation error and exits 1."""
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

version = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}[sys.argv[2] if len(sys.argv) > 2 else "1.5"]
with open(sys.argv[1]) as f:
    error = JsonStrictValidator(version).validate_str(f.read())
if error is not None:
    print(f"invalid CycloneDX {sys.argv[2] if len(sys.argv) > 2 else '1.5'}: {error}")
    sys.exit(1)
print("valid")
