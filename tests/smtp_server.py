"""A real SMTP server's handler for tests (aiosmtpd on loopback): records deliveries, refuses on cue."""

from __future__ import annotations

import email
import socket


class Server:
    """An SMTP handler that records each delivery with its envelope recipients, and refuses on cue:
    `rcpt` maps a recipient to the replies its next RCPT commands get (None: accept), and a message
    whose bytes contain `poison` is refused for good at DATA."""

    def __init__(self, rcpt: dict[str, list[str | None]] | None = None, poison: bytes = b"POISON") -> None:
        self.rcpt, self.poison = rcpt or {}, poison
        self.deliveries: list[tuple[list[str], email.message.Message]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        replies = self.rcpt.get(address) or [None]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.poison in envelope.content:
            return "554 5.6.0 message refused"
        self.deliveries.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        """Message-IDs delivered to `address`, in order."""
        return [m["Message-ID"] for tos, m in self.deliveries if address in tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
