"""The datasets' and prompt registry's JSON API through a real server over HTTP: each route answers
what its MCP tool answers (ListDatasets, GetDataset, ListDatasetRecords, UpsertDatasetRecords;
ListPrompts, ListPromptVersions, GetPrompt, DiffPromptVersions, SetPromptAlias), with the tool's
paging and error messages, and the two writes need our request header."""

from __future__ import annotations

import httpx2

from mcp_server.demo.target import ROUTER_PROMPT
from tests.support.live_server import LiveServer
from tests.support.northwind import BILLING_FIRST
from tests.web.test_api import WRITE, tool

DATASET = "support"
EVERY_TRACE = "trace.timestamp_ms > 0"


async def support_dataset(server: LiveServer) -> dict:
    """The dataset 'support' with a record per demo trace, made over MCP as a user would."""
    await tool(server, "CreateDataset", {"name": DATASET, "description": "The demo's requests"})
    return await tool(server, "AddTracesToDataset", {"dataset": DATASET, "filter_string": EVERY_TRACE})


async def test_datasets_a_dataset_and_its_records_answer_as_the_tools_do(web_server: LiveServer) -> None:
    added = await support_dataset(web_server)
    assert added["added"] == 10 and added["version"] == 1
    api = f"{web_server.url}/api/datasets"
    assert httpx2.get(api).json() == await tool(web_server, "ListDatasets", {})
    assert httpx2.get(f"{api}/{DATASET}").json() == await tool(web_server, "GetDataset", {"name": DATASET})
    pages, token = [], None
    while True:
        paging = {"max_results": 4, **({"page_token": token} if token else {})}
        page = httpx2.get(f"{api}/{DATASET}/records", params=paging).json()
        assert page == await tool(web_server, "ListDatasetRecords", {"dataset": DATASET, **paging})
        pages.append(page)
        if (token := page["next_page_token"]) is None:
            break
    records = [record for page in pages for record in page["records"]]
    assert len(pages) == 3 and len(records) == 10 and all(len(r["source_trace_id"]) == 32 for r in records)
    empty = httpx2.get(f"{api}/{DATASET}/records", params={"version": 0}).json()
    assert empty == await tool(web_server, "ListDatasetRecords", {"dataset": DATASET, "version": 0})
    assert empty["records"] == [] and empty["latest_version"] == 1


async def test_editing_expectations_is_upsert_dataset_records_making_a_new_version(web_server: LiveServer) -> None:
    await support_dataset(web_server)
    url = f"{web_server.url}/api/datasets/{DATASET}/records"
    record = httpx2.get(url, params={"max_results": 1}).json()["records"][0]
    edit = {"records": [{"inputs": record["inputs"], "expectations": {"expected_specialist": "billing_specialist"}}]}
    refused = httpx2.post(url, json=edit)
    assert refused.status_code == 403 and "X-TraceJudge-Request" in refused.json()["error"]
    saved = httpx2.post(url, json=edit, headers=WRITE).json()
    assert (saved["version"], saved["changed"], saved["merged"], saved["record_ids"]) == (2, True, 1, [record["record_id"]])
    again = httpx2.post(url, json=edit, headers=WRITE).json()
    assert again == await tool(web_server, "UpsertDatasetRecords", {"dataset": DATASET, **edit})
    assert again["changed"] is False and again["version"] == 2
    listed = await tool(web_server, "ListDatasetRecords", {"dataset": DATASET, "version": 2})
    (edited,) = [r for r in listed["records"] if r["record_id"] == record["record_id"]]
    assert edited["expectations"] == {"expected_specialist": "billing_specialist"} and edited["added_version"] == 2
    before = await tool(web_server, "ListDatasetRecords", {"dataset": DATASET, "version": 1})
    assert [r["expectations"] for r in before["records"] if r["record_id"] == record["record_id"]] == [record["expectations"]]


