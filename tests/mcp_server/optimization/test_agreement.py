"""judge_agreement on hand-made labels and verdicts: pairing, normalizing, accuracy, Cohen's kappa
(checked against a hand calculation), the confusion matrix and the disagreeing traces."""

from __future__ import annotations

import pytest

from mcp_server.optimization.agreement import agreement_score, judge_agreement, normalize_label
from store import Database
from store.assessments import log_assessment, new_assessment, override_assessment
from store.errors import InvalidArgument, TraceNotFound
from tests.mcp_server.optimization.conftest import trace_id, write_traces

HUMAN = ["a", "a", "a", "b", "b", "c", "c", "c", "c", "a"]
JUDGE = ["a", "a", "b", "b", "b", "c", "c", "a", "c", "a"]
# By hand: 8 of 10 agree (traces 2 and 7 differ), so p_o = 0.8. The human gave a 4, b 2, c 4
# times; the judge a 4, b 3, c 3 times: p_e = (4*4 + 2*3 + 4*3) / 100 = 0.34.
# kappa = (0.8 - 0.34) / (1 - 0.34) = 0.46 / 0.66.
KAPPA = 0.46 / 0.66


def verdict(db: Database, n: int, value: object, *, version: int = 1, **fields: object) -> str:
    new = new_assessment(trace_id(n), "route", value, source_type="LLM_JUDGE", source_id=f"route@{version}",
                         rationale=fields.pop("rationale", f"verdict on {n}"), **fields)  # type: ignore[arg-type]
    return log_assessment(db, new)


def label(db: Database, n: int, value: object) -> str:
    new = new_assessment(trace_id(n), "route", value, source_type="HUMAN", source_id="expert@example.com")
    return log_assessment(db, new)


def test_agreement_pairs_the_latest_label_and_verdict_per_trace_and_computes_kappa(db: Database) -> None:
    write_traces(db, 14)
    verdict(db, 0, "c")  # an older verdict is replaced by the later one ...
    for n, (human, judged) in enumerate(zip(HUMAN, JUDGE, strict=True)):
        # Labels in other spellings are the same values once normalized.
        label(db, n, {"a": "A", "b": " b", "c": "c"}[human])
        verdict(db, n, judged, version=2, rationale="x" * 1000 if n == 7 else None)
    wrong = label(db, 1, "b")
    override_assessment(db, wrong, "a")  # ... and an overridden label by its override
    verdict(db, 3, None, error="the model timed out")  # a verdict without a value does not count
    label(db, 10, "a")  # labeled, never judged
    verdict(db, 11, "a")  # judged, never labeled
    label(db, 12, ["a", "b"])  # not one value

    report = judge_agreement(db, "route")

    assert report.pairs == 10 and report.accuracy == pytest.approx(0.8)
    assert report.kappa == pytest.approx(KAPPA)
    assert report.confusion_matrix == {"a": {"a": 3, "b": 1}, "b": {"b": 2}, "c": {"c": 3, "a": 1}}
    assert [(d.trace_id, d.human_value, d.judge_value) for d in report.disagreements] == [
        (trace_id(2), "a", "b"), (trace_id(7), "c", "a")
    ]
    assert report.disagreements[1].judge == "route@2" and len(report.disagreements[1].judge_rationale) == 306
    assert report.judge_versions == {"route@2": 10}
    assert (report.labels_without_verdict, report.unjudged_trace_ids) == (1, [trace_id(10)])
    assert report.verdicts_without_label == 1 and report.unusable_values == 1
    assert "80% of 10 traces (Cohen's kappa 0.70)" in report.message


def test_agreement_on_given_traces_only_and_unknown_traces_are_named(db: Database) -> None:
    write_traces(db, 4)
    for n in range(4):
        label(db, n, True)
        verdict(db, n, "yes" if n < 3 else "fail")

    report = judge_agreement(db, "route", trace_ids=[trace_id(2), trace_id(3).upper()])

    assert report.pairs == 2 and report.accuracy == 0.5
    assert report.confusion_matrix == {"true": {"true": 1, "false": 1}}
    with pytest.raises(TraceNotFound, match="f" * 32):
        judge_agreement(db, "route", trace_ids=["f" * 32])
    with pytest.raises(InvalidArgument, match="judge must be"):
        judge_agreement(db, " ")


def test_kappa_is_undefined_when_everyone_always_gives_the_same_value(db: Database) -> None:
    write_traces(db, 3)
    for n in range(3):
        label(db, n, "pass")
        verdict(db, n, True)

    report = judge_agreement(db, "route")

    assert report.accuracy == 1.0 and report.kappa is None
    assert "kappa is undefined: every human label and every verdict is 'true'" in report.kappa_note
    assert report.kappa_note in report.message


def test_no_labels_and_no_verdicts_say_what_to_do(db: Database) -> None:
    write_traces(db, 2)
    assert "there are no human labels named 'route'" in judge_agreement(db, "route").message
    label(db, 0, "yes")
    report = judge_agreement(db, "route")
    assert report.pairs == 0 and report.accuracy is None and "Evaluate(judges=['route']" in report.message


def test_values_are_normalized_before_they_are_compared() -> None:
    assert normalize_label("Yes") is True and normalize_label(" FAIL ") is False and normalize_label(False) is False
    assert normalize_label(1) == normalize_label("1.0") == 1.0 and normalize_label(" Billing") == "billing"
    assert normalize_label({"a": 1}) is None and normalize_label("") is None
    # Chance agreement of 0.5 and perfect agreement: kappa 1.
    assert agreement_score([(True, True), (False, False)]).kappa == 1.0
