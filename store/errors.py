"""The errors tracejudge raises on purpose. Each message says what was wrong and ends in the fix.

The MCP layer turns these into ToolError at the tool boundary; the CLI prints them; OTLP maps
them into 400 answers or partial_success messages. Anything else escaping is a bug.
"""

from __future__ import annotations


class TraceJudgeError(Exception):
    """Base class: an expected failure whose message a user or a model can act on."""


class InvalidId(TraceJudgeError, ValueError):
    """A trace or span id that is not hex, base64 or an MLflow id of the right length."""


class TraceNotFound(TraceJudgeError, LookupError):
    def __init__(self, trace_id: str) -> None:
        super().__init__(
            f"trace {trace_id!r} is not in this store; call SearchTraces to list the trace ids it holds."
        )
        self.trace_id = trace_id


class SpanNotFound(TraceJudgeError, LookupError):
    def __init__(self, trace_id: str, span_id: str) -> None:
        super().__init__(
            f"span {span_id!r} is not in trace {trace_id!r}; call ListSpans(trace_id={trace_id!r}) "
            f"to see its span ids."
        )
        self.trace_id = trace_id
        self.span_id = span_id


class SchemaTooNew(TraceJudgeError):
    """The file was written by a newer tracejudge than this one."""


class SqliteTooOld(TraceJudgeError):
    """The SQLite library Python links against lacks what the store's SQL uses."""


class InvalidPageToken(TraceJudgeError, ValueError):
    """A page_token that this tool did not issue, or issued for other arguments."""


class InvalidArgument(TraceJudgeError, ValueError):
    """An argument outside its allowed range or form; the message names the argument and the range."""


class InvalidPattern(TraceJudgeError, ValueError):
    """A regular expression RE2 cannot compile (or one too large to run safely)."""


class InvalidFilter(TraceJudgeError, ValueError):
    """A filter_string or order_by that does not parse; the message shows the grammar."""


class InvalidOtlp(TraceJudgeError, ValueError):
    """A request body (or file) that is not an OTLP ExportTraceServiceRequest at all; HTTP 400."""


class RootSpanNotFound(TraceJudgeError, LookupError):
    """The trace exists but its root span (the one with no parent) has not arrived yet."""

    def __init__(self, trace_id: str, span_count: int) -> None:
        super().__init__(
            f"the root span of trace {trace_id!r} has not arrived yet ({span_count} of its spans "
            f"are stored); call ListSpans(trace_id={trace_id!r}) to see them, or GetRootSpan again later."
        )
        self.trace_id = trace_id


class AssessmentNotFound(TraceJudgeError, LookupError):
    def __init__(self, assessment_id: str) -> None:
        super().__init__(
            f"assessment {assessment_id!r} is not in this store; call ListAssessments(trace_id=...) to "
            f"see the ids of a trace's assessments (LogFeedback and LogExpectation return the id they log)."
        )
        self.assessment_id = assessment_id


class JudgeNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str, version: int | None = None) -> None:
        what = f"judge {name!r}" if version is None else f"version {version} of judge {name!r}"
        super().__init__(
            f"{what} is not in this store; call ListJudges to see the judges it holds (and their "
            "latest versions), or CreateJudge to make one."
        )
        self.name = name
        self.version = version


class PromptNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str, version: int | None = None, alias: str | None = None) -> None:
        if version is not None:
            what = f"version {version} of prompt {name!r} is"
            fix = f"call ListPromptVersions(name={name!r}) to see its versions"
        elif alias is not None:
            what = f"prompt {name!r} has no alias {alias!r}, so it is"
            fix = f"call GetPrompt(name_or_uri={name!r}) to see its aliases, or SetPromptAlias to set one"
        else:
            what = f"prompt {name!r} is"
            fix = "call ListPrompts to see the prompts it holds, or RegisterPrompt to make one"
        super().__init__(f"{what} not in this store; {fix}.")
        self.name = name
        self.version = version
        self.alias = alias


class EvaluationRunNotFound(TraceJudgeError, LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"evaluation run {run_id!r} is not in this store; Evaluate returns the run_id of each run it "
            "starts (ids look like 'run-' and 32 hex characters)."
        )
        self.run_id = run_id


class MonitorNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"monitor {name!r} is not in this store; call ListMonitors to see the monitors it holds, or "
            "CreateMonitor to make one."
        )
        self.name = name


class AlertRuleNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"alert rule {name!r} is not in this store; call ListAlerts to see the rules it holds, or "
            "CreateAlertRule to make one."
        )
        self.name = name


class IssueNotFound(TraceJudgeError, LookupError):
    def __init__(self, issue_id: str) -> None:
        super().__init__(
            f"issue {issue_id!r} is not in this store; call ListIssues to see the issues it holds, or "
            "DiscoverIssues to find them."
        )
        self.issue_id = issue_id


class GateNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str, version: int | None = None) -> None:
        what = f"gate {name!r}" if version is None else f"version {version} of gate {name!r}"
        super().__init__(f"{what} is not in this store; call ListGates to see the gates it holds, or CreateGate.")
        self.name = name


class EvaluationStopped(TraceJudgeError):
    """A run stopped by an error every pair would meet (no model, a model the server does not
    allow, credentials refused, a server it cannot reach): stored as stopped, with the reason."""


class LabelingSchemaNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"labeling schema {name!r} is not in this store; call ListLabelingSchemas to see the schemas it "
            "holds, or CreateLabelingSchema to make one."
        )
        self.name = name


class LabelingSessionNotFound(TraceJudgeError, LookupError):
    def __init__(self, session: str) -> None:
        super().__init__(
            f"labeling session {session!r} is not in this store; call ListLabelingSessions to see the sessions "
            "(by name and session_id), or CreateLabelingSession to make one."
        )
        self.session = session


class LabelingLinkNotFound(TraceJudgeError, LookupError):
    def __init__(self, link_id: str) -> None:
        super().__init__(
            f"labeling link {link_id!r} is not in this store; run `tracejudge labeling links` to list the links "
            "by link_id."
        )
        self.link_id = link_id


class LinkRefused(TraceJudgeError, PermissionError):
    """A labeling link's token that is unknown, expired or revoked: the message says which and what to do."""


class ServerReadOnly(TraceJudgeError, PermissionError):
    """A write or a model call asked of a server started read-only: the message says what is refused."""


class DatasetNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str, version: int | None = None, latest: int | None = None) -> None:
        if version is None:
            message = (
                f"dataset {name!r} is not in this store; call ListDatasets to see the datasets it holds, "
                "or CreateDataset to make one."
            )
        else:
            message = (
                f"dataset {name!r} has no version {version} (its versions run from 0 to {latest}); "
                f"call GetDataset(name={name!r}) to see them, or leave version out for the latest."
            )
        super().__init__(message)
        self.name = name
        self.version = version


class NotEnoughLabels(TraceJudgeError, ValueError):
    """Too few human labels for what was asked (judge alignment); the message says how many more."""


class GatewayKeyNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no gateway key is named {name!r} (or has that id); list them with `tracejudge keys list`.")


class TokenNotFound(TraceJudgeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no access token is named {name!r}; `tracejudge tokens list` (or ListTokens) shows them.")
        self.name = name
