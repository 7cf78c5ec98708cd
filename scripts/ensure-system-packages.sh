#!/usr/bin/env bash
# Installs the Debian packages Podium's tests and server use when they are missing:
# chromium (browser tests), janus and libjs-janus-gateway (media rooms), ffmpeg (media transcoding),
# npm (fetches the watch page's player library, hls.js, from the machine's configured npm registry),
# janus-tools (recordings), espeak-ng (dial-out invitations spoken to the callee; speech for the recording tests), baresip-core and sip-tester (a SIP phone and
# a scripted SIP caller for the telephony tests), kamailio (the dial-in SIP front: Podium starts its own with a config it writes, never
# the system's service), and nginx with
# libnginx-mod-rtmp (the RTMP ingest of Boomstream lives: Podium starts its own nginx with a config it
# writes; the system's nginx service is never used, nor started by this install).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || [ -n "${PODIUM_CHROMIUM:-}" ] || missing+=(chromium)
command -v janus >/dev/null || missing+=(janus)
[ -f /usr/share/javascript/janus-gateway/janus.js ] || missing+=(libjs-janus-gateway)
{ command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; } || missing+=(ffmpeg)
# Recordings: janus-pp-rec turns the media server's .mjr recordings into media files.
command -v janus-pp-rec >/dev/null || missing+=(janus-tools)
# Tests: speech for the fake microphones of recorded and transcribed meetings.
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
# Tests: the phone network of the telephony tests, a SIP user agent driven over its control socket
# (tests/fixtures/phone.py).
{ command -v baresip >/dev/null && [ -f /usr/lib/baresip/modules/ctrl_tcp.so ]; } || missing+=(baresip-core)
# Tests: a SIP caller that sends its keys as SIP INFO, which baresip does not (tests/fixtures/sipp/).
command -v sipp >/dev/null || missing+=(sip-tester)
# Dial-in: the SIP front on PODIUM_SIP_LISTEN (src/podium/rooms/phone/front.py runs kamailio).
command -v kamailio >/dev/null || [ -x /usr/sbin/kamailio ] || missing+=(kamailio)
# Lives: an RTMP server (src/podium/streaming/rtmp.py runs /usr/sbin/nginx with the rtmp module).
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing+=(libnginx-mod-rtmp)
# Benchmarks (`make bench`): wrk, a load generator that is not the bottleneck.
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || missing+=(wrk)
fi
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-system-packages: installing ${missing[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Packages must not start their services (nginx would take port 80, janus and kamailio their own
  # ports): Podium starts what it needs itself. Without systemd, invoke-rc.d asks policy-rc.d; 101
  # means "no".
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
