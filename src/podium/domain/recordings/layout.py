"""Where each camera goes on the frame: one layout for recordings (composed afterwards, composer.py)
and the live stream of a meeting (composed as it happens, rooms/broadcast), so both look the same.

Everyone present sits in a grid as square as the count allows, in order of arrival; while someone
shares their screen, the share takes the stage (the top three quarters) and the others sit in a strip
below. Sizes are for a canvas of ``CANVAS`` unless another is given.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TypeVar

CANVAS = (1280, 720)
FRAME_RATE = 20
VIDEO_KBPS = 1500
AUDIO_KBPS = 128
# Live streams: a key frame every second. The RTMP server cuts its HLS segments at key frames and hls.js
# plays two segments behind the live edge, so this sets most of a stream's glass-to-glass latency
# (two-second key frames measured 4.6-7.1 s p50; the target is 6 s).
LIVE_KEYFRAME_SECONDS = 1
Tile = tuple[int, int, int, int]  # x, y, width, height on the canvas
K = TypeVar("K", bound=Hashable)


def grid(count: int, canvas: tuple[int, int] = CANVAS) -> list[Tile]:
    """Tiles (x, y, width, height) for ``count`` cameras on the canvas: as square as the count allows."""
    width, height = canvas
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    tile_w, tile_h = (width // columns) // 2 * 2, (height // rows) // 2 * 2
    tiles = []
    for index in range(count):
        row, column = divmod(index, columns)
        in_row = min(columns, count - row * columns)
        # A short last row is centred.
        x0 = (width - in_row * tile_w) // 2
        y0 = (height - rows * tile_h) // 2
        tiles.append((x0 + column * tile_w, y0 + row * tile_h, tile_w, tile_h))
    return tiles


def stage(canvas: tuple[int, int] = CANVAS) -> Tile:
    """A screen share: the top three quarters."""
    return (0, 0, canvas[0], canvas[1] * 3 // 4)


STAGE = stage()


def strip(count: int, canvas: tuple[int, int] = CANVAS) -> list[Tile]:
    """The people beside a screen share: a row under the stage, at most a quarter of the width each."""
    width, height = canvas
    top = stage(canvas)[3]
    tile_w = min(width // max(count, 1), width // 4) // 2 * 2
    x0 = (width - count * tile_w) // 2
    return [(x0 + index * tile_w, top, tile_w, height - top) for index in range(count)]


def arrange(
    present: Sequence[K], staged: K | None = None, canvas: tuple[int, int] = CANVAS
) -> list[tuple[K, Tile]]:
    """Each camera present (in order of arrival) with its tile: a grid, or, when ``staged`` (one of
    them, sharing a screen) is given, that one on the stage and the others in the strip below."""
    if not present:
        return []
    if staged is None or staged not in present:
        return list(zip(present, grid(len(present), canvas), strict=True))
    others = [key for key in present if key != staged]
    return [(staged, stage(canvas)), *zip(others, strip(len(others), canvas), strict=True)]
