"""Player embeds as sites that used Boomstream write them, all opening the same watch page.

- ``<iframe src="<base>/<media code>?title=0">``;
- ``<iframe src="<base>/player.html?code=<media code>">``;
- ``<script src="<base>/<media code>/config.jsonp" async></script>``: a script that places an iframe of
  the watch page where its tag stands.

Each takes the watch page's options (``title``, ``autostart``/``autoplay``, ``id_recovery``). The bare
``/<media code>`` route only matches the media code format and is mounted after every other route, so
it can never shadow one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from podium.domain.viewing.service import ViewingService
from podium.kit.errors import DomainError, NotFound
from podium.kit.links import Links
from podium.kit.openapi import answer, errors, merge, status_set
from podium.kit.uow import Context, run_unit_of_work
from podium.web import watch
from podium.web.openapi import TOO_LARGE, page

# Media codes as Podium draws them (kit/ids.py client_code): eight ASCII letters and digits.
MEDIA_CODE = "[A-Za-z0-9]{8}"
MEDIA_CODE_RE = re.compile(MEDIA_CODE)
# The options an embed hands on to the watch page; anything else in its query is ignored.
PLAYER_OPTIONS = ("title", "autostart", "autoplay", "id_recovery")
MAX_OPTION_LENGTH = 256
SCRIPT_CACHE_SECONDS = 300


class MediaCodeConvertor(Convertor[str]):
    """``{code:media_code}``: a path segment in the media code format, nothing else."""

    regex = MEDIA_CODE

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("media_code", MediaCodeConvertor())
router = APIRouter(tags=["watch"])

_SCRIPT = {"application/javascript": {"schema": {"type": "string"}}}
SCRIPT_ANSWERS = merge(
    answer(200, _SCRIPT, "The script that places the player"),
    answer(304, None, "Not modified (If-None-Match)"),
    errors(status_set(watch.STATUS_BY_CODE), _SCRIPT, but=[413]),
    TOO_LARGE,
)


@router.get("/player.html", response_class=HTMLResponse, responses=page())
async def player_html(request: Request, code: str = "") -> HTMLResponse:
    """Boomstream's ``player.html?code=<media code>``: the watch page of that media, embedded."""
    code = code.strip()
    if not MEDIA_CODE_RE.fullmatch(code):
        return watch.error_page(request, NotFound("This video does not exist"))
    return await watch.player_page(request, code, embed=True, title_shown=True)


@router.get("/{code:media_code}/config.jsonp", responses=SCRIPT_ANSWERS)
async def player_script(request: Request, code: str) -> Response:
    """Boomstream's script embed: places the player (an iframe of the watch page) where its tag stands."""

    def work(ctx: Context) -> dict[str, Any]:
        media = ViewingService(ctx.session, ctx.settings).embedded(code)
        options = [
            (name, value[:MAX_OPTION_LENGTH])
            for name in PLAYER_OPTIONS
            if (value := request.query_params.get(name)) is not None
        ]
        width, height = media.width or 16, media.height or 9
        return {
            "src": Links(ctx.settings).player(media.code, options),
            "path": f"/{media.code}/config.jsonp",
            "title": media.title or "Video",
            "ratio": round(100 * height / width, 4),
        }

    try:
        config = await run_unit_of_work(request, work)
    except DomainError as error:
        # Browsers run no script answered with an error status; the comment is for people.
        words = "video not found" if error.code == "not_found" else "video unavailable"
        return Response(
            f"/* Podium player: {words} */\n",
            status_code=watch.STATUS_BY_CODE[error.code],
            media_type="application/javascript",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
    body = PLAYER_SCRIPT.replace("CONFIG", script_literal(config))
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    # The same script for everyone with the same address; one that carries a buyer's password is
    # kept out of shared caches.
    scope = "private" if "id_recovery" in request.query_params else "public"
    headers = {
        "Cache-Control": f"{scope}, max-age={SCRIPT_CACHE_SECONDS}",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # Loadable from pages that isolate themselves (Cross-Origin-Embedder-Policy: require-corp).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)


@router.get("/{code:media_code}", response_class=HTMLResponse, responses=page())
async def bare_player(request: Request, code: str) -> HTMLResponse:
    """Boomstream's iframe embed ``<base>/<media code>``: the watch page of that media, embedded."""
    return await watch.player_page(request, code, embed=True, title_shown=True)


def script_literal(value: Any) -> str:
    """``value`` as a JavaScript literal that is safe anywhere, even inside an HTML ``<script>``."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))  # also escapes U+2028, U+2029
    for char in "<>&'":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


# document.currentScript is only set while the script first runs (an async one too): it is taken
# there, as the argument. Every tag on a page runs once and places its own player.
PLAYER_SCRIPT = """\
/* Podium player: an iframe of the watch page, placed where this script's tag stands. */
(function (script, config) {
  "use strict";
  var MARK = "data-podium-player";
  if (!script) {
    // No currentScript (an old browser, a script loader): the first tag of this address not yet placed.
    var tags = document.getElementsByTagName("script");
    for (var i = 0; i < tags.length && !script; i++) {
      var src = tags[i].getAttribute("src") || "";
      if (src.indexOf(config.path) !== -1 && !tags[i].hasAttribute(MARK)) script = tags[i];
    }
  }
  if (!script || !script.parentNode || script.hasAttribute(MARK)) return;
  script.setAttribute(MARK, "placed");
  var box = document.createElement("div");
  box.className = "podium-player";
  box.style.cssText = "position:relative;width:100%;height:0;padding:" + config.ratio + "% 0 0 0";
  var frame = document.createElement("iframe");
  frame.src = config.src;
  frame.title = config.title;
  frame.setAttribute("allow", "autoplay; fullscreen; picture-in-picture");
  frame.setAttribute("allowfullscreen", "");
  frame.style.cssText = "position:absolute;top:0;left:0;width:100%;height:100%;border:0";
  box.appendChild(frame);
  script.parentNode.insertBefore(box, script);
})(document.currentScript, CONFIG);
"""
