"""Share links of labeling sessions through a real server started with a token: a link made by
`tracejudge labeling share` opens its session's queue, the traces queued there and labeling them, and
nothing else; expired and revoked links open nothing; the labels are the HUMAN assessments the
labeling tools read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mcp_server.cli import main
from mcp_server.labeling.links import TOKEN_PREFIX
from mcp_server.tooling.credentials import secret_hash
from store import Database, labeling_links
from tests.support.live_server import LiveServer
from tests.web.conftest import demo_server
from tests.web.test_api import WRITE, tool

TOKEN = "server-token-for-the-share-tests"
BEARER = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = demo_server(tmp_path, token=TOKEN)
    yield live
    live.stop()


async def make_session(server: LiveServer, queued: int = 3) -> tuple[list[str], list[str]]:
    """A session 'review' asking routing_correct (pass/fail, with comments) and department, with the
    newest `queued` demo traces queued; returns them and the other traces' ids."""
    await tool(server, "CreateLabelingSchema", {"name": "routing_correct", "type": "feedback", "input": {"kind": "pass_fail"},
                                                "instructions": "Did the router pick the right specialist?",
                                                "enable_comment": True}, BEARER)  # fmt: skip
    await tool(server, "CreateLabelingSchema", {"name": "department", "type": "expectation",
                                                "input": {"kind": "categorical", "options": ["billing", "technical", "sales"]}},
               BEARER)  # fmt: skip
    await tool(server, "CreateLabelingSession", {"name": "review", "schemas": ["routing_correct", "department"]}, BEARER)
    found = await tool(server, "SearchTraces", {"max_results": 10}, BEARER)
    ids = [trace["trace_id"] for trace in found["traces"]]
    await tool(server, "AddTracesToLabelingSession", {"session": "review", "trace_ids": ids[:queued]}, BEARER)
    return ids[:queued], ids[queued:]


