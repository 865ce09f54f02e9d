"""The Evidently adapter on real Evidently: pinned tests per column, drift or not, edge columns, HTML."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from pipelines import schema as s
from pipelines.config import load_params
from pipelines.monitoring import checks as monitor_checks
from pipelines.monitoring import evidently_adapter as drift_adapter

pytestmark = pytest.mark.unit

N = 1500  # above 1000 rows: Evidently's own default would be Wasserstein / Jensen-Shannon


def frame(seed: int, mean: float = 0.0, cats: tuple[str, ...] = ("a", "b", "c")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(mean, 1.0, N), "k": rng.choice(cats, N)})


def run(ref: pd.DataFrame, cur: pd.DataFrame, num: str, cat: str, threshold: float) -> dict[str, dict]:
    methods, thresholds = {"x": num, "k": cat}, {"x": threshold, "k": threshold}
    snapshot = drift_adapter.build_report(ref, cur, methods, thresholds, {"k"})
    return drift_adapter.column_results(snapshot)


@pytest.mark.parametrize(("num", "cat", "threshold"), [("wasserstein", "jensenshannon", 0.1),
                                                       ("ks", "chisquare", 0.05)])
def test_pinned_method_is_what_evidently_used(num, cat, threshold) -> None:
    same = run(frame(1), frame(2), num, cat, threshold)
    assert (same["x"]["method"], same["k"]["method"]) == (num, cat)
    assert same["x"]["threshold"] == same["k"]["threshold"] == threshold
    assert not same["x"]["drifted"] and not same["k"]["drifted"]
    shifted = run(frame(1), frame(2, mean=0.6, cats=("a", "b", "c", "c", "c")), num, cat, threshold)
    assert shifted["x"]["drifted"] and shifted["k"]["drifted"]
    if num == "ks":  # p-values: drift below the threshold
        assert shifted["x"]["score"] < threshold <= same["x"]["score"]
    else:  # distances: drift at or above the threshold
        assert shifted["x"]["score"] >= threshold > same["x"]["score"]


def test_stat_test_matches_the_report() -> None:
    ref, cur = frame(1), frame(2, mean=0.3)
    report = run(ref, cur, "wasserstein", "jensenshannon", 0.1)
    direct = drift_adapter.stat_test(ref["x"], cur["x"], "wasserstein", 0.1)
    assert direct["score"] == pytest.approx(report["x"]["score"])
    assert direct["drifted"] == report["x"]["drifted"]


def test_edge_columns_are_judged_not_skipped() -> None:
    """All-NaN, constant and unseen-category columns through monitor_checks.data_drift."""
    monitor = load_params().monitor
    ref = pd.DataFrame({c: np.arange(N, dtype="float64") % 7 for c in s.FEATURE_NUMERIC})
    for c in s.FEATURE_CATEGORICAL:
        ref[c] = np.where(np.arange(N) % 2, "u", "v")
    cur = ref.copy()
    ref[s.DEST_BOARD_FORECAST] = np.nan               # empty on both sides: untestable, not drift
    cur[s.DEST_BOARD_FORECAST] = np.nan
    cur[s.DELAY_TREND] = np.nan                       # vanished in the current window: drift
    ref[s.PLATFORM_CHANGE] = cur[s.PLATFORM_CHANGE] = 0.0  # constant and equal: no drift
    ref[s.REASON_CODE] = cur[s.REASON_CODE] = "none"       # constant categorical
    cur[s.LINE] = "never-seen"                        # every current value unseen
    _, cols = monitor_checks.data_drift(ref, cur, dataclasses.replace(monitor, exclude_columns=()))
    assert cols[s.DEST_BOARD_FORECAST] | {"drifted": False} == cols[s.DEST_BOARD_FORECAST]
    assert cols[s.DEST_BOARD_FORECAST]["status"] == "untestable"
    assert cols[s.DELAY_TREND]["drifted"] and cols[s.DELAY_TREND]["status"] == "untestable"
    assert not cols[s.PLATFORM_CHANGE]["drifted"] and not cols[s.REASON_CODE]["drifted"]
    assert cols[s.LINE]["drifted"] and cols[s.LINE]["method"] == "jensenshannon"
    assert monitor_checks.unseen_categories(ref, cur, [s.LINE])[s.LINE]["share"] == 1.0
    nulls = monitor_checks.null_rates(ref, cur, [s.DELAY_TREND, s.DEST_BOARD_FORECAST], 0.1)
    assert nulls[s.DELAY_TREND]["drifted"] and not nulls[s.DEST_BOARD_FORECAST]["drifted"]


def test_html_is_self_contained_and_byte_identical(tmp_path) -> None:
    ref, cur = frame(1), frame(2, mean=0.5)
    first = drift_adapter.save_html(drift_adapter.build_report(ref, cur, {"x": "ks"}, {"x": 0.05}, set()),
                                    tmp_path / "a" / "report.html")
    second = drift_adapter.save_html(drift_adapter.build_report(ref, cur, {"x": "ks"}, {"x": 0.05}, set()),
                                     tmp_path / "b" / "report.html")
    assert first.read_bytes() == second.read_bytes()
    html = first.read_text(encoding="utf-8")
    assert "Value Drift for column x" in html and "<script" in html
    assert "cdn." not in html.split("<script", 1)[0]  # nothing fetched before the inline bundle


HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)><!-- & "quoted"'


class Tags(HTMLParser):
    """Start tags as a browser's tokenizer sees them (script content is raw text up to `</script`)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.seen: Counter = Counter()
        self.feed(page)

    def handle_starttag(self, tag, attrs) -> None:
        self.seen[tag] += 1


