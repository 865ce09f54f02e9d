"""One HTTP GET of a departure board with the stdlib, never raising: network trouble becomes `error`."""

from __future__ import annotations

import functools
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

USER_AGENT = "railcast-ingest/0.1 (+https://github.com/railcast; polite: <=10 req/min)"
STATION_ERRORS = ("unknown station", "got no results", "ambiguous")
SCHEMES = ("http", "https")   # a board URL with another scheme (file://, ftp://) is refused


@dataclass(frozen=True)
class Fetched:
    """What came back: status and body when the server answered, `error` when the exchange failed."""

    status: int | None
    date_header: str | None
    body: bytes | None
    error: str | None


class RedirectRefused(urllib.error.URLError):
    """A redirect to another host (or scheme than http/https): a misconfigured base URL, or an attempt
    to make the poller fetch something else. Never followed."""


class _SameHostOnly(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same host and port (http to https on it included)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 (stdlib signature)
        old, new = urlsplit(req.full_url), urlsplit(urljoin(req.full_url, newurl))
        if new.scheme not in SCHEMES or (new.hostname, _port(new)) != (old.hostname, _port(old)):
            raise RedirectRefused(f"redirect_refused: {code} to {new.scheme}://{new.netloc}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _port(parts) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme)


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_SameHostOnly)


def check_base_url(base_url: str, allowed_hosts: tuple[str, ...] = ()) -> None:
    """Refuse a board base URL that is not http(s)://host[:port][/path], or whose host is not one of
    `allowed_hosts` when that list is set (redirects stay on the base URL's host anyway)."""
    parts = urlsplit(base_url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(f"the board base URL must be http:// or https:// with a host, got {base_url!r}")
    if allowed_hosts and parts.hostname.lower() not in {h.lower() for h in allowed_hosts}:
        raise ValueError(f"the board host {parts.hostname!r} is not in ingest.allowed_hosts "
                         f"{list(allowed_hosts)}")


def board_url(base_url: str, station: str) -> str:
    """`{base}/{station}?mode=json&version=3`, the station name (or EVA number) URL-encoded."""
    return f"{base_url.rstrip('/')}/{quote(station, safe='')}?mode=json&version=3"


def _read(resp, max_bytes: int) -> tuple[bytes, str | None]:
    """The body (at most one byte past the limit: enough to see "oversized"), and "incomplete_read"
    when the connection closed before Content-Length bytes arrived (a bounded read does not raise)."""
    data = resp.read(max_bytes + 1)
    promised = resp.headers.get("Content-Length")
    if promised and promised.isdigit() and len(data) < min(int(promised), max_bytes + 1):
        return data, "incomplete_read"
    return data, None


def fetch(url: str, timeout_s: float, max_bytes: int) -> Fetched:
    """GET `url`; every outcome (HTTP error, timeout, cut-off body, refused connection) is a Fetched."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    status = date = None
    try:
        with _opener().open(request, timeout=timeout_s) as resp:
            status, date = resp.status, resp.headers.get("Date")
            return Fetched(status, date, *_read(resp, max_bytes))
    except urllib.error.HTTPError as exc:
        status, date = exc.code, exc.headers.get("Date") if exc.headers else None
        try:
            return Fetched(status, date, *_read(exc, max_bytes))
        except http.client.IncompleteRead as cut:
            return Fetched(status, date, cut.partial, "incomplete_read")
        except (OSError, http.client.HTTPException) as err:
            return Fetched(status, date, None, f"{type(err).__name__}: {err}")
        finally:
            exc.close()
    except http.client.IncompleteRead as cut:
        return Fetched(status, date, cut.partial, "incomplete_read")
    except TimeoutError:
        return Fetched(status, date, None, "timeout")
    except RedirectRefused as exc:
        return Fetched(status, date, None, str(exc.reason))
    except urllib.error.URLError as exc:
        reason = "timeout" if isinstance(exc.reason, TimeoutError) else f"url_error: {exc.reason}"
        return Fetched(status, date, None, reason)
    except (OSError, http.client.HTTPException) as exc:
        return Fetched(status, date, None, f"{type(exc).__name__}: {exc}")


def error_text(body: bytes | None) -> str | None:
    """The `error` message of an error body, or None for anything else."""
    if not body or len(body) > 100_000:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return str(doc["error"]) if isinstance(doc, dict) and "error" in doc else None


def is_configuration_error(fetched: Fetched) -> bool:
    """Unknown, ambiguous or unmatched station (HTTP 300, 4xx, or such an error body), or a redirect to
    another host: never retry."""
    if (fetched.error or "").startswith("redirect_refused"):
        return True
    if fetched.status == 300 or (
        fetched.status is not None and 400 <= fetched.status < 500 and fetched.status != 429
    ):
        return True
    message = (error_text(fetched.body) or "").lower()
    return any(marker in message for marker in STATION_ERRORS)


def is_retryable(fetched: Fetched) -> bool:
    """Network failures, 5xx, 429 and error bodies that do not blame the station: try again later."""
    if is_configuration_error(fetched):
        return False
    if fetched.error is not None or fetched.status is None:
        return True
    return fetched.status >= 500 or fetched.status == 429 or error_text(fetched.body) is not None
