"""Key presses from the phone (rooms/phone/dtmf): ``telephone-event`` added to the SDP we send to Janus,
and RFC 4733 packets received by aiortc. Two aiortc peers connect in-process; the far one stands in
for Janus and sends hand-built RTP (key presses and PCMU audio) over the real SRTP transport, so the
packets go through aiortc's real parsing, routing and receiver: each key comes out once, the audio
is still decoded. aiortc's router is also driven directly for the routing choices."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport, RtpRouter
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from podium.rooms.phone import dtmf
from tests.fixtures.event_loop import run_async

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

JANUS_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4242 1 IN IP4 127.0.0.1",
        "s=Janus SIP plugin",
        "t=0 0",
        "a=group:BUNDLE audio",
        "m=audio 9 UDP/TLS/RTP/SAVPF 0 8 101",
        "c=IN IP4 127.0.0.1",
        "a=sendrecv",
        "a=mid:audio",
        "a=rtcp-mux",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ssrc:12345 cname:janus",
        "m=audio 9 UDP/TLS/RTP/SAVPF 0",
        "a=mid:second",
        "a=rtpmap:0 PCMU/8000",
        "",
    ]
)
PCMU_SILENCE = b"\xff" * 160  # 20 ms at 8 kHz


@pytest.fixture(autouse=True)
def wraps() -> Iterator[None]:
    dtmf.install()
    dtmf.install()  # idempotent
    yield
    dtmf.uninstall()


def _peer() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # host candidates only: no STUN look-up


def _key(event: int, timestamp: int, seq: int, ssrc: int, pt: int, end: bool = True) -> list[RtpPacket]:
    """One key press as a phone sends it (RFC 4733): updates while it is held (the first marked), then
    the end packet three times, all with the press's timestamp."""
    packets = []
    for i, (ending, duration) in enumerate([(False, 160), (False, 320), *[(True, 480)] * 3]):
        if ending and not end:
            break
        payload = bytes([event, (0x80 if ending else 0) | 10]) + duration.to_bytes(2, "big")
        packets.append(RtpPacket(pt, int(i == 0), seq + i, timestamp, ssrc, payload))
    return packets


# -- SDP ---------------------------------------------------------------------------------------------


def test_the_offer_payload_type_is_read_from_the_first_audio_section() -> None:
    assert dtmf.telephone_event_pt(JANUS_OFFER) == 101
    assert dtmf.telephone_event_pt(JANUS_OFFER.replace(" 0 8 101\r\n", " 0 8\r\n")) is None  # not offered
    assert (
        dtmf.telephone_event_pt(JANUS_OFFER.replace("telephone-event/8000", "telephone-event/48000")) is None
    )
    assert dtmf.telephone_event_pt("v=0\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n") is None


def test_telephone_event_goes_into_the_first_audio_section_only() -> None:
    sdp = JANUS_OFFER.replace(" 0 8 101\r\n", " 0 8\r\n").replace(
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n", ""
    )
    munged = dtmf.with_telephone_event(sdp, 96)
    lines = munged.split("\r\n")
    assert munged.endswith("\r\n") and "\n" not in munged.replace("\r\n", "")
    assert lines[5] == "m=audio 9 UDP/TLS/RTP/SAVPF 0 8 96"
    assert lines[10:14] == [
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:96 telephone-event/8000",
        "a=fmtp:96 0-16",
    ]
    assert munged.split("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n")[1] == "a=mid:second\r\na=rtpmap:0 PCMU/8000\r\n"
    assert dtmf.telephone_event_pt(munged) == 96
    assert dtmf.with_telephone_event(munged, 96) == munged  # already there
    with pytest.raises(ValueError, match="taken"):
        dtmf.with_telephone_event(sdp, 8)


def test_a_free_payload_type_is_101_unless_taken() -> None:
    assert dtmf.free_payload_type(JANUS_OFFER.replace(" 101\r\n", "\r\n").replace(":101 ", ":99 ")) == 101
    assert dtmf.free_payload_type(JANUS_OFFER) == 96  # 101 is on the m= line
    taken = JANUS_OFFER.replace(" 0 8 101", " 0 8 101 96 97").replace(
        "a=fmtp:101 0-16", "a=fmtp:101 0-16\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:97 G722/8000"
    )
    assert dtmf.free_payload_type(taken) == 98


