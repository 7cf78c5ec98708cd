"""``python -m podium.rooms.broadcast``: the compositor process (its spec as one JSON line on stdin)."""

from podium.rooms.broadcast.compositor import main

main()
