"""The schema, as an ordered list of small named migrations.

Each migration runs in its own transaction together with the bookkeeping row that records it,
so a crash leaves the file at a clean version. Add a migration by appending a function to
MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from store.errors import SchemaTooNew


def _m001_traces_and_spans(conn: sqlite3.Connection) -> None:
    # Imported here, not at the top: only a new file needs it, and every open imports this module.
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db["traces"].create(
        {
            "trace_id": str,
            "name": str,
            "start_ns": int,
            "end_ns": int,
            "status": str,
            "root_span_id": str,
            "session_id": str,
            "user_id": str,
            "service_name": str,
            "span_count": int,
            "error_count": int,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "cost": float,
            "request_preview": str,
            "response_preview": str,
            "created_ns": int,
        },
        pk="trace_id",
        not_null=["status", "span_count", "error_count", "input_tokens", "output_tokens", "total_tokens", "cost"],
        defaults={
            "status": "IN_PROGRESS",
            "span_count": 0,
            "error_count": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "total_tokens": 0,
            "cost": 0.0,
        },
    )
    db["traces"].create_index(["start_ns"])
    db["traces"].create_index(["status", "start_ns"])
    db["traces"].create_index(["session_id"])
    db["traces"].create_index(["name"])

    db["spans"].create(
        {
            "id": int,
            "trace_id": str,
            "span_id": str,
            "parent_span_id": str,
            "name": str,
            "span_type": str,
            "kind": str,
            "start_ns": int,
            "end_ns": int,
            "status_code": str,
            "status_message": str,
            "model": str,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "cost": float,
            "tool_name": str,
            # The attribute (or event) inputs/outputs were taken from, so GetSpan can give it back.
            "inputs_source": str,
            "outputs_source": str,
            "content_chars": int,
            # The large columns come last: SQLite stores a row's columns in order and spills the
            # tail into overflow pages, so reading the skeleton above never walks the content.
            # JSON text: instrumentation scope, resource attributes, links, events, decoded
            # attributes (minus a payload moved into inputs/outputs), then inputs and outputs as
            # normalized from the semantic conventions.
            "scope": str,
            "resource": str,
            "links": str,
            "events": str,
            "attributes": str,
            "inputs": str,
            "outputs": str,
        },
        pk="id",
        foreign_keys=[("trace_id", "traces", "trace_id")],
        not_null=["trace_id", "span_id", "name", "span_type", "start_ns", "status_code", "content_chars"],
    )
    conn.execute("CREATE UNIQUE INDEX idx_spans_trace_span ON spans(trace_id, span_id)")
    # Covering for span.name / span.type filters, which want the trace ids of matching spans.
    conn.execute("CREATE INDEX idx_spans_name ON spans(name, trace_id)")
    conn.execute("CREATE INDEX idx_spans_span_type ON spans(span_type, trace_id)")
    # The full-text index is the ingest bottleneck, so it is as lean as its queries allow:
    # - detail=none: terms and the spans they occur in, no positions (measured here: 19k vs 11k
    #   spans/s of 3 KB). Term, prefix and boolean queries run on it; a phrase is a conjunction
    #   of its terms, checked against the candidate spans' text.
    # - one column: detail=none cannot filter by column anyway.
    # - contentless with columnsize=0: no copy of the text, no per-row size record (BM25 ranking
    #   is not used). store.ingest writes and deletes its entries, keyed by spans.id.
    conn.execute(
        "CREATE VIRTUAL TABLE spans_fts USING fts5("
        "body, content='', detail=none, columnsize=0, tokenize='unicode61')"
    )

    for table in ("trace_tags", "trace_metadata"):
        db[table].create(
            {"trace_id": str, "key": str, "value": str},
            pk=("trace_id", "key"),
            foreign_keys=[("trace_id", "traces", "trace_id")],
            not_null=["value"],
        )
        db[table].create_index(["key", "value"])

    db["assessments"].create(
        {
            "assessment_id": str,
            "trace_id": str,
            "span_id": str,
            "name": str,
            "kind": str,  # 'feedback' or 'expectation'
            "source_type": str,  # HUMAN, LLM_JUDGE, CODE
            "source_id": str,
            "value": str,  # JSON
            "rationale": str,
            "error": str,
            "metadata": str,  # JSON object
            "findings": str,  # JSON list of span-anchored findings
            "valid": int,
            "overrides": str,
            "created_ns": int,
        },
        pk="assessment_id",
        foreign_keys=[("trace_id", "traces", "trace_id")],
        not_null=["trace_id", "name", "kind", "source_type", "valid", "created_ns"],
        defaults={"valid": 1},
    )
    db["assessments"].create_index(["trace_id"])
    db["assessments"].create_index(["name", "valid"])



def _m002_assessment_history(conn: sqlite3.Connection) -> None:
    # At most one assessment overrides another, so an assessment's history is a chain and
    # "overridden by" has one answer, found through this index.
    conn.execute(
        "CREATE UNIQUE INDEX idx_assessments_overrides ON assessments(overrides) WHERE overrides IS NOT NULL"
    )
    # ListAssessments pages a trace's assessments in the order they were logged; this index serves
    # that order and every lookup by trace, so the trace-only index of 001 is redundant.
    conn.execute("CREATE INDEX idx_assessments_trace_created ON assessments(trace_id, created_ns, assessment_id)")
    conn.execute("DROP INDEX idx_assessments_trace_id")


def _m003_judges(conn: sqlite3.Connection) -> None:
    # One row per judge version; a judge's versions are never changed, so (name, version) is the
    # whole identity and the primary key serves "latest version of each name" and "version n".
    conn.execute(
        "CREATE TABLE judges ("
        "name TEXT NOT NULL, "
        "version INTEGER NOT NULL, "
        "instructions TEXT NOT NULL, "
        "output TEXT NOT NULL, "  # JSON: the OutputType
        "model TEXT, "
        "description TEXT NOT NULL DEFAULT '', "
        "created_ns INTEGER NOT NULL, "
        "PRIMARY KEY (name, version)"
        ") WITHOUT ROWID"
    )


def _m004_evaluations(conn: sqlite3.Connection) -> None:
    # A run's judges (name, version, source_id, kind) and limits are small JSON objects read whole;
    # what is queried (status, the traces, each result's value) has columns of its own.
    conn.execute(
        "CREATE TABLE evaluation_runs ("
        "run_id TEXT PRIMARY KEY, "
        "name TEXT, "
        "created_ns INTEGER NOT NULL, "
        "updated_ns INTEGER NOT NULL, "
        "status TEXT NOT NULL, "  # running, completed, stopped
        "stop_reason TEXT, "
        "judges TEXT NOT NULL, "
        "filter_string TEXT, "
        "limits TEXT NOT NULL, "
        "duration_s REAL NOT NULL DEFAULT 0"
        ")"
    )
    conn.execute("CREATE INDEX idx_evaluation_runs_created ON evaluation_runs(created_ns)")
    # The traces a run covers, fixed when it starts, so a resumed run judges the same traces even
    # when new ones now match its filter.
    conn.execute(
        "CREATE TABLE evaluation_run_traces ("
        "run_id TEXT NOT NULL REFERENCES evaluation_runs(run_id), "
        "trace_id TEXT NOT NULL, "
        "PRIMARY KEY (run_id, trace_id)"
        ") WITHOUT ROWID"
    )
    # One row per (run, judge, trace): the key makes a resumed run skip what exists and serves
    # per-judge aggregates, "missing pairs" and comparisons by index.
    conn.execute(
        "CREATE TABLE evaluation_results ("
        "run_id TEXT NOT NULL REFERENCES evaluation_runs(run_id), "
        "judge TEXT NOT NULL, "  # the judge's name; metrics are named after it
        "trace_id TEXT NOT NULL, "
        "source_id TEXT NOT NULL, "  # 'name@version'
        "assessment_id TEXT, "
        "value TEXT, "  # JSON
        "value_number REAL, "  # numbers, and booleans as 1/0; NULL otherwise
        "passed INTEGER, "  # 1/0 for booleans and strings (see store.evaluations.passed); NULL otherwise
        "error TEXT, "
        "input_tokens INTEGER NOT NULL DEFAULT 0, "
        "output_tokens INTEGER NOT NULL DEFAULT 0, "
        "cost REAL NOT NULL DEFAULT 0, "
        "latency_s REAL, "
        "created_ns INTEGER NOT NULL, "
        "PRIMARY KEY (run_id, judge, trace_id)"
        ") WITHOUT ROWID"
    )


def _m005_datasets(conn: sqlite3.Connection) -> None:
    # Every change to a dataset makes its next version; a record row is never changed except to
    # close it (removed_version), so "the records of version v" is the rows added at or before v
    # and not removed by v, and an evaluation pinned to v reads exactly what it ran on.
    conn.execute(
        "CREATE TABLE datasets ("
        "name TEXT PRIMARY KEY, "
        "description TEXT NOT NULL DEFAULT '', "
        "version INTEGER NOT NULL DEFAULT 0, "  # the latest version
        "created_ns INTEGER NOT NULL, "
        "updated_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE dataset_versions ("
        "dataset TEXT NOT NULL REFERENCES datasets(name), "
        "version INTEGER NOT NULL, "
        "change TEXT NOT NULL, "  # what made this version, in words
        "record_count INTEGER NOT NULL, "
        "created_ns INTEGER NOT NULL, "
        "PRIMARY KEY (dataset, version)"
        ") WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE dataset_records ("
        "row_id INTEGER PRIMARY KEY, "
        "dataset TEXT NOT NULL REFERENCES datasets(name), "
        "record_id TEXT NOT NULL, "  # stable across versions: derived from the inputs
        "inputs_key TEXT NOT NULL, "  # canonical JSON of the inputs, the de-duplication key
        "inputs TEXT NOT NULL, "  # JSON object
        "expectations TEXT NOT NULL DEFAULT '{}', "  # JSON object
        "tags TEXT NOT NULL DEFAULT '{}', "  # JSON object
        "source_trace_id TEXT, "
        "added_version INTEGER NOT NULL, "
        "removed_version INTEGER, "
        "created_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE UNIQUE INDEX idx_dataset_records_live ON dataset_records(dataset, inputs_key) "
        "WHERE removed_version IS NULL"
    )
    conn.execute("CREATE INDEX idx_dataset_records_page ON dataset_records(dataset, record_id, added_version)")


def _m006_prompts(conn: sqlite3.Connection) -> None:
    # Versions are immutable, so (name, version) is a version's whole identity; aliases are the
    # only thing that moves.
    conn.execute(
        "CREATE TABLE prompts ("
        "name TEXT PRIMARY KEY, "
        "description TEXT NOT NULL DEFAULT '', "
        "tags TEXT NOT NULL DEFAULT '{}', "
        "created_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE prompt_versions ("
        "name TEXT NOT NULL REFERENCES prompts(name), "
        "version INTEGER NOT NULL, "
        "kind TEXT NOT NULL, "  # text or chat
        "template TEXT NOT NULL, "  # JSON: a string, or a list of {role, content} messages
        "variables TEXT NOT NULL, "  # JSON list of the template's variable names
        "commit_message TEXT NOT NULL DEFAULT '', "
        "tags TEXT NOT NULL DEFAULT '{}', "
        "parent_version INTEGER, "  # set by optimization: the version this one improves on
        "metadata TEXT NOT NULL DEFAULT '{}', "  # JSON: e.g. an optimizer's scores
        "created_ns INTEGER NOT NULL, "
        "PRIMARY KEY (name, version)"
        ") WITHOUT ROWID"
    )
    conn.execute(
        "CREATE TABLE prompt_aliases ("
        "name TEXT NOT NULL REFERENCES prompts(name), "
        "alias TEXT NOT NULL, "
        "version INTEGER NOT NULL, "
        "updated_ns INTEGER NOT NULL, "
        "PRIMARY KEY (name, alias)"
        ") WITHOUT ROWID"
    )


def _m007_labeling(conn: sqlite3.Connection) -> None:
    # Labels themselves are HUMAN assessments named after their schema (the assessments table);
    # these tables hold only what to ask and the queues of traces to ask it about.
    conn.execute(
        "CREATE TABLE labeling_schemas ("
        "name TEXT PRIMARY KEY, "
        "type TEXT NOT NULL, "  # feedback or expectation
        "input TEXT NOT NULL, "  # JSON: the input kind and its options or range
        "instructions TEXT NOT NULL DEFAULT '', "
        "enable_comment INTEGER NOT NULL DEFAULT 0, "
        "created_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE labeling_sessions ("
        "session_id TEXT PRIMARY KEY, "
        "name TEXT NOT NULL UNIQUE, "
        "schemas TEXT NOT NULL, "  # JSON list of schema names
        "assignees TEXT NOT NULL DEFAULT '[]', "  # JSON list
        "created_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE labeling_items ("
        "session_id TEXT NOT NULL REFERENCES labeling_sessions(session_id), "
        "trace_id TEXT NOT NULL, "
        "position INTEGER NOT NULL, "  # queue order: the order traces were added
        "status TEXT NOT NULL DEFAULT 'pending', "  # pending, completed, skipped
        "assignee TEXT, "
        "updated_ns INTEGER NOT NULL, "
        "PRIMARY KEY (session_id, trace_id)"
        ") WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX idx_labeling_items_queue ON labeling_items(session_id, position)")


def _m008_evaluation_targets(conn: sqlite3.Connection) -> None:
    # An evaluation on a dataset runs a target on each record, which makes a fresh trace; the
    # record -> trace link is written when the target returns, so a resumed run knows which
    # records still need the target and which only need judges.
    for column in ("dataset TEXT", "dataset_version INTEGER", "target TEXT"):
        conn.execute(f"ALTER TABLE evaluation_runs ADD COLUMN {column}")
    conn.execute(
        "CREATE TABLE evaluation_run_records ("
        "run_id TEXT NOT NULL REFERENCES evaluation_runs(run_id), "
        "record_id TEXT NOT NULL, "
        "trace_id TEXT, "
        "error TEXT, "  # the target's error, when it failed
        "latency_s REAL, "
        "PRIMARY KEY (run_id, record_id)"
        ") WITHOUT ROWID"
    )
    # Comparing two runs on a dataset matches results by record through their traces.
    conn.execute("CREATE INDEX idx_evaluation_run_records_trace ON evaluation_run_records(run_id, trace_id)")
    # The prompt versions a run's target loaded, so a prompt version lists the runs that used it.
    conn.execute(
        "CREATE TABLE evaluation_run_prompts ("
        "run_id TEXT NOT NULL REFERENCES evaluation_runs(run_id), "
        "prompt TEXT NOT NULL, "
        "version INTEGER NOT NULL, "
        "PRIMARY KEY (run_id, prompt, version)"
        ") WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX idx_evaluation_run_prompts_version ON evaluation_run_prompts(prompt, version)")


def _m009_known_usage_previews_span_metadata(conn: sqlite3.Connection) -> None:
    # Unknown usage is not zero: a trace's token and cost totals become NULL while none of its
    # model spans reports them. Each total keeps how many model spans report it (`*_known`), so
    # ingest can move it by differences and still tell "none known" from a sum of 0. The columns
    # were NOT NULL DEFAULT 0; SQLite cannot relax that in place, so they are made again (they are
    # in no index) and filled from the spans, counting the span types store.ingest counts.
    totals = (("input_tokens", "INTEGER"), ("output_tokens", "INTEGER"), ("total_tokens", "INTEGER"), ("cost", "REAL"))
    for name, kind in totals:
        conn.execute(f"ALTER TABLE traces DROP COLUMN {name}")
        conn.execute(f"ALTER TABLE traces ADD COLUMN {name} {kind}")
        conn.execute(f"ALTER TABLE traces ADD COLUMN {name}_known INTEGER NOT NULL DEFAULT 0")
    sums = ", ".join(f"sum({name}) AS {name}, count({name}) AS {name}_known" for name, _ in totals)
    assignments = ", ".join(f"{name} = s.{name}, {name}_known = s.{name}_known" for name, _ in totals)
    conn.execute(
        f"UPDATE traces SET {assignments} FROM (SELECT trace_id, {sums} FROM spans "
        "WHERE span_type IN ('LLM', 'CHAT_MODEL', 'EMBEDDING') GROUP BY trace_id) AS s "
        "WHERE traces.trace_id = s.trace_id"
    )
    # Previews come from the root or the model spans, whichever ranks first (store.ingest's
    # preview keys). Existing previews were cut from the root's JSON payload: that rank.
    for side in ("request", "response"):
        conn.execute(f"ALTER TABLE traces ADD COLUMN {side}_preview_key TEXT")
        conn.execute(
            f"UPDATE traces SET {side}_preview_key = '2:' || printf('%020d', 0) || ':' || coalesce(root_span_id, '') "
            f"WHERE {side}_preview IS NOT NULL"
        )
    # Span-level metadata (OpenInference's) is the trace's only where every span that carries
    # some agrees on a key: votes per key, and how many spans voted.
    conn.execute("ALTER TABLE traces ADD COLUMN metadata_spans INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE trace_metadata ADD COLUMN from_spans INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "CREATE TABLE trace_metadata_votes ("
        "trace_id TEXT NOT NULL REFERENCES traces(trace_id), "
        "key TEXT NOT NULL, "
        "value TEXT NOT NULL, "  # the value the first span gave
        "spans INTEGER NOT NULL, "  # spans that gave that value
        "conflict INTEGER NOT NULL, "  # 1 once a span gave another value
        "PRIMARY KEY (trace_id, key)"
        ") WITHOUT ROWID"
    )


def _m010_pending_logs(conn: sqlite3.Connection) -> None:
    # OTLP log records (event-based GenAI content) for spans not stored yet: they wait here and
    # become events of their span when it arrives (store.logs). Bounded in bytes and in age.
    conn.execute(
        "CREATE TABLE pending_logs ("
        "id INTEGER PRIMARY KEY, "
        "trace_id TEXT NOT NULL, "
        "span_id TEXT NOT NULL, "
        "received_ns INTEGER NOT NULL, "
        "size INTEGER NOT NULL, "  # bytes of event, summed against the bound
        "event TEXT NOT NULL"  # the record in its span-event form, JSON
        ")"
    )
    conn.execute("CREATE INDEX idx_pending_logs_span ON pending_logs(trace_id, span_id)")
    # Covering for both the expiry (by age) and the total size the bound checks.
    conn.execute("CREATE INDEX idx_pending_logs_received ON pending_logs(received_ns, size)")


def _m011_evaluation_run_spend(conn: sqlite3.Connection) -> None:
    # How far past its budget a run's spend went (calls in flight spend beyond their estimates),
    # said by the run when it finishes, completed or stopped; NULL while within it.
    conn.execute("ALTER TABLE evaluation_runs ADD COLUMN over_budget TEXT")
    # What judgments the budget stopped part way spent: they leave no result (their pair is judged
    # on resume), but the run's totals and its budget count what they spent.
    conn.execute("ALTER TABLE evaluation_runs ADD COLUMN unjudged_input_tokens INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE evaluation_runs ADD COLUMN unjudged_output_tokens INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE evaluation_runs ADD COLUMN unjudged_cost REAL NOT NULL DEFAULT 0.0")


def _m012_labeling_links(conn: sqlite3.Connection) -> None:
    # Share links of labeling sessions: each holds a capability for one session, and only its
    # SHA-256 is kept, so a copy of the file opens no session.
    conn.execute(
        "CREATE TABLE labeling_links ("
        "link_id TEXT PRIMARY KEY, "
        "session_id TEXT NOT NULL REFERENCES labeling_sessions(session_id), "
        "labeler TEXT, "  # NULL: whoever opens it gives their name on the page
        "token_hash TEXT NOT NULL UNIQUE, "
        "created_ns INTEGER NOT NULL, "
        "expires_ns INTEGER NOT NULL, "
        "revoked_ns INTEGER"
        ")"
    )
    conn.execute("CREATE INDEX idx_labeling_links_session ON labeling_links(session_id, created_ns)")


def _m013_monitors(conn: sqlite3.Connection) -> None:
    # When a trace's last span arrived: a monitor judges a trace once no span came for its settle
    # time. Traces stored before this migration are taken as complete when they were created.
    conn.execute("ALTER TABLE traces ADD COLUMN received_ns INTEGER")
    conn.execute("UPDATE traces SET received_ns = created_ns")
    conn.execute("CREATE INDEX idx_traces_received ON traces(received_ns)")
    conn.execute(
        "CREATE TABLE monitors ("
        "name TEXT PRIMARY KEY, "
        "judges TEXT NOT NULL, "  # JSON: [{name, ref, version, kind, source_id}], versions pinned
        "filter_string TEXT, "
        "sample_rate REAL NOT NULL, "
        "settle_s REAL NOT NULL, "
        "timeout_s REAL NOT NULL, "
        "max_judgments_per_hour INTEGER, "
        "max_tokens_per_day INTEGER, "
        "max_cost_usd_per_day REAL, "
        "paused INTEGER NOT NULL DEFAULT 0, "
        # Every trace last received at or before it has been decided: scans start after it.
        "checkpoint_ns INTEGER NOT NULL, "
        "created_ns INTEGER NOT NULL, "
        "updated_ns INTEGER NOT NULL, "
        "last_error TEXT, "  # what kept it from judging the last time it tried (no model ...)
        "last_error_ns INTEGER, "
        # A limit that stops it until then (the daily budget refused a model call), and which.
        "limited_until_ns INTEGER, "
        "limited_reason TEXT"
        ")"
    )
    # One row per trace a monitor decided on: queued (backfill), leased (being judged by `owner`
    # until lease_expires_ns), judged, sampled_out or skipped (a limit, with the reason). The row is
    # the lease: INSERT OR IGNORE and a guarded UPDATE make each trace judged once across processes.
    conn.execute(
        "CREATE TABLE monitor_traces ("
        "monitor TEXT NOT NULL REFERENCES monitors(name) ON DELETE CASCADE, "
        "trace_id TEXT NOT NULL, "
        "state TEXT NOT NULL, "
        "reason TEXT, "
        "owner TEXT, "
        "lease_expires_ns INTEGER, "
        "completed_ns INTEGER, "
        "decided_ns INTEGER NOT NULL, "
        "PRIMARY KEY (monitor, trace_id)"
        ") WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX idx_monitor_traces_state ON monitor_traces(monitor, state, lease_expires_ns)")
    conn.execute("CREATE INDEX idx_monitor_traces_decided ON monitor_traces(monitor, decided_ns)")
    # Each judgment: its verdict (also feedback on the trace), an error, or a stop by the daily
    # budget (outcome 'stopped', no feedback); what it spent; the lag from completion to verdict.
    conn.execute(
        "CREATE TABLE monitor_results ("
        "monitor TEXT NOT NULL REFERENCES monitors(name) ON DELETE CASCADE, "
        "trace_id TEXT NOT NULL, "
        "judge TEXT NOT NULL, "
        "source_id TEXT, "
        "assessment_id TEXT, "
        "outcome TEXT NOT NULL, "
        "value TEXT, "
        "value_number REAL, "
        "passed INTEGER, "
        "error TEXT, "
        "input_tokens INTEGER NOT NULL DEFAULT 0, "
        "output_tokens INTEGER NOT NULL DEFAULT 0, "
        "cost REAL NOT NULL DEFAULT 0.0, "
        "latency_s REAL, "
        "lag_s REAL, "
        "created_ns INTEGER NOT NULL, "
        "PRIMARY KEY (monitor, trace_id, judge)"
        ")"
    )
    conn.execute("CREATE INDEX idx_monitor_results_time ON monitor_results(monitor, created_ns)")
    # The processes running the monitors, each seen at its last poll: GetMonitor says whether any is.
    conn.execute(
        "CREATE TABLE monitor_runners (owner TEXT PRIMARY KEY, poll_s REAL NOT NULL, started_ns INTEGER NOT NULL, "
        "last_poll_ns INTEGER NOT NULL)"
    )


def _m014_alerts(conn: sqlite3.Connection) -> None:
    # Alert rules on a monitor's metrics (or, with no monitor, on issues): state moves ok <-> firing
    # by guarded UPDATEs, each change stored as an event with its webhook delivery.
    conn.execute(
        "CREATE TABLE alert_rules ("
        "name TEXT PRIMARY KEY, "
        "monitor TEXT REFERENCES monitors(name) ON DELETE CASCADE, "
        "judge TEXT NOT NULL, "  # the monitor's judge; 'issues' or an issue id for a rule on issues
        "metric TEXT NOT NULL, "
        "op TEXT NOT NULL, "
        "threshold REAL NOT NULL, "
        "window_s REAL NOT NULL, "
        "min_judgments INTEGER NOT NULL, "
        "webhook_url TEXT, "
        "state TEXT NOT NULL, "
        "state_since_ns INTEGER NOT NULL, "
        "last_value REAL, "
        "last_judgments INTEGER, "
        "last_checked_ns INTEGER, "
        "created_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE alert_events ("
        "event_id TEXT PRIMARY KEY, "
        "rule TEXT NOT NULL REFERENCES alert_rules(name) ON DELETE CASCADE, "
        "kind TEXT NOT NULL, "  # fired, resolved
        "value REAL, "
        "judgments INTEGER NOT NULL, "
        "message TEXT NOT NULL, "
        "created_ns INTEGER NOT NULL, "
        "webhook_status TEXT NOT NULL, "  # none, pending, delivered, failed
        "attempts INTEGER NOT NULL DEFAULT 0, "
        "last_error TEXT, "
        "payload TEXT"  # the JSON the webhook is sent
        ")"
    )
    conn.execute("CREATE INDEX idx_alert_events_rule ON alert_events(rule, created_ns)")
    conn.execute("CREATE INDEX idx_alert_events_time ON alert_events(created_ns)")


def _m015_issues(conn: sqlite3.Connection) -> None:
    # Issues gathered across traces: the failure groups (signatures) each gathers, so discovering
    # again adds to the same issue; one evidence row per trace, anchored to a span where one shows it.
    conn.execute(
        "CREATE TABLE issues ("
        "issue_id TEXT PRIMARY KEY, "
        "title TEXT NOT NULL, "
        "description TEXT NOT NULL DEFAULT '', "
        "category TEXT NOT NULL, "
        "severity TEXT NOT NULL, "
        "status TEXT NOT NULL, "
        "root_cause TEXT, "
        "merged_into TEXT REFERENCES issues(issue_id), "
        "created_ns INTEGER NOT NULL, "
        "updated_ns INTEGER NOT NULL"
        ")"
    )
    conn.execute(
        "CREATE TABLE issue_signatures (signature TEXT PRIMARY KEY, "
        "issue_id TEXT NOT NULL REFERENCES issues(issue_id))"
    )
    conn.execute("CREATE INDEX idx_issue_signatures_issue ON issue_signatures(issue_id)")
    conn.execute(
        "CREATE TABLE issue_evidence ("
        "issue_id TEXT NOT NULL REFERENCES issues(issue_id), "
        "trace_id TEXT NOT NULL, "
        "span_id TEXT, "
        "excerpt TEXT NOT NULL, "
        "source TEXT NOT NULL, "
        "signature TEXT, "  # the failure group it came from: a trace split out is not added back
        "found_ns INTEGER NOT NULL, "
        "PRIMARY KEY (issue_id, trace_id)"
        ")"
    )
    conn.execute("CREATE INDEX idx_issue_evidence_trace ON issue_evidence(trace_id, signature)")


def _m016_gates(conn: sqlite3.Connection) -> None:
    # Release gates: versioned like judges, each version's conditions and policies as JSON.
    conn.execute(
        "CREATE TABLE gates (name TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL, "
        "description TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL, PRIMARY KEY (name, version))"
    )


def _m017_tokens(conn: sqlite3.Connection) -> None:
    # Access tokens with roles: only a hash of each is kept. token_writes records which token made each
    # write (through MCP or the pages), so a shared server can say who changed what.
    conn.execute(
        "CREATE TABLE tokens (token_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, "
        "token_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created_ns INTEGER NOT NULL, "
        "created_by TEXT, expires_ns INTEGER, revoked_ns INTEGER, last_used_ns INTEGER)"
    )
    conn.execute(
        "CREATE TABLE token_writes (at_ns INTEGER NOT NULL, token_id TEXT, token_name TEXT, role TEXT NOT NULL, "
        "via TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX idx_token_writes_token ON token_writes(token_name, at_ns)")
    conn.execute("CREATE INDEX idx_token_writes_at ON token_writes(at_ns)")
def _m018_gateway(conn: sqlite3.Connection) -> None:
    # The AI gateway's virtual keys (only a hash of each secret), its spend per key, route and UTC day
    # (a month is the sum of its days), and the budget alerts recorded once per key and period.
    conn.execute(
        "CREATE TABLE gateway_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, "
        "secret_sha256 TEXT NOT NULL UNIQUE, routes TEXT NOT NULL, rpm INTEGER, tpm INTEGER, budget_usd_day REAL, "
        "budget_usd_month REAL, alert_at REAL NOT NULL, created_ns INTEGER NOT NULL, expires_ns INTEGER, "
        "revoked_ns INTEGER, guardrails TEXT NOT NULL DEFAULT '[]')"
    )
    conn.execute(
        "CREATE TABLE gateway_spend (key_id TEXT NOT NULL REFERENCES gateway_keys(key_id), day TEXT NOT NULL, "
        "route TEXT NOT NULL, requests INTEGER NOT NULL, errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, "
        "output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, PRIMARY KEY (key_id, day, route))"
    )
    conn.execute(
        "CREATE TABLE gateway_budget_alerts (key_id TEXT NOT NULL REFERENCES gateway_keys(key_id), "
        "period TEXT NOT NULL, period_start TEXT NOT NULL, spent_usd REAL NOT NULL, budget_usd REAL NOT NULL, "
        "alert_at REAL NOT NULL, created_ns INTEGER NOT NULL, PRIMARY KEY (key_id, period, period_start))"
    )


Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_traces_and_spans", _m001_traces_and_spans),
    ("002_assessment_history", _m002_assessment_history),
    ("003_judges", _m003_judges),
    ("004_evaluations", _m004_evaluations),
    ("005_datasets", _m005_datasets),
    ("006_prompts", _m006_prompts),
    ("007_labeling", _m007_labeling),
    ("008_evaluation_targets", _m008_evaluation_targets),
    ("009_known_usage_previews_span_metadata", _m009_known_usage_previews_span_metadata),
    ("010_pending_logs", _m010_pending_logs),
    ("011_evaluation_run_spend", _m011_evaluation_run_spend),
    ("012_labeling_links", _m012_labeling_links),
    ("013_monitors", _m013_monitors),
    ("014_alerts", _m014_alerts),
    ("015_issues", _m015_issues),
    ("016_gates", _m016_gates),
    ("017_tokens", _m017_tokens),
    ("018_gateway", _m018_gateway),
]

SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    """The schema version the file records: 0 for a new file."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if exists is None:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the number of migrations applied.

    Each step takes the write lock (BEGIN IMMEDIATE) before it reads the version, so processes
    opening a new file at once take turns: the later ones find the step applied and skip it. A
    file already at SCHEMA_VERSION is opened without the lock (versions only grow), so reading
    commands never wait for a server's or an import's write.
    """
    if _version(conn) == SCHEMA_VERSION:
        return 0
    applied = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL)"
            )
            current = _version(conn)
            if current > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"this database is at schema version {current}, newer than this tracejudge "
                    f"({SCHEMA_VERSION}); upgrade tracejudge (pip install -U tracejudge) to open it."
                )
            if current < SCHEMA_VERSION:
                name, step = MIGRATIONS[current]
                step(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)",
                    (current + 1, name, time.time_ns()),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if current == SCHEMA_VERSION:
            return applied
        applied += 1
