"""Command-line service dates of the per-day stages that take a list (score, monitor)."""

from __future__ import annotations

import argparse
import datetime as dt

from pipelines.errors import StageError


def add_day_list_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--date D` (repeatable) and/or `--start-date D --days N`; `what` says what happens to each date."""
    parser.add_argument("--date", "--day", dest="day", type=dt.date.fromisoformat, action="append",
                        default=[], help=f"service date to {what} (repeatable)")
    parser.add_argument("--start-date", type=dt.date.fromisoformat, help="first service date of a range")
    parser.add_argument("--days", type=int, default=1, help="number of service dates from --start-date")


def day_list(args: argparse.Namespace, stage: str) -> list[dt.date]:
    """The dates named on the command line, in the order given; StageError when none."""
    days = list(args.day)
    if args.start_date:
        days += [args.start_date + dt.timedelta(days=i) for i in range(args.days)]
    if not days:
        raise StageError(f"{stage}: give --date YYYY-MM-DD (repeatable) "
                         "or --start-date YYYY-MM-DD [--days N]")
    return days