async def test_dataset_routes_say_what_was_wrong_with_the_services_messages(web_server: LiveServer) -> None:
    await support_dataset(web_server)
    api = f"{web_server.url}/api/datasets"
    missing = httpx2.get(f"{api}/nope")
    assert missing.status_code == 404 and missing.json()["error"].startswith("dataset 'nope' is not in this store")
    assert httpx2.get(f"{api}/nope/records").status_code == 404
    version = httpx2.get(f"{api}/{DATASET}/records", params={"version": 7})
    assert version.status_code == 404 and "has no version 7 (its versions run from 0 to 1)" in version.json()["error"]
    assert httpx2.get(f"{api}/{DATASET}/records", params={"version": "two"}).status_code == 400
    damaged = httpx2.get(f"{api}/{DATASET}/records", params={"page_token": "abc"})
    assert damaged.status_code == 400 and "ListDatasetRecords" in damaged.json()["error"]
    assert httpx2.get(api, params={"max_results": 1000}).status_code == 400
    post = lambda body: httpx2.post(f"{api}/{DATASET}/records", json=body, headers=WRITE)  # noqa: E731
    empty = post({"records": [{"inputs": {}}]})
    assert empty.status_code == 400 and empty.json()["error"].startswith("records[0]: inputs is empty")
    shape = post({"records": [{"inputs": {"q": "x"}, "expectations": [1]}]})
    assert shape.status_code == 400 and "expectations must be a JSON object" in shape.json()["error"]
    assert "records is missing" in post({}).json()["error"]
    assert "unknown fields dataset" in post({"dataset": DATASET, "records": []}).json()["error"]
    assert post({"records": []}).json()["error"].startswith("records is empty")
    assert httpx2.post(f"{api}/nope/records", json={"records": [{"inputs": {"q": "x"}}]}, headers=WRITE).status_code == 404
    assert (await tool(web_server, "GetDataset", {"name": DATASET}))["version"] == 1  # none of them stored anything


async def test_prompts_versions_a_version_and_a_diff_answer_as_the_tools_do(web_server: LiveServer) -> None:
    await tool(web_server, "RegisterPrompt", {"name": ROUTER_PROMPT, "template": BILLING_FIRST, "commit_message": "billing first"})
    api = f"{web_server.url}/api/prompts"
    assert httpx2.get(api).json() == await tool(web_server, "ListPrompts", {})
    first = httpx2.get(f"{api}/{ROUTER_PROMPT}/versions", params={"max_results": 1}).json()
    assert first == await tool(web_server, "ListPromptVersions", {"name": ROUTER_PROMPT, "max_results": 1})
    rest = httpx2.get(f"{api}/{ROUTER_PROMPT}/versions", params={"max_results": 1, "page_token": first["next_page_token"]}).json()
    assert [v["version"] for v in first["versions"] + rest["versions"]] == [2, 1] and rest["next_page_token"] is None
    for query, arguments in (({}, {}), ({"version": 1}, {"version": 1}), ({"alias": "production"}, {"alias": "production"})):
        shown = httpx2.get(f"{api}/{ROUTER_PROMPT}", params=query).json()
        assert shown == await tool(web_server, "GetPrompt", {"name_or_uri": ROUTER_PROMPT, **arguments})
    assert shown["prompt_version"]["version"] == 1 and shown["aliases"] == {"production": 1}
    versions = {"from_version": 1, "to_version": 2}
    diff = httpx2.get(f"{api}/{ROUTER_PROMPT}/diff", params=versions).json()
    assert diff == await tool(web_server, "DiffPromptVersions", {"name": ROUTER_PROMPT, **versions})
    assert "\n+1. bill, invoice" in diff["diff"] and "\n-1. roaming" in diff["diff"]


