"""SMTP delivery with the settings of the Airflow connection `smtp_default` (AIRFLOW_CONN_SMTP_DEFAULT).

The provider's SmtpHook rebuilds every message from subject and HTML; the outbox stores finished
RFC 5322 bytes with their Message-ID, so this sends those bytes with smtplib, reading the connection
the same way the provider does: SSL and STARTTLS on unless the extras `disable_ssl`/`disable_tls` say
otherwise, `timeout` (default 30 s).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse


def connection(conn_id: str) -> dict[str, Any]:
    """The connection `conn_id` from AIRFLOW_CONN_<ID> (JSON or URI form) as a plain dict."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        raise ConnectionError(f"SMTP connection {conn_id!r} is not defined: "
                              f"set AIRFLOW_CONN_{conn_id.upper()}")
    if raw.lstrip().startswith("{"):
        conn = json.loads(raw)
        extra = conn.get("extra") or {}
        conn["extra"] = json.loads(extra) if isinstance(extra, str) else extra
        return conn
    url = urlparse(raw)
    return {"conn_type": url.scheme, "host": url.hostname, "port": url.port,
            "login": unquote(url.username or ""), "password": unquote(url.password or ""),
            "extra": dict(parse_qsl(url.query))}


def _flag(extra: dict, key: str) -> bool:
    value = extra.get(key, False)
    return value.lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)


def send_message(conn_id: str, msg: Message) -> None:
    """Deliver one message; raises OSError (incl. smtplib errors) unless the server accepted it."""
    conn = connection(conn_id)
    extra = conn.get("extra") or {}
    host, timeout = conn.get("host") or "localhost", float(extra.get("timeout", 30))
    use_ssl, use_tls = not _flag(extra, "disable_ssl"), not _flag(extra, "disable_tls")
    port = int(conn.get("port") or (465 if use_ssl else 25))
    if use_ssl:
        context = ssl.create_default_context()
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if use_tls and not use_ssl:
            client.starttls(context=ssl.create_default_context())
        if conn.get("login"):
            client.login(conn["login"], conn.get("password") or "")
        refused = client.send_message(msg)
    if refused:  # some recipients refused: keep it pending rather than lose those deliveries
        raise smtplib.SMTPRecipientsRefused(refused)
