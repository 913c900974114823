"""How well a judge agrees with people: its verdicts beside the human labels of the same name.

Human feedback named after the judge (source HUMAN, e.g. from a labeling session or LogFeedback)
is the label set. On each labeled trace the latest human label is paired with the judge's latest
verdict that has a value (feedback of the same name from LLM_JUDGE or CODE). Values are compared
after normalizing: true/'yes'/'pass' and false/'no'/'fail' are the same, numbers compare by
value (1 == 1.0 == '1'), other text compares without case or surrounding spaces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from store import Database
from store.assessments import AssessmentRecord, feedback_named
from store.errors import InvalidArgument
from store.traces import known_trace_ids

Label = bool | float | str
MAX_TRACE_IDS = 10_000
MAX_FEEDBACK = 200_000
"""Feedback rows one agreement reads; more asks for trace_ids."""
MAX_DISAGREEMENTS = 50
MAX_UNJUDGED_SHOWN = 20
RATIONALE_CHARS = 300

_TRUE = {"true", "yes", "pass"}
_FALSE = {"false", "no", "fail"}


def normalize_label(value: Any) -> Label | None:
    """The value as compared: a bool, a float or casefolded text; None for values that are not
    one verdict (lists, objects, nothing)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        try:
            return float(text)
        except ValueError:
            return text or None
    return None


def show_label(label: Label) -> str:
    """A normalized label as the reports name it: 'true', '4', 'billing'."""
    if isinstance(label, bool):
        return "true" if label else "false"
    if isinstance(label, float):
        return f"{label:g}"
    return label


class AgreementScore(BaseModel):
    """Agreement over pairs of (human label, judge verdict)."""

    pairs: int
    accuracy: float | None = Field(description="Share of pairs where the judge gave the human's value; None without pairs.")
    kappa: float | None = Field(
        description="Cohen's kappa: agreement beyond chance, 1 perfect, 0 chance level; None when undefined."
    )
    kappa_note: str | None = Field(None, description="Why kappa is None, when it is.")


def agreement_score(pairs: Sequence[tuple[Label, Label]]) -> AgreementScore:
    """Accuracy and Cohen's kappa of (human, judge) pairs of normalized labels."""
    n = len(pairs)
    if n == 0:
        return AgreementScore(pairs=0, accuracy=None, kappa=None, kappa_note="there are no pairs to compare.")
    observed = sum(human == judge for human, judge in pairs) / n
    humans = Counter(human for human, _ in pairs)
    judges = Counter(judge for _, judge in pairs)
    expected = sum(humans[k] * judges.get(k, 0) for k in humans) / (n * n)
    if expected >= 1.0 - 1e-12:
        # Both gave one and the same value on every trace: chance alone would agree everywhere.
        value = show_label(next(iter(humans)))
        return AgreementScore(
            pairs=n, accuracy=observed, kappa=None,
            kappa_note=f"kappa is undefined: every human label and every verdict is {value!r}, so chance "
            "agreement is 1; label traces where the right answer differs to measure it.",
        )
    return AgreementScore(pairs=n, accuracy=observed, kappa=(observed - expected) / (1.0 - expected))


class Disagreement(BaseModel):
    trace_id: str
    human_value: str
    judge_value: str
    judge: str | None = Field(description="The verdict's source, 'name@version'.")
    judge_rationale: str | None = Field(description=f"Cut to {RATIONALE_CHARS} characters.")


class AgreementReport(AgreementScore):
    judge: str
    confusion_matrix: dict[str, dict[str, int]] = Field(
        description="human value -> judge value -> number of traces."
    )
    disagreement_count: int
    disagreements: list[Disagreement] = Field(
        description=f"The traces where they differ, by trace id, the first {MAX_DISAGREEMENTS}."
    )
    judge_versions: dict[str, int] = Field(description="The judge versions ('name@version') the paired verdicts came from, with counts.")
    labels_without_verdict: int = Field(description="Labeled traces the judge has no verdict on.")
    unjudged_trace_ids: list[str] = Field(
        description=f"The first {MAX_UNJUDGED_SHOWN} of them: run the judge there (Evaluate with trace_ids)."
    )
    verdicts_without_label: int = Field(description="Traces with a verdict and no human label.")
    unusable_values: int = Field(description="Labels or verdicts that are not one value (lists, objects) and were left out.")
    message: str


def _latest_by_trace(records: list[AssessmentRecord], *, human: bool) -> dict[str, tuple[Label, AssessmentRecord]]:
    """trace id -> the latest (normalized label, record) of the human labels or the judge verdicts."""
    latest: dict[str, tuple[Label, AssessmentRecord]] = {}
    for record in records:  # by trace, oldest first: later ones replace earlier ones
        if (record.source_type == "HUMAN") != human or record.value is None:
            continue
        label = normalize_label(record.value)
        if label is not None:
            latest[record.trace_id] = (label, record)
    return latest


