"""An HTTP/3 server on aioquic (PyPI): the lab's h3 client's peer that no one here wrote.

usage: aioquic_server.py PORT CERT KEY

Serves HTTP/3 on UDP PORT (every address) with CERT and KEY: a GET of /obj/SIZE/ANYTHING is
answered 200 with SIZE bytes of filler; any other path, 404. UDP only: for an h3-only run
`httplab run --server-cmd` waits until a UDP socket is bound on PORT. Runs until killed."""
import asyncio
import sys

from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated


class Server(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.http = None

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self.http = H3Connection(self._quic)
        if self.http is None:
            return
        for ev in self.http.handle_event(event):
            if not isinstance(ev, HeadersReceived):
                continue
            path = dict(ev.headers).get(b":path", b"/").decode()
            parts = path.split("/")
            if len(parts) >= 3 and parts[1] == "obj" and parts[2].isdigit():
                status, body = b"200", b"x" * int(parts[2])
            else:
                status, body = b"404", b"not found\n"
            self.http.send_headers(
                ev.stream_id,
                [(b":status", status), (b"content-length", str(len(body)).encode()),
                 (b"server", b"aioquic")],
            )
            self.http.send_data(ev.stream_id, body, end_stream=True)
        self.transmit()


async def main(port, cert, key):
    config = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    config.load_cert_chain(cert, key)
    await serve("0.0.0.0", port, configuration=config, create_protocol=Server)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
