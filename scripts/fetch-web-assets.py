#!/usr/bin/env python3
"""Fetches the browser libraries the watch page needs from the npm registry, pinned and hash-checked.

hls.js (Apache-2.0) plays HLS through Media Source Extensions; Debian does not package it. The file
lands in src/podium/web/static/vendor/ (not in git) and is fetched again only when missing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src" / "podium" / "web" / "static" / "vendor"
ASSETS = [
    {
        "url": "https://registry.npmjs.org/hls.js/-/hls.js-1.7.4.tgz",
        "integrity": "sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg==",
        "member": "package/dist/hls.min.js",
        "target": "hls.min.js",
    },
]


def fetch(asset: dict[str, str]) -> None:
    target = VENDOR / asset["target"]
    if target.exists():
        return
    with urllib.request.urlopen(asset["url"], timeout=60) as response:  # noqa: S310 - a pinned https URL
        data = response.read()
    algorithm, _, expected = asset["integrity"].partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        sys.exit(f"fetch-web-assets: {asset['url']} does not match its pinned {algorithm} hash")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile(asset["member"])
        if member is None:
            sys.exit(f"fetch-web-assets: {asset['member']} is not in {asset['url']}")
        VENDOR.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(member.read())
        partial.replace(target)
    print(f"fetch-web-assets: {target.name} from {asset['url']}", file=sys.stderr)


if __name__ == "__main__":
    for item in ASSETS:
        fetch(item)