def test_hostile_board_strings_cannot_break_out_of_the_report(tmp_path) -> None:
    """A board string in every categorical column (the report is attached to the drift email): before,
    `</script>` ended Evidently's data block and the rest ran as script and markup."""
    def board(seed: int, values: list[str]) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return pd.DataFrame({"x": rng.normal(0, 1, N),
                             **{c: rng.choice(values, N) for c in s.FEATURE_CATEGORICAL}})

    methods = {"x": "ks", **{c: "jensenshannon" for c in s.FEATURE_CATEGORICAL}}
    pages = {}
    for name, value in (("benign", "plain text"), ("hostile", HOSTILE)):
        snapshot = drift_adapter.build_report(board(1, ["a", "b"]), board(2, ["a", value]), methods,
                                              dict.fromkeys(methods, 0.1), set(s.FEATURE_CATEGORICAL))
        pages[name] = drift_adapter.save_html(snapshot, tmp_path / name / "report.html").read_text()
    assert Tags(pages["hostile"]).seen == Tags(pages["benign"]).seen, "no tag came from the data"
    data = re.findall(r"^\s*var \w+ = (.*);$", pages["hostile"], re.M)
    assert HOSTILE not in pages["hostile"] and "<" not in "".join(data)
    outside = re.sub(r"^\s*var \w+ = .*;$", "", pages["hostile"], flags=re.M)
    assert "alert(" not in outside and "alert(" in "".join(data)
    shown = json.dumps([json.loads(d) for d in data], ensure_ascii=False)
    assert json.dumps(HOSTILE)[1:-1] in shown, "the chart still shows the value as it came"


def test_sample_is_fixed_and_bounded() -> None:
    big = pd.DataFrame({s.DEPARTURE_ID: [f"{i:06d}" for i in range(5000)], "x": np.arange(5000)})
    a = monitor_checks.sample(big.sample(frac=1.0, random_state=3), 500, 7)
    b = monitor_checks.sample(big, 500, 7)
    assert len(a) == 500 and a.equals(b)
    assert monitor_checks.sample(big.head(10), 500, 7).shape[0] == 10


def test_skill_and_its_threshold() -> None:
    label = np.array([10.0, 20.0, 30.0, 40.0])
    persistence = label - 8.0
    now = monitor_checks.skill_figures(label, label - 6.0, persistence)
    assert now["skill"] == pytest.approx(0.25) and now["n"] == 4
    monitor = dataclasses.replace(load_params().monitor, min_labeled_rows=4, skill_ratio_threshold=0.8)
    holdout = monitor_checks.skill_figures(label, label - 2.0, persistence)  # 0.75
    check = monitor_checks.skill_check(now, holdout, monitor)
    assert check["judged"] and check["degraded"] and check["threshold"] == pytest.approx(0.6)
    few = monitor_checks.skill_check(now, holdout, dataclasses.replace(monitor, min_labeled_rows=5))
    assert not few["judged"] and not few["degraded"]


def test_unseen_categories_signal_drift_above_their_threshold() -> None:
    """New values (a timetable change's new lines) are a drift signal of their own, with a threshold."""
    monitor = load_params().monitor
    ref = pd.DataFrame({c: np.arange(N, dtype="float64") % 7 for c in s.FEATURE_NUMERIC})
    for c in s.FEATURE_CATEGORICAL:
        ref[c] = np.where(np.arange(N) % 2, "u", "v")
    few, many = ref.copy(), ref.copy()
    few.loc[few.index[:10], s.LINE] = "RE 99"          # 0.7% of rows: below the threshold
    many.loc[many.index[:150], s.LINE] = "RE 99"       # 10% of rows
    quiet = monitor_checks.check_window(monitor, ref, few)[1]
    loud = monitor_checks.check_window(monitor, ref, many)[1]
    assert not quiet["signals"]["unseen_categories"]
    assert loud["signals"]["unseen_categories"] and loud["drifted"]
    assert loud["unseen_categories"][s.LINE] == {"share": 0.1, "examples": ["RE 99"],
                                                 "threshold": monitor.unseen_share_threshold, "drifted": True}
