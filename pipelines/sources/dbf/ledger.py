"""Accounting of one ingest interval: every poll attempt and every record lands in exactly one bucket."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

POLL_STATUSES = ("ok", "failed", "quarantined")


@dataclass
class IngestLedger:
    """Running counts; `to_dict` gives the JSON written to `ledger/ingest/<start>_<end>.json`."""

    polls: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    raw: Counter = field(default_factory=Counter)

    def add_poll(self, status: str, reason: str | None = None) -> None:
        """Count one poll attempt with its outcome."""
        if status not in POLL_STATUSES:
            raise ValueError(f"unknown poll status {status!r}")
        self.polls["attempted"] += 1
        self.polls[status] += 1
        if reason and status != "ok":
            self.reasons[f"poll:{reason}"] += 1

    def add_records(self, accepted: int, duplicates: int, quarantined_reasons: list[str]) -> None:
        """Count the records of one successful poll."""
        self.records["seen"] += accepted + duplicates + len(quarantined_reasons)
        self.records["accepted"] += accepted
        self.records["duplicates"] += duplicates
        self.records["quarantined"] += len(quarantined_reasons)
        for reason in quarantined_reasons:
            self.reasons[f"record:{reason}"] += 1

    def to_dict(self) -> dict[str, Any]:
        """The ledger as plain JSON-able counts (all buckets present, even when zero)."""
        polls = {
            "attempted": self.polls["attempted"],
            "succeeded": self.polls["ok"],
            "failed": self.polls["failed"],
            "quarantined": self.polls["quarantined"],
        }
        records = {k: self.records[k] for k in ("seen", "accepted", "duplicates", "quarantined")}
        raw = {k: self.raw[k] for k in ("files", "lines", "truncated_members", "corrupt_lines")}
        return {"polls": polls, "records": records, "raw": raw, "reasons": dict(sorted(self.reasons.items()))}


def check_ledger(ledger: dict[str, Any]) -> list[str]:
    """The equations a ledger breaks (empty when its counts add up)."""
    p, r = ledger["polls"], ledger["records"]
    problems = []
    if p["attempted"] != p["succeeded"] + p["failed"] + p["quarantined"]:
        problems.append(f"polls: attempted {p['attempted']} != succeeded + failed + quarantined")
    if r["seen"] != r["accepted"] + r["duplicates"] + r["quarantined"]:
        problems.append(f"records: seen {r['seen']} != accepted + duplicates + quarantined")
    if ledger["raw"]["lines"] + ledger["raw"]["corrupt_lines"] != p["attempted"]:
        problems.append("raw: lines read + corrupt lines != polls attempted")
    return problems