async def test_moving_an_alias_is_set_prompt_alias_and_needs_the_request_header(web_server: LiveServer) -> None:
    await tool(web_server, "RegisterPrompt", {"name": ROUTER_PROMPT, "template": BILLING_FIRST})
    url = f"{web_server.url}/api/prompts/{ROUTER_PROMPT}/aliases"
    move = {"alias": "production", "version": 2}
    refused = httpx2.post(url, json=move)
    assert refused.status_code == 403 and "X-TraceJudge-Request" in refused.json()["error"]
    moved = httpx2.post(url, json=move, headers=WRITE).json()
    assert moved == {"name": ROUTER_PROMPT, "alias": "production", "version": 2, "previous_version": 1,
                     "uri": f"prompts:/{ROUTER_PROMPT}@production"}  # fmt: skip
    assert httpx2.post(url, json=move, headers=WRITE).json() == await tool(web_server, "SetPromptAlias", {"name": ROUTER_PROMPT, **move})
    loaded = await tool(web_server, "GetPrompt", {"name_or_uri": ROUTER_PROMPT, "alias": "production"})
    assert loaded["prompt_version"]["version"] == 2


async def test_prompt_routes_say_what_was_wrong_with_the_services_messages(web_server: LiveServer) -> None:
    api = f"{web_server.url}/api/prompts"
    for path in ("nope", "nope/versions", "nope/diff?from_version=1&to_version=2"):
        missing = httpx2.get(f"{api}/{path}")
        assert missing.status_code == 404 and missing.json()["error"].startswith("prompt 'nope' is not in this store"), path
    no_version = httpx2.get(f"{api}/{ROUTER_PROMPT}", params={"version": 5})
    assert no_version.status_code == 404 and no_version.json()["error"].startswith(f"version 5 of prompt '{ROUTER_PROMPT}'")
    half = httpx2.get(f"{api}/{ROUTER_PROMPT}/diff", params={"from_version": 1})
    assert half.status_code == 400 and half.json()["error"].startswith("to_version is missing")
    long = httpx2.get(f"{api}/{ROUTER_PROMPT}/diff", params={"from_version": 1, "to_version": 1, "max_content_length": 5})
    assert long.status_code == 400 and "max_content_length" in long.json()["error"]
    url = f"{api}/{ROUTER_PROMPT}/aliases"
    post = lambda body: httpx2.post(url, json=body, headers=WRITE)  # noqa: E731
    latest = post({"alias": "latest", "version": 1})
    assert latest.status_code == 400 and "'latest' is reserved" in latest.json()["error"]
    assert post({"alias": "production", "version": 9}).status_code == 404
    assert "version must be a whole number" in post({"alias": "production", "version": "1"}).json()["error"]
    assert "version must be a whole number" in post({"alias": "production", "version": True}).json()["error"]
    assert "alias and version are both needed" in post({"alias": "production"}).json()["error"]
    assert "unknown fields name" in post({"name": "x", "alias": "production", "version": 1}).json()["error"]
    assert (await tool(web_server, "GetPrompt", {"name_or_uri": ROUTER_PROMPT}))["aliases"] == {"production": 1}


async def test_the_trace_pages_add_to_dataset_is_add_traces_to_dataset(web_server: LiveServer) -> None:
    await tool(web_server, "CreateDataset", {"name": DATASET})
    (first, second) = httpx2.get(f"{web_server.url}/api/traces", params={"max_results": 2}).json()["traces"]
    url = f"{web_server.url}/api/datasets/{DATASET}/traces"
    added = httpx2.post(url, json={"trace_ids": [first["trace_id"]]}, headers=WRITE).json()
    assert (added["added"], added["version"], added["record_count"]) == (1, 1, 1)
    again = httpx2.post(url, json={"trace_ids": [first["trace_id"]]}, headers=WRITE).json()
    assert (again["unchanged"], again["changed"], again["version"]) == (1, False, 1)
    # The tool gives the same report for the same call.
    assert await tool(web_server, "AddTracesToDataset", {"dataset": DATASET, "trace_ids": [first["trace_id"]]}) == again
    assert httpx2.post(url, json={"trace_ids": [second["trace_id"]]}).status_code == 403  # no request header
    unknown = httpx2.post(url, json={"trace_ids": [second["trace_id"]], "records": []}, headers=WRITE)
    assert unknown.status_code == 400 and "unknown fields records" in unknown.json()["error"]
    missing = httpx2.post(f"{web_server.url}/api/datasets/nope/traces", json={"trace_ids": [first["trace_id"]]}, headers=WRITE)
    assert missing.status_code == 404 and "ListDatasets" in missing.json()["error"]
