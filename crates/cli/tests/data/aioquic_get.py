"""GETs paths over HTTP/3 with aioquic (PyPI), all on one QUIC connection, and prints JSON.

usage: aioquic_get.py PORT CAFILE PATH...

Connects to 127.0.0.1:PORT as `localhost`, trusting only CAFILE, offers ALPN h3, sends every
GET at once (a stream each) and waits, at most 20 s in all, for every response to end. Prints
{"alpn": ..., "responses": [{"path", "status", "bytes", "alt_svc"}...]}. Exits 1 on any failure.
aioquic is a QUIC and HTTP/3 stack no one here wrote: the interop test's peer."""
import asyncio
import json
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = H3Connection(self._quic)
        self.waiting = {}
        self.responses = {}

    def quic_event_received(self, event):
        for ev in self.http.handle_event(event):
            if not isinstance(ev, (HeadersReceived, DataReceived)):
                continue
            r = self.responses.setdefault(ev.stream_id, {"status": None, "bytes": 0, "alt_svc": None})
            if isinstance(ev, HeadersReceived):
                for name, value in ev.headers:
                    if name == b":status":
                        r["status"] = int(value)
                    elif name == b"alt-svc":
                        r["alt_svc"] = value.decode()
            else:
                r["bytes"] += len(ev.data)
            if ev.stream_ended and ev.stream_id in self.waiting:
                self.waiting.pop(ev.stream_id).set_result(r)

    async def get(self, authority, path):
        stream = self._quic.get_next_available_stream_id()
        self.http.send_headers(
            stream,
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", path.encode()),
                (b"user-agent", b"aioquic"),
            ],
            end_stream=True,
        )
        done = asyncio.get_running_loop().create_future()
        self.waiting[stream] = done
        self.transmit()
        return await done


async def main(port, cafile, paths):
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    config.load_verify_locations(cafile)
    config.server_name = "localhost"
    async with connect("127.0.0.1", port, configuration=config, create_protocol=Client) as client:
        got = await asyncio.wait_for(
            asyncio.gather(*(client.get(f"localhost:{port}", p) for p in paths)), 20
        )
        print(json.dumps({
            "alpn": client._quic.tls.alpn_negotiated,
            "responses": [dict(path=p, **r) for p, r in zip(paths, got)],
        }))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))
