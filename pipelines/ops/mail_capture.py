"""The demo's local SMTP server: every accepted message lands as an .eml file, nothing leaves the machine.

File names derive from the Message-ID (the outbox keeps it stable), so a redelivery of the same alert
overwrites its own file instead of adding a duplicate; a message without one is named by its content hash.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
import socket
from pathlib import Path
from typing import Any

from pipelines.storage import atomic_path

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eml_name(data: bytes) -> str:
    """File name of a message: its Message-ID made filesystem-safe, else the sha1 of its bytes."""
    msg = email.message_from_bytes(data, policy=email.policy.SMTP)
    message_id = str(msg.get("Message-ID") or "").strip("<> ")
    stem = SAFE.sub("_", message_id) if message_id else hashlib.sha1(data).hexdigest()[:20]
    return f"{stem}.eml"


class EmlWriter:
    """aiosmtpd handler: write each accepted message atomically to `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        data = envelope.original_content or envelope.content
        data = data if isinstance(data, bytes) else str(data).encode()
        with atomic_path(self.directory / eml_name(data)) as tmp:
            tmp.write_bytes(data)
        return "250 Message accepted for delivery"


class MailCapture:
    """An SMTP server on 127.0.0.1 writing .eml files; a context manager that always stops it."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self._controller: Any = None

    def start(self) -> MailCapture:
        """Start serving (in a background thread of this process)."""
        from aiosmtpd.controller import Controller

        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(EmlWriter(self.directory), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Path]:
        """Captured .eml files, sorted by name."""
        return sorted(self.directory.glob("*.eml"))

    def connection(self, sender: str) -> dict:
        """The Airflow SMTP connection (AIRFLOW_CONN_SMTP_DEFAULT) that reaches this server in plain text."""
        return {"conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": sender}}

    def __enter__(self) -> MailCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def subjects(paths: list[Path]) -> list[str]:
    """Subject lines of captured messages, in the order given."""
    out = []
    for path in paths:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.SMTP)
        out.append(str(msg.get("Subject", "")))
    return out
