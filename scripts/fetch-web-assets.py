#!/usr/bin/env python3
"""Fetches the browser libraries the watch page needs with npm, pinned and hash-checked.

hls.js (Apache-2.0) plays HLS through Media Source Extensions; Debian does not package it. It is
fetched with the npm ecosystem's own client (`npm pack NAME@VERSION`), so it comes from whatever
registry this machine's npm is configured to use (a mirror, a proxy, the public one): no registry
address is written in this repository. The tarball is checked against its pinned SHA-512 integrity
before anything is taken out of it. The file lands in src/podium/web/static/vendor/ (not in git) and
is fetched again only when missing. Debian's `npm` package provides npm
(scripts/ensure-system-packages.sh installs it).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NoReturn

VENDOR = Path(__file__).resolve().parent.parent / "src" / "podium" / "web" / "static" / "vendor"
ASSETS = [
    {
        "package": "hls.js",
        "version": "1.7.4",
        "integrity": "sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg==",  # noqa: E501
        "member": "package/dist/hls.min.js",
        "target": "hls.min.js",
    },
]


def fail(message: str) -> NoReturn:
    sys.exit(f"fetch-web-assets: {message}")


def npm_pack(spec: str, into: Path) -> Path:
    """Download the package tarball with `npm pack` into ``into``; returns the tarball's path."""
    npm = shutil.which("npm")
    if npm is None:
        fail(
            f"npm is not installed, and it is needed to fetch {spec} once: install Debian's npm package "
            "(`apt-get install npm`, or run scripts/ensure-system-packages.sh), then run this again"
        )
    result = subprocess.run(
        [npm, "pack", spec, "--ignore-scripts", "--silent", "--pack-destination", str(into)],
        cwd=into,
        capture_output=True,
        text=True,
        check=False,
    )
    tarballs = sorted(into.glob("*.tgz"))
    if result.returncode != 0 or len(tarballs) != 1:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        fail(f"`npm pack {spec}` failed: {detail}")
    return tarballs[0]


def fetch(asset: dict[str, str]) -> None:
    target = VENDOR / asset["target"]
    if target.exists():
        return
    spec = f"{asset['package']}@{asset['version']}"
    with tempfile.TemporaryDirectory(prefix="podium-web-assets-") as workdir:
        tarball = npm_pack(spec, Path(workdir))
        data = tarball.read_bytes()
        algorithm, _, expected = asset["integrity"].partition("-")
        digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if digest != expected:
            fail(f"{spec} ({tarball.name}) does not match its pinned {algorithm} integrity")
        with tarfile.open(tarball, mode="r:gz") as archive:
            try:
                member = archive.extractfile(asset["member"])
            except KeyError:
                member = None
            if member is None:
                fail(f"{asset['member']} is not in {spec}")
            VENDOR.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(member.read())
            partial.replace(target)
    print(f"fetch-web-assets: {target.name} from {spec} (npm pack)", file=sys.stderr)


if __name__ == "__main__":
    for item in ASSETS:
        fetch(item)
