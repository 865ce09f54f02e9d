"""Command-line dates of the stages: one date or a range (validation, detection, features), a list
(score, monitor), or an as-of instant (train, evaluate). Dates become `datetime.date` here, at the edge."""

from __future__ import annotations

import argparse
import datetime as dt

from pipelines.config import Params
from pipelines.datasets import close_time
from pipelines.errors import StageError
from pipelines.timeutil import parse_date, parse_instant


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


def add_day_arguments(parser: argparse.ArgumentParser) -> None:
    """`--date D` or `--start-date D --days N`: the service dates to validate."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--date", type=parse_date, help="service date YYYY-MM-DD")
    group.add_argument("--start-date", type=parse_date, help="first service date YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1, help="number of service dates from --start-date")


def days_from_args(args: argparse.Namespace) -> list[dt.date]:
    """The service dates named on the command line."""
    first = args.date or args.start_date
    count = 1 if args.date else args.days
    return [first + dt.timedelta(days=i) for i in range(count)]


def as_of_range_end(params: Params, start_date: dt.date, days: int) -> dt.datetime:
    """The instant the last service date of [start_date, start_date + days) closes (DVC's as_of)."""
    return close_time(params, start_date + dt.timedelta(days=days - 1))


def as_of_from_args(params: Params, args: argparse.Namespace) -> dt.datetime:
    """`--as-of ISO`, or the close of the last day of `--start-date D --days N`."""
    if getattr(args, "as_of", None):
        return parse_instant(args.as_of)
    if getattr(args, "start_date", None) and getattr(args, "days", None):
        return as_of_range_end(params, args.start_date, args.days)
    raise StageError("give --as-of ISO, or --start-date YYYY-MM-DD with --days N")


def add_as_of_arguments(parser: argparse.ArgumentParser) -> None:
    """The as-of options train and evaluate share."""
    parser.add_argument("--as-of", default=None, help="ISO instant: data and labels known at this time")
    parser.add_argument("--start-date", type=parse_date, default=None,
                        help="with --days: as of the close of the range's last day")
    parser.add_argument("--days", type=int, default=None, help="number of service dates from --start-date")