def test_aiortc_offers_and_answers_with_telephone_event() -> None:
    """On real aiortc descriptions: an offer gets 101 (aiortc's Opus is 96); an answer mirrors the
    remote offer's number (101, or 96 when Opus is not offered), or stays as it is without one."""

    async def scenario() -> None:
        ours = _peer()
        ours.addTransceiver("audio", direction="sendrecv")
        await ours.setLocalDescription(await ours.createOffer())
        offer, pt = dtmf.offer_with_telephone_event(ours.localDescription.sdp)
        assert pt == 101 and dtmf.telephone_event_pt(offer) == 101
        assert "\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n" in offer

        pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]
        for telephone_event in (101, 96, None):
            janus, answerer = _peer(), _peer()
            janus.addTransceiver("audio", direction="sendrecv").setCodecPreferences(pcmu)
            await janus.setLocalDescription(await janus.createOffer())
            remote = janus.localDescription.sdp
            if telephone_event is not None:
                remote = dtmf.with_telephone_event(remote, telephone_event)
            await answerer.setRemoteDescription(RTCSessionDescription(remote, "offer"))
            await answerer.setLocalDescription(await answerer.createAnswer())
            answer = answerer.localDescription.sdp
            munged, answer_pt = dtmf.answer_with_telephone_event(answer, remote)
            assert answer_pt == telephone_event
            assert dtmf.telephone_event_pt(munged) == telephone_event
            if telephone_event is None:
                assert munged == answer
            await janus.setRemoteDescription(RTCSessionDescription(munged, "answer"))  # aiortc takes it
            await janus.close()
            await answerer.close()
        await ours.close()

    run_async(scenario(), timeout=10)


# -- RTP ---------------------------------------------------------------------------------------------


def test_key_presses_come_out_once_and_the_audio_still_plays() -> None:
    """Our peer offers (as the gateway calls out), the far one answers as Janus would (mirroring the
    offer's telephone-event) and sends from an SSRC its SDP does not announce, a key press first."""

    async def scenario() -> None:
        ours, far = _peer(), _peer()
        try:
            transceiver = ours.addTransceiver("audio", direction="sendrecv")
            await ours.setLocalDescription(await ours.createOffer())
            offer, pt = dtmf.offer_with_telephone_event(ours.localDescription.sdp)
            digits: list[str] = []
            dtmf.listen(transceiver.receiver, pt, digits.append)
            await far.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            far.getTransceivers()[0].direction = "sendrecv"  # aiortc would answer recvonly: nothing to send
            await far.setLocalDescription(await far.createAnswer())
            answer, _ = dtmf.answer_with_telephone_event(far.localDescription.sdp, offer)
            await ours.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            # aiortc says "connected" before it starts the receivers (and routes nothing to them until then)
            router = transceiver.receiver.transport._rtp_router
            while not (far.connectionState == "connected" and transceiver.receiver in router.receivers):
                await asyncio.sleep(0.01)

            ssrc, seq, ts = 0x5EED, 1000, 80_000
            packets = _key(1, ts, seq, ssrc, pt)  # before any audio: the SSRC is learnt from it
            seq += len(packets)
            for i in range(8):
                packets.append(RtpPacket(0, 0, seq, ts + 160 * i, ssrc, PCMU_SILENCE))
                seq += 1
            for event, end in [(2, True), (3, False), (11, True), (12, True)]:  # "2", "3" held, "#", "A"
                ts += 1600
                packets += _key(event, ts, seq, ssrc, pt, end=end)
                seq += 5
            send = far.getTransceivers()[0].sender.transport._send_rtp
            for packet in packets:
                await send(packet.serialize())

            for _ in range(200):  # "A" is the last one sent: once it is out, all before it was handled
                if "A" in digits:
                    break
                await asyncio.sleep(0.01)
            # Each once, though its end came three times; "3" was held and never ended.
            assert digits == ["1", "2", "#", "A"]

            frame = await asyncio.wait_for(transceiver.receiver.track.recv(), 2)  # PCMU decoded by aiortc
            assert frame.sample_rate == 8000
            stats = [s for s in (await transceiver.receiver.getStats()).values() if s.type == "inbound-rtp"]
            assert [(s.ssrc, s.packetsReceived) for s in stats] == [(ssrc, 8)]  # key presses kept out
        finally:
            await ours.close()
            await far.close()

    run_async(scenario(), timeout=4)


def test_the_router_sends_an_event_to_the_one_receiver_listening() -> None:
    async def scenario() -> None:
        transport = RTCDtlsTransport(
            RTCIceTransport(RTCIceGatherer(iceServers=[])), [RTCCertificate.generateCertificate()]
        )
        first, second = RTCRtpReceiver("audio", transport), RTCRtpReceiver("audio", transport)
        router = RtpRouter()
        router.register_receiver(first, ssrcs=[], payload_types=[0], mid="0")
        router.register_receiver(second, ssrcs=[22], payload_types=[8], mid="1")

        def route(pt: int, ssrc: int) -> object:
            return router.route_rtp(
                RtpPacket.parse(RtpPacket(pt, 0, 1, 1, ssrc, b"\x01\x80\x00\xa0").serialize())
            )

        dtmf.listen(first, 101, lambda digit: None)
        assert route(102, 11) is None  # no one listens to it: aiortc drops it
        assert route(101, 22) is None  # the SSRC is a receiver's that does not listen
        assert route(101, 11) is first and router.ssrc_table[11] is first  # learnt
        assert route(0, 11) is first  # the audio follows
        assert route(8, 22) is second

        dtmf.listen(second, 101, lambda digit: None)
        assert route(101, 22) is second
        assert route(101, 33) is None and 33 not in router.ssrc_table  # two listen: no guess
        dtmf.forget(second)
        assert route(101, 22) is None
        assert route(0, 44) is first  # aiortc's own learning

    run_async(scenario(), timeout=4)
