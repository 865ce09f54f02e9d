"""Stable identifiers."""

from __future__ import annotations

import datetime as dt
import hashlib


def departure_id(service_date: dt.date | str, train_number: str, station: str) -> str:
    """16 hex chars identifying one departure of a train run from a station."""
    key = f"{service_date}|{train_number}|{station}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]