def share(server: LiveServer, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["labeling", "share", "review", "--db", str(server.settings.db_path), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def linked(token: str) -> dict[str, str]:
    return {"x-tracejudge-link": token}


async def test_a_link_opens_its_sessions_queue_and_traces_and_nothing_else(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    queued, others = await make_session(server)
    link = share(server, capsys, "--labeler", "ann", "--expires", "2h")
    token = link["token"]
    assert token.startswith(TOKEN_PREFIX) and link["path"].endswith(f"/label#{token}") and link["state"] == "active"
    url = server.url

    session = httpx2.get(f"{url}/api/label", headers=linked(token)).json()
    assert session["session_name"] == "review" and session["labeler"] == "ann"
    assert [s["name"] for s in session["schemas"]] == ["routing_correct", "department"]
    assert session["schemas"][0]["instructions"] == "Did the router pick the right specialist?"
    assert session["schemas"][1]["input"]["options"] == ["billing", "technical", "sales"]
    items = httpx2.get(f"{url}/api/label/items", params={"status": "pending"}, headers=linked(token)).json()
    assert [item["trace_id"] for item in items["items"]] == queued
    assert items == await tool(server, "ListLabelingItems", {"session": "review", "status": "pending"}, BEARER)

    # A queued trace reads as the tools answer it; its spans and their content too.
    info = httpx2.get(f"{url}/api/label/traces/{queued[0]}", headers=linked(token)).json()
    assert info == await tool(server, "GetTraceInfo", {"trace_id": queued[0]}, BEARER)
    spans = httpx2.get(f"{url}/api/label/traces/{queued[0]}/spans", headers=linked(token)).json()
    span_id = spans["spans"][0]["span_id"]
    span = httpx2.get(f"{url}/api/label/traces/{queued[0]}/spans/{span_id}", headers=linked(token))
    assert span.status_code == 200 and span.json()["span_id"] == span_id

    # Nothing else: another trace does not exist for it, and no other route takes it.
    for path in (f"/api/label/traces/{others[0]}", f"/api/label/traces/{others[0]}/spans",
                 f"/api/label/traces/{others[0]}/spans/{span_id}", "/api/label/traces/not-an-id"):  # fmt: skip
        answer = httpx2.get(url + path, headers=linked(token))
        assert answer.status_code == 404 and "not queued in this labeling session" in answer.json()["error"], path
    assert httpx2.post(f"{url}/api/label/traces/{others[0]}/labels", headers={**linked(token), **WRITE},
                       json={"labels": [{"schema": "department", "value": "sales"}]}).status_code == 404  # fmt: skip
    for path in ("/api/traces", f"/api/traces/{queued[0]}", "/api/labeling/sessions", "/api/label/../traces"):
        for headers in (linked(token), {"authorization": f"Bearer {token}"}):
            answer = httpx2.get(url + path, headers=headers)
            assert answer.status_code in (401, 404) and "traces" not in answer.json(), (path, headers)
    mcp = httpx2.post(f"{url}/mcp", headers={"authorization": f"Bearer {token}", "accept": "application/json"},
                      json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})  # fmt: skip
    assert mcp.status_code == 401
    # Nor does the server's own token or cookie open the labeling page's routes: only a link does.
    assert httpx2.get(f"{url}/api/label", headers=BEARER).status_code == 403


async def test_labels_given_through_a_link_are_the_labelers_human_assessments(
    server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    queued, _ = await make_session(server)
    token = share(server, capsys)["token"]  # no --labeler: the person gives a name
    url, headers = server.url, {**linked(token), **WRITE}
    labels_of = f"{url}/api/label/traces/{queued[0]}/labels"

    missing_name = httpx2.post(labels_of, headers=headers, json={"labels": [{"schema": "department", "value": "sales"}]})
    assert missing_name.status_code == 400 and "give your name" in missing_name.json()["error"]
    # One bad value stores none of the labels sent with it.
    bad = httpx2.post(labels_of, headers=headers, json={"labeler": "bo", "labels": [
        {"schema": "routing_correct", "value": "fail"}, {"schema": "department", "value": "legal"}]})  # fmt: skip
    assert bad.status_code == 400 and "department" in bad.json()["error"] and "Nothing was stored" in bad.json()["error"]
    assert (await tool(server, "ListAssessments", {"trace_id": queued[0]}, BEARER))["assessments"] == []

    done = httpx2.post(labels_of, headers=headers, json={"labeler": "bo", "labels": [
        {"schema": "routing_correct", "value": "fail", "comment": "sent to sales, not billing"},
        {"schema": "department", "value": "Billing"}]})  # fmt: skip
    assert done.status_code == 200, done.text
    assert [label["value"] for label in done.json()["labels"]] == [False, "billing"]
    assert done.json()["next_pending_trace_id"] == queued[1]
    stored = await tool(server, "ListLabelingItems", {"session": "review"}, BEARER)
    first = stored["items"][0]
    assert first["status"] == "completed"
    assert {(label["schema_name"], label["labeler"], json.dumps(label["value"])) for label in first["labels"]} == {
        ("routing_correct", "bo", "false"), ("department", "bo", '"billing"')}  # fmt: skip
    assessments = (await tool(server, "ListAssessments", {"trace_id": queued[0]}, BEARER))["assessments"]
    assert {(a["name"], a["source_type"]) for a in assessments} == {("routing_correct", "HUMAN"), ("department", "HUMAN")}

    skipped = httpx2.post(f"{url}/api/label/traces/{queued[1]}/skip", headers=headers, json={"labeler": "bo"})
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    sessions = httpx2.get(f"{url}/api/labeling/sessions", headers=BEARER).json()["sessions"]
    assert sessions[0]["status_counts"] == {"pending": 1, "completed": 1, "skipped": 1}
    assert sessions[0]["labeled_by"] == {"bo": 1}
    # A write from a link still needs the page's request header (a cross-site form cannot send it).
    assert httpx2.post(labels_of, headers=linked(token), json={"labeler": "bo", "labels": []}).status_code == 403


async def test_revoked_expired_and_unknown_links_open_nothing(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    await make_session(server)
    link = share(server, capsys, "--labeler", "ann")
    assert httpx2.get(f"{server.url}/api/label", headers=linked(link["token"])).status_code == 200
    capsys.readouterr()
    assert main(["labeling", "revoke", link["link_id"], "--db", str(server.settings.db_path)]) == 0
    assert "revoked" in capsys.readouterr().out
    revoked = httpx2.get(f"{server.url}/api/label", headers=linked(link["token"]))
    assert revoked.status_code == 403 and "revoked" in revoked.json()["error"] and "new one" in revoked.json()["error"]

    # A link past its expiry (made through the store, as no test waits a minute for one to lapse).
    db = Database(server.settings.db_path)
    try:
        lapsed = TOKEN_PREFIX + "lapsed"
        session_id = labeling_links.list_links(db)[0][0].session_id
        labeling_links.create_link(db, session_id, secret_hash(lapsed), labeler=None, expires_ns=time.time_ns() - 1)
    finally:
        db.close()
    expired = httpx2.get(f"{server.url}/api/label/items", headers=linked(lapsed))
    assert expired.status_code == 403 and "expired" in expired.json()["error"]
    for given in ({}, linked("tjl_never-made"), linked("not-a-link")):
        answer = httpx2.get(f"{server.url}/api/label", headers=given)
        assert answer.status_code == 403 and "labeling link" in answer.json()["error"], given

    capsys.readouterr()
    assert main(["labeling", "links", "review", "--db", str(server.settings.db_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 2 and {entry["state"] for entry in listed["links"]} == {"revoked", "expired"}
    assert "token" not in json.dumps(listed)


async def test_the_session_page_makes_lists_and_revokes_links_with_the_servers_token(server: LiveServer) -> None:
    await make_session(server)
    base = f"{server.url}/api/labeling/sessions/review/links"
    assert httpx2.post(base, headers=WRITE, json={}).status_code == 401  # no token, no link
    made = httpx2.post(base, headers={**BEARER, **WRITE}, json={"labeler": "ann", "expires": "3d"})
    assert made.status_code == 200, made.text
    link = made.json()
    assert link["labeler"] == "ann" and link["token"].startswith(TOKEN_PREFIX)
    bad = httpx2.post(base, headers={**BEARER, **WRITE}, json={"expires": "forever"})
    assert bad.status_code == 400 and "7d" in bad.json()["error"]
    listed = httpx2.get(base, headers=BEARER).json()
    assert [entry["link_id"] for entry in listed["links"]] == [link["link_id"]] and "token" not in listed["links"][0]
    revoked = httpx2.post(f"{server.url}/api/labeling/links/{link['link_id']}/revoke", headers={**BEARER, **WRITE}, json={})
    assert revoked.json()["state"] == "revoked"
    assert httpx2.get(f"{server.url}/api/label", headers=linked(link["token"])).status_code == 403
    unknown = httpx2.post(f"{server.url}/api/labeling/links/ll-nope/revoke", headers={**BEARER, **WRITE}, json={})
    assert unknown.status_code == 404 and "tracejudge labeling links" in unknown.json()["error"]


async def test_the_session_pages_queue_traces_as_add_traces_to_labeling_session_does(server: LiveServer) -> None:
    queued, others = await make_session(server, queued=1)
    url = f"{server.url}/api/labeling/sessions/review/traces"
    added = httpx2.post(url, headers={**BEARER, **WRITE}, json={"trace_ids": others[:2]})
    assert added.status_code == 200 and added.json()["added"] == 2 and added.json()["added_trace_ids"] == others[:2]
    again = httpx2.post(url, headers={**BEARER, **WRITE}, json={"trace_ids": others[:1]}).json()
    assert (again["added"], again["already_queued"]) == (0, 1)
    assert httpx2.post(url, headers=BEARER, json={"trace_ids": others[2:3]}).status_code == 403  # no request header
    missing = httpx2.post(f"{server.url}/api/labeling/sessions/nope/traces", headers={**BEARER, **WRITE}, json={"trace_ids": others[:1]})
    assert missing.status_code == 404 and "ListLabelingSessions" in missing.json()["error"]
    unknown = httpx2.post(url, headers={**BEARER, **WRITE}, json={"trace_ids": ["ab" * 16]})
    assert unknown.status_code == 400 and "nothing was added" in unknown.json()["error"]
    items = await tool(server, "ListLabelingItems", {"session": "review"}, BEARER)
    assert [item["trace_id"] for item in items["items"]] == [*queued, *others[:2]]
