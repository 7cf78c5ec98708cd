"""Where the RTMP server writes lives' HLS and recordings, under the data directory."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from podium.config import Settings


@lru_cache(maxsize=8)
def _resolved(data_dir: Path) -> Path:
    # Every segment request asks: resolving walks the path with a system call per component.
    return data_dir.resolve()


def rtmp_dir(settings: Settings) -> Path:
    return _resolved(settings.data_dir) / "rtmp"


def hls_root(settings: Settings) -> Path:
    return rtmp_dir(settings) / "hls"


def records_dir(settings: Settings) -> Path:
    return rtmp_dir(settings) / "records"


def hls_dir(settings: Settings, code: str) -> Path:
    """Where the RTMP server writes a live's playlist (``index.m3u8``) and segments."""
    return hls_root(settings) / code


def playlist(settings: Settings, code: str) -> Path:
    return hls_dir(settings, code) / "index.m3u8"
