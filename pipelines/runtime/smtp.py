"""SMTP delivery through the Airflow SMTP provider's connection (`SmtpHook`), answered per recipient.

The hook reads the Airflow connection (`AIRFLOW_CONN_SMTP_DEFAULT`, the metadata database or a secrets
backend), opens the client with the connection's SSL, STARTTLS and timeout settings and logs in. Its
`send_email_smtp` would rebuild each message from a subject and HTML and drop the server's answer per
recipient; the outbox needs its stored bytes sent as they are (stable Message-ID) and that answer kept,
so it takes the hook's logged-in client and calls `sendmail` itself.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

Refusals = dict[str, tuple[int, str]]  # recipient -> (SMTP code, the server's reply)
Send = Callable[[str, list[str], bytes], Refusals]


class Unreachable(ConnectionError):
    """The server, or the connection's settings, cannot take any mail now; nothing was delivered."""


def _text(reply: object) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _send(client: smtplib.SMTP, sender: str, recipients: list[str], content: bytes) -> Refusals:
    try:
        refused = client.sendmail(sender, recipients, content)
    except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
        refused = exc.recipients
    except smtplib.SMTPAuthenticationError as exc:
        raise Unreachable(f"login refused ({exc.smtp_code} {_text(exc.smtp_error)})") from exc
    except smtplib.SMTPResponseException as exc:  # sender or content refused: one answer for everyone
        refused = {r: (exc.smtp_code, exc.smtp_error) for r in recipients}
    except OSError as exc:  # includes a dropped session (SMTPServerDisconnected) and timeouts
        raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
    return {address: (int(code), _text(reply)) for address, (code, reply) in refused.items()}


@contextmanager
def session(conn_id: str) -> Iterator[Send]:
    """One logged-in SMTP session; yields send(sender, recipients, content) -> the refused recipients."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    try:
        hook = SmtpHook(smtp_conn_id=conn_id).get_conn()
    except Exception as exc:  # noqa: BLE001 - a missing connection, refused TCP, TLS: all "not now"
        raise Unreachable(f"SMTP connection {conn_id!r}: {type(exc).__name__}: {exc}; check the Airflow "
                          f"connection (e.g. AIRFLOW_CONN_{conn_id.upper()}) and that the server is "
                          f"up") from exc
    client = hook._smtp_client  # the provider's logged-in client (see the module docstring)
    try:
        yield lambda sender, recipients, content: _send(client, sender, recipients, content)
    finally:
        with suppress(OSError):
            client.quit()
