"""Share links: a labeling session opened to a domain expert who has no account, terminal or token.

`share_session` makes a link whose token is a capability for one session: with it a person may read
that session's queue and the traces queued in it, and submit or skip labels there; nothing else (no
other trace, page, API route or MCP). The token is shown once, in the link; the store keeps its
SHA-256 (store.labeling_links). Links expire (7 days unless told otherwise) and can be revoked.

The functions below `open_link` are what a link may do, each checked against the link's session;
mcp_server.web.api.share serves them to the labeling page.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.labeling.definitions import SchemaInfo, schema_infos
from mcp_server.labeling.inputs import parse_input
from mcp_server.labeling.queue import (
    ItemList,
    LabelingItem,
    SubmitResult,
    check_labeler,
    list_items,
    skip_item,
    submit_label,
)
from mcp_server.tooling.credentials import credential_state, lifetime_s, new_secret, secret_hash
from mcp_server.tooling.timestamps import iso_time
from store import Database
from store import labeling as sessions
from store import labeling_links as store
from store.errors import InvalidArgument, LinkRefused, TraceJudgeError
from store.ids import normalize_trace_id

TOKEN_PREFIX = "tjl_"
"""Marks a labeling link's token, so a leaked one is recognisable (secret scanners, logs)."""
DEFAULT_EXPIRES = "7d"
MAX_EXPIRES_DAYS = 365
LABEL_PATH = "/label"
"""The labeling page; the token follows in the URL's fragment, which browsers never send to a server
(nor to a Referer), so it stays out of access logs and proxies."""
MAX_LABELS_PER_SUBMIT = 20
"""A session asks at most this many schemas (definitions.MAX_SESSION_SCHEMAS)."""


class LinkInfo(BaseModel):
    link_id: str = Field(description="Names the link to revoke it; opens nothing.")
    session_id: str
    session_name: str
    labeler: str | None = Field(description="Who labels through it; None: the person gives a name on the page.")
    created_time: str | None
    expires_time: str | None
    state: str = Field(description="active, expired or revoked.")


class SharedLink(LinkInfo):
    token: str = Field(description="The capability itself: shown this once, stored only as a hash.")
    path: str = Field(description="The page and the token, to append to the server's base URL.")


class LinkList(BaseModel):
    links: list[LinkInfo]
    total: int


class LinkedSession(BaseModel):
    """What the labeling page shows around the queue: the session, its questions and who labels."""

    session_id: str
    session_name: str
    labeler: str | None
    assignees: list[str]
    schemas: list[SchemaInfo]
    status_counts: dict[str, int]
    expires_time: str | None


class Submitted(BaseModel):
    labels: list[SubmitResult]
    next_pending_trace_id: str | None


def parse_expires(text: str) -> int:
    """Seconds from a duration such as '30m', '12h', '7d' or '2w'; else an InvalidArgument saying the form."""
    return lifetime_s(text, max_days=MAX_EXPIRES_DAYS)


def _state(record: store.LabelingLinkRecord, now_ns: int) -> str:
    return credential_state(record.revoked_ns, record.expires_ns, now_ns)


def _info(record: store.LabelingLinkRecord, session_name: str, now_ns: int) -> dict[str, Any]:
    return {
        "link_id": record.link_id,
        "session_id": record.session_id,
        "session_name": session_name,
        "labeler": record.labeler,
        "created_time": iso_time(record.created_ns),
        "expires_time": iso_time(record.expires_ns),
        "state": _state(record, now_ns),
    }


def share_session(db: Database, session: str, *, labeler: str | None = None, expires: str = DEFAULT_EXPIRES) -> SharedLink:
    """A new link to label `session` (its name or session_id), as `labeler` if given (who must be one
    of the session's assignees when it has some), valid for `expires`."""
    record = sessions.get_session(db, session)
    if labeler is not None:
        labeler = check_labeler(record, labeler)
    seconds = parse_expires(expires)
    token = new_secret(TOKEN_PREFIX)
    link = store.create_link(
        db, record.session_id, secret_hash(token), labeler=labeler, expires_ns=time.time_ns() + seconds * 1_000_000_000
    )
    return SharedLink(**_info(link, record.name, time.time_ns()), token=token, path=f"{LABEL_PATH}#{token}")


def list_links(db: Database, session: str | None = None, *, max_results: int = 100) -> LinkList:
    """The links, newest first, of one session (name or session_id) or of all; no token is shown."""
    session_id = None if session is None else sessions.get_session(db, session).session_id
    links, total = store.list_links(db, session_id, limit=max_results)
    names: dict[str, str] = {}
    for link in links:
        if link.session_id not in names:
            names[link.session_id] = sessions.get_session(db, link.session_id).name
    now = time.time_ns()
    return LinkList(links=[LinkInfo(**_info(link, names[link.session_id], now)) for link in links], total=total)