def _check_name(judge_name: object) -> str:
    if not isinstance(judge_name, str) or not judge_name.strip():
        raise InvalidArgument(f"judge must be a judge's name, e.g. 'routing_accuracy'; got {judge_name!r}.")
    return judge_name.strip()


def _check_trace_ids(db: Database, trace_ids: Sequence[str] | None) -> list[str] | None:
    if trace_ids is None:
        return None
    if len(trace_ids) > MAX_TRACE_IDS:
        raise InvalidArgument(f"{len(trace_ids):,} trace_ids; the limit is {MAX_TRACE_IDS:,}; pass fewer.")
    return known_trace_ids(db, trace_ids)


def labels_and_verdicts(
    db: Database, judge_name: str, trace_ids: list[str] | None = None
) -> tuple[dict[str, tuple[Label, AssessmentRecord]], dict[str, tuple[Label, AssessmentRecord]], int]:
    """(human labels by trace, judge verdicts by trace, values left out as unusable)."""
    records = feedback_named(db, judge_name, trace_ids=trace_ids, limit=MAX_FEEDBACK + 1)
    if len(records) > MAX_FEEDBACK:
        raise InvalidArgument(
            f"there are more than {MAX_FEEDBACK:,} feedback assessments named {judge_name!r}; pass trace_ids "
            "to compare on a part of them."
        )
    unusable = sum(1 for r in records if r.value is not None and normalize_label(r.value) is None)
    return _latest_by_trace(records, human=True), _latest_by_trace(records, human=False), unusable


def judge_agreement(db: Database, judge_name: str, *, trace_ids: Sequence[str] | None = None) -> AgreementReport:
    """JudgeAgreement: accuracy, Cohen's kappa, the confusion matrix and the disagreeing traces of
    the judge `judge_name` against the human labels of the same name (on `trace_ids` only, when
    given)."""
    name = _check_name(judge_name)
    ids = _check_trace_ids(db, trace_ids)
    labels, verdicts, unusable = labels_and_verdicts(db, name, ids)
    paired = sorted(set(labels) & set(verdicts))
    score = agreement_score([(labels[t][0], verdicts[t][0]) for t in paired])
    matrix: dict[str, dict[str, int]] = {}
    disagreements: list[Disagreement] = []
    versions: Counter[str] = Counter()
    for trace_id in paired:
        (human, _), (judged, record) = labels[trace_id], verdicts[trace_id]
        row = matrix.setdefault(show_label(human), {})
        row[show_label(judged)] = row.get(show_label(judged), 0) + 1
        versions[record.source_id or record.source_type] += 1
        if human != judged:
            rationale = record.rationale
            if rationale is not None and len(rationale) > RATIONALE_CHARS:
                rationale = rationale[:RATIONALE_CHARS] + " [...]"
            disagreements.append(
                Disagreement(trace_id=trace_id, human_value=show_label(human), judge_value=show_label(judged),
                             judge=record.source_id, judge_rationale=rationale)
            )
    unjudged = sorted(set(labels) - set(verdicts))
    return AgreementReport(
        **score.model_dump(),
        judge=name,
        confusion_matrix=matrix,
        disagreement_count=len(disagreements),
        disagreements=disagreements[:MAX_DISAGREEMENTS],
        judge_versions=dict(versions),
        labels_without_verdict=len(unjudged),
        unjudged_trace_ids=unjudged[:MAX_UNJUDGED_SHOWN],
        verdicts_without_label=len(set(verdicts) - set(labels)),
        unusable_values=unusable,
        message=_message(name, score, len(labels), len(unjudged)),
    )


def _message(name: str, score: AgreementScore, labels: int, unjudged: int) -> str:
    if labels == 0:
        return (
            f"there are no human labels named {name!r}; label traces with feedback named {name!r} (source HUMAN), "
            "e.g. in a labeling session with a schema of that name, or with LogFeedback."
        )
    if score.pairs == 0:
        return (
            f"{labels} traces have human labels and the judge has judged none of them; run it there "
            f"(Evaluate(judges=[{name!r}], trace_ids=[...]) with unjudged_trace_ids), then compare again."
        )
    text = f"the judge agrees with the human labels on {score.accuracy:.0%} of {score.pairs} traces"
    text += f" (Cohen's kappa {score.kappa:.2f})." if score.kappa is not None else f"; {score.kappa_note}"
    if unjudged:
        text += f" {unjudged} labeled traces have no verdict yet (unjudged_trace_ids)."
    return text
