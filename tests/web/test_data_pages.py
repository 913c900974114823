"""The datasets and prompts pages in a real Chromium against a real server over the demo store: a
developer opens the router prompt after a second version is registered, reads the diff, moves
'production' to the new version (confirmed first; MCP then loads it) and adds an alias; makes a dataset from the demo
traces, follows a record to its source trace, and corrects a record's expectations in the page,
which is a new version MCP reads, while JSON that does not parse is refused and stores nothing; a
record's inputs go back with their numbers exact, so the edit merges into the same record; a hostile
dataset and prompt render as inert text."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from mcp_server.demo.target import ROUTER_PROMPT
from tests.support.live_server import LiveServer
from tests.support.northwind import BILLING_FIRST
from tests.web.conftest import MISROUTED, assert_inert, in_a_thread, save_screenshot
from tests.web.test_api import tool
from tests.web.test_data_api import DATASET, EVERY_TRACE
from tests.web.test_pages import HOSTILE

pytestmark = pytest.mark.slow

EXPECTED = {"expected_specialist": "billing_specialist"}


def production_version(server: LiveServer) -> int:
    loaded = in_a_thread(tool, server, "GetPrompt", {"name_or_uri": ROUTER_PROMPT, "alias": "production"})
    return loaded["prompt_version"]["version"]


def test_read_a_prompts_diff_and_move_production_to_the_new_version(page, web_server: LiveServer) -> None:
    in_a_thread(tool, web_server, "RegisterPrompt", {"name": ROUTER_PROMPT, "template": BILLING_FIRST,
                                                     "commit_message": "billing rule first"})  # fmt: skip
    page.goto(f"{web_server.url}/")
    page.click("nav.top >> text=Prompts")
    row = page.locator("table.list tbody tr", has_text=ROUTER_PROMPT)
    expect(row).to_contain_text("v2")
    expect(row.locator(".alias")).to_have_text("production → v1")
    row.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/prompts/{ROUTER_PROMPT}$"))
    expect(page.locator(".prompt h1")).to_have_text(ROUTER_PROMPT)
    panel = page.locator(".version-panel")
    expect(panel.locator("h2")).to_contain_text("Version 2")
    expect(panel.locator("pre.template")).to_contain_text("1. bill, invoice, charge, charged, fee, refund, payment -> billing_specialist")
    expect(panel).to_contain_text("billing rule first")

    diff = page.locator(".diff-panel")
    expect(diff.locator(".diff-line.file").first).to_have_text(f"--- prompts:/{ROUTER_PROMPT}/1")
    added, removed = diff.locator(".diff-line.added"), diff.locator(".diff-line.removed")
    expect(added).to_have_count(2)
    expect(removed).to_have_count(2)
    expect(added.first).to_have_text(re.compile(r"^\+1\. bill, invoice"))
    expect(removed.first).to_have_text(re.compile(r"^-1\. roaming"))
    expect(added.first).to_have_css("background-color", "rgb(236, 253, 243)")
    expect(removed.first).to_have_css("background-color", "rgb(254, 243, 242)")
    save_screenshot(page, "prompt-diff")
    page.locator("table.versions tbody tr[data-version='1']").click()  # read version 1 whole
    expect(panel.locator("h2")).to_contain_text("Version 1")
    expect(panel.locator("pre.template")).to_contain_text("1. roaming, coverage")

    production = page.locator(".alias-panel tr[data-alias=production]")
    expect(production).to_contain_text("→ v1")
    production.locator("select").select_option("2")
    production.locator("button", has_text="Move").click()
    confirm = page.locator(".confirm")
    expect(confirm).to_contain_text(f"Move production from version 1 to version 2? Agents that load prompts:/{ROUTER_PROMPT}@production")
    confirm.locator("button", has_text="Cancel").click()
    expect(confirm).to_have_count(0)
    assert production_version(web_server) == 1  # nothing moves before the confirm

    production.locator("button", has_text="Move").click()
    confirm.locator("button", has_text="Move production").click()
    expect(page.locator(".alias-panel .saved")).to_have_text(
        f"production now points at version 2 (was 1): prompts:/{ROUTER_PROMPT}@production")
    expect(production).to_contain_text("→ v2")
    expect(page.locator("table.versions tbody tr[data-version='2'] .alias")).to_have_text("production")
    assert production_version(web_server) == 2

    fresh = page.locator(".alias-panel input[name=alias]")
    fresh.fill("latest")
    page.locator(".alias-panel select[aria-label='new alias version']").select_option("1")
    page.locator(".alias-panel button", has_text="Add…").click()
    expect(confirm).to_contain_text("Point the new alias latest at version 1?")
    confirm.locator("button", has_text="Add latest").click()
    expect(page.locator(".alias-panel .error")).to_contain_text("the alias 'latest' is reserved")
    assert page.problems == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.problems.clear()  # the browser logs that answer as a failed load: it was asked for
    fresh.fill("staging")
    expect(confirm).to_have_count(0)  # the question was about another alias
    page.locator(".alias-panel button", has_text="Add…").click()
    confirm.locator("button", has_text="Add staging").click()
    expect(page.locator(".alias-panel .saved")).to_have_text(
        f"staging now points at version 1 (a new alias): prompts:/{ROUTER_PROMPT}@staging")
    expect(page.locator(".alias-panel tr[data-alias=staging]")).to_contain_text("→ v1")
    assert page.problems == []


def test_a_dataset_from_traces_its_source_traces_and_an_expectation_edited_as_a_new_version(
    page, web_server: LiveServer
) -> None:
    in_a_thread(tool, web_server, "CreateDataset", {"name": DATASET, "description": "The demo's requests"})
    in_a_thread(tool, web_server, "AddTracesToDataset", {"dataset": DATASET, "filter_string": EVERY_TRACE})
    page.goto(f"{web_server.url}/")
    page.click("nav.top >> text=Datasets")
    page.locator("table.list a", has_text=DATASET).click()
    expect(page.locator(".dataset h1")).to_have_text(DATASET)
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("latest")
    records = page.locator("table.records tbody tr")
    expect(records).to_have_count(10)
    misrouted = records.filter(has_text=MISROUTED)
    expect(misrouted).to_have_count(1)
    record_id = misrouted.get_attribute("data-record")

    misrouted.locator("a.source-trace").click()
    expect(page.locator(".trace-header .request").first).to_contain_text(MISROUTED)
    page.go_back()
    expect(records).to_have_count(10)

    misrouted.locator("button", has_text="Edit expectations").click()
    editor = misrouted.locator("textarea[name=expectations]")
    save = misrouted.locator("button", has_text="Save as a new version")
    editor.fill('{"expected_specialist": billing_specialist}')
    expect(misrouted.locator("[role=alert]")).to_contain_text("This is not JSON")
    expect(save).to_be_disabled()
    editor.fill('["billing_specialist"]')
    expect(misrouted.locator("[role=alert]")).to_contain_text("Expectations must be a JSON object ({…}, one value per name); this is an array")
    expect(save).to_be_disabled()
    assert in_a_thread(tool, web_server, "GetDataset", {"name": DATASET})["version"] == 1  # nothing stored

    editor.fill('{\n  "expected_specialist": "billing_specialist"\n}')
    expect(misrouted.locator("[role=alert]")).to_have_count(0)
    save.click()
    expect(page.locator(".dataset .saved")).to_contain_text(f"dataset '{DATASET}' is now at version 2 with 10 records")
    expect(versions).to_have_count(3)
    expect(versions.nth(0)).to_have_class("selected")
    expect(versions.nth(0)).to_contain_text("1 merged")
    expect(misrouted).to_contain_text("billing_specialist")
    expect(misrouted).to_contain_text("added in v2")
    save_screenshot(page, "dataset-page")
    listed = in_a_thread(tool, web_server, "ListDatasetRecords", {"dataset": DATASET, "version": 2})
    assert [r["expectations"] for r in listed["records"] if r["record_id"] == record_id] == [EXPECTED]

    misrouted.locator("button", has_text="Edit expectations").click()
    editor.fill("{}")
    expect(misrouted.locator(".notice")).to_have_text("Saving merges by name: expected_specialist stays as stored.")
    misrouted.locator("button", has_text="Cancel").click()
    expect(editor).to_have_count(0)

    page.locator("table.versions tbody tr[data-version='1']").click()  # the version before keeps what it had
    expect(page.locator(".dataset .toolbar h2")).to_have_text("Records of v1")
    expect(misrouted).not_to_contain_text("billing_specialist")
    expect(page.locator("button", has_text="Edit expectations")).to_have_count(0)
    assert page.problems == []


def test_an_edit_keeps_the_inputs_numbers_exact_so_it_merges_into_the_same_record(page, web_server: LiveServer) -> None:
    # The inputs are the record's key; read as JavaScript numbers, 1.0 would go back as 1 and 2**53 + 1 as 2**53.
    inputs = {"question": "Which plan?", "temperature": 1.0, "account": 2**53 + 1}
    in_a_thread(tool, web_server, "CreateDataset", {"name": "numbers"})
    in_a_thread(tool, web_server, "UpsertDatasetRecords", {"dataset": "numbers", "records": [
        {"inputs": inputs, "expectations": {"score": 1.0}}]})  # fmt: skip
    page.goto(f"{web_server.url}/datasets/numbers")
    page.locator("button", has_text="Edit expectations").click()
    editor = page.locator("textarea[name=expectations]")
    expect(editor).to_have_value('{\n  "score": 1.0\n}')  # as stored, not as a JavaScript number
    editor.fill(editor.input_value().replace("1.0\n", f"1.0,\n  {json.dumps(EXPECTED)[1:-1]}\n"))
    page.locator("button", has_text="Save as a new version").click()
    expect(page.locator(".dataset .saved")).to_contain_text("0 added, 1 merged")
    expect(page.locator(".dataset .saved .bad")).to_have_count(0)
    expect(page.locator("table.records tbody tr")).to_have_count(1)
    (record,) = in_a_thread(tool, web_server, "ListDatasetRecords", {"dataset": "numbers"})["records"]
    assert (record["inputs"], record["expectations"]) == (inputs, {"score": 1.0, **EXPECTED})
    assert isinstance(record["expectations"]["score"], float)

    page.add_init_script("delete JSON.rawJSON")  # a browser without it says what happened instead
    page.reload()
    page.locator("button", has_text="Edit expectations").click()
    page.locator("textarea[name=expectations]").fill(json.dumps({"expected_specialist": "product_specialist"}))
    page.locator("button", has_text="Save as a new version").click()
    expect(page.locator(".dataset .saved .bad")).to_contain_text("so this was stored as a new record r-")
    expect(page.locator("table.records tbody tr")).to_have_count(2)
    assert page.problems == []


def test_a_hostile_dataset_and_prompt_render_as_inert_text(page, web_server: LiveServer) -> None:
    in_a_thread(tool, web_server, "CreateDataset", {"name": "hostile", "description": HOSTILE[1]})
    in_a_thread(tool, web_server, "UpsertDatasetRecords", {"dataset": "hostile", "records": [
        {"inputs": {"question": HOSTILE[0]}, "expectations": {"note": HOSTILE[1]}, "tags": {"link": HOSTILE[2]}}]})
    in_a_thread(tool, web_server, "RegisterPrompt", {"name": "hostile", "template": " ".join(HOSTILE),
                                                     "commit_message": HOSTILE[0], "description": HOSTILE[1]})  # fmt: skip
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__violations = window.__violations || []).push(e.violatedDirective))")  # fmt: skip
    page.goto(f"{web_server.url}/datasets/hostile")
    expect(page.locator(".dataset header")).to_contain_text(HOSTILE[1])
    expect(page.locator("table.records")).to_contain_text(HOSTILE[0])
    expect(page.locator("table.records")).to_contain_text(HOSTILE[2])
    page.goto(f"{web_server.url}/prompts/hostile")
    expect(page.locator(".version-panel pre.template")).to_have_text(" ".join(HOSTILE))
    expect(page.locator(".version-panel .commit")).to_have_text(HOSTILE[0])
    assert_inert(page)
    assert page.problems == []
