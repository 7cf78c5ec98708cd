"""The ingest adapter of Boomstream lives: an RTMP server (nginx with Debian's libnginx-mod-rtmp) that
Podium configures, starts and stops itself (``rtmp.py``), and the loopback callbacks through which it
asks Podium whether a publisher may go on air (``callbacks.py``). The rules are in domain/lives."""