def revoke_link(db: Database, link_id: str) -> LinkInfo:
    """Revoke a link at once: the next request made with it is refused."""
    link = store.revoke_link(db, link_id)
    return LinkInfo(**_info(link, sessions.get_session(db, link.session_id).name, time.time_ns()))


# --- what a link opens -------------------------------------------------------------------------


def open_link(db: Database, token: str | None) -> store.LabelingLinkRecord:
    """The active link this token belongs to; else LinkRefused saying whether it is unknown, expired or
    revoked, and that its sender can make a new one."""
    ask = "ask whoever sent you the link for a new one (tracejudge labeling share)."
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise LinkRefused(f"this page needs a labeling link's token (it starts {TOKEN_PREFIX!r}); {ask}")
    link = store.find_link(db, secret_hash(token))
    if link is None:
        raise LinkRefused(f"this labeling link is not known to this server; {ask}")
    state = _state(link, time.time_ns())
    if state != "active":
        raise LinkRefused(f"this labeling link was {state} on {iso_time(link.revoked_ns or link.expires_ns)}; {ask}")
    return link


def linked_session(db: Database, link: store.LabelingLinkRecord) -> LinkedSession:
    record = sessions.get_session(db, link.session_id)
    return LinkedSession(
        session_id=record.session_id,
        session_name=record.name,
        labeler=link.labeler,
        assignees=record.assignees,
        schemas=schema_infos(db, record.schemas),
        status_counts=record.status_counts,
        expires_time=iso_time(link.expires_ns),
    )


class NotInSession(TraceJudgeError, LookupError):
    """A trace the link's session does not queue: to the link, it does not exist."""


def queued_trace(db: Database, link: store.LabelingLinkRecord, trace_id: str) -> str:
    """The trace's normalized id when the link's session queues it; else NotInSession."""
    try:
        normalized = normalize_trace_id(trace_id)
    except TraceJudgeError:
        normalized = None
    if normalized is None or sessions.get_item(db, link.session_id, normalized) is None:
        raise NotInSession(f"trace {trace_id[:80]!r} is not queued in this labeling session.")
    return normalized


def link_items(
    db: Database, link: store.LabelingLinkRecord, *, status: str | None = None, max_results: int = 20,
    page_token: str | None = None,
) -> ItemList:  # fmt: skip
    return list_items(db, link.session_id, status=status, max_results=max_results, page_token=page_token)


def _labeler_of(link: store.LabelingLinkRecord, given: object) -> object:
    """The link's labeler, whatever the page says; else the name the person gave."""
    if link.labeler is not None:
        return link.labeler
    if given is None or given == "":
        raise InvalidArgument("labeler is missing: give your name, so your labels can be told from others'.")
    return given


def submit_labels(
    db: Database, link: store.LabelingLinkRecord, trace_id: str, labels: object, *, labeler: object = None
) -> Submitted:
    """Store the person's labels of one queued trace, [{schema, value, comment?}, ...]: every value is
    checked against its schema before any is stored, so a mistake in one stores none."""
    trace_id = queued_trace(db, link, trace_id)
    record = sessions.get_session(db, link.session_id)
    name = check_labeler(record, _labeler_of(link, labeler))
    if not isinstance(labels, list) or not labels or len(labels) > MAX_LABELS_PER_SUBMIT:
        raise InvalidArgument(f"labels must be a list of 1 to {MAX_LABELS_PER_SUBMIT} {{schema, value, comment}} objects.")
    schemas = {schema.name: schema for schema in sessions.get_schemas(db, record.schemas)}
    for label in labels:
        if not isinstance(label, dict) or set(label) - {"schema", "value", "comment"} or "value" not in label:
            raise InvalidArgument("each label is an object with schema, value and, optionally, comment; nothing was stored.")
        schema = schemas.get(label.get("schema"))  # type: ignore[arg-type]
        if schema is None:
            raise InvalidArgument(
                f"this session does not ask {str(label.get('schema'))[:80]!r}; it asks {', '.join(map(repr, schemas))}. "
                "Nothing was stored."
            )
        if label.get("comment") and not schema.enable_comment:
            raise InvalidArgument(f"{schema.name} takes no comment; leave it out. Nothing was stored.")
        try:
            parse_input(schema.input).check(label["value"])
        except InvalidArgument as exc:
            raise InvalidArgument(f"{schema.name}: {exc}. Nothing was stored.") from None
    results = [
        submit_label(db, link.session_id, trace_id, label["schema"], label["value"], labeler=name,
                     comment=label.get("comment") or None)
        for label in labels
    ]  # fmt: skip
    return Submitted(labels=results, next_pending_trace_id=results[-1].next_pending_trace_id)


def skip_trace(db: Database, link: store.LabelingLinkRecord, trace_id: str, *, labeler: object = None) -> LabelingItem:
    trace_id = queued_trace(db, link, trace_id)
    record = sessions.get_session(db, link.session_id)
    return skip_item(db, link.session_id, trace_id, labeler=check_labeler(record, _labeler_of(link, labeler)))
