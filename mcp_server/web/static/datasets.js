// The dataset pages: the datasets (ListDatasets) and one dataset (/datasets/<name>): its versions
// (GetDataset), a version's records (ListDatasetRecords) with their source traces, and a record's
// expectations edited as JSON and saved with UpsertDatasetRecords, which makes a new version.
import { Content } from "./content.js";
import { api, can, count, ErrorBox, html, Link, navigate, Pager, text, tracePath, useEffect, usePages, useState, when } from "./lib.js";

const LIST_PAGE = 50;
const RECORD_PAGE = 20;
const EXAMPLE = '{"expected_specialist": "billing_specialist"}';

export const datasetPath = (name) => `/datasets/${encodeURIComponent(name)}`;
const datasetApi = (name) => `/api/datasets/${encodeURIComponent(name)}`;

export function DatasetsPage() {
  const pages = usePages();
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/datasets", { max_results: LIST_PAGE, page_token: pages.token }).then((answer) => { setFound(answer); setError(null); }, setError);
  }, [pages.token]);
  return html`<section class="datasets">
    <h1>Datasets</h1>
    <p class="dim">Evaluation datasets: versioned records of inputs, expectations and tags. Evaluate runs an agent or judges over one.</p>
    <${ErrorBox} error=${error} />
    ${found && found.datasets.length === 0 && html`<p class="empty">No datasets yet: make one with CreateDataset, then fill it with
      AddTracesToDataset or UpsertDatasetRecords (or <code>tracejudge datasets import</code>).</p>`}
    ${found && found.datasets.length > 0 && html`<table class="list">
      <thead><tr><th>dataset</th><th>description</th><th class="num">version</th><th class="num">records</th><th>updated (UTC)</th></tr></thead>
      <tbody>${found.datasets.map((d) => html`<tr key=${d.name} onClick=${(e) => e.target.closest("a") || navigate(datasetPath(d.name))}>
        <td><${Link} href=${datasetPath(d.name)}>${text(d.name)}<//></td><td>${text(d.description)}</td>
        <td class="num">${count(d.version)}</td><td class="num">${count(d.record_count)}</td><td class="nowrap">${when(d.updated_time)}</td>
      </tr>`)}</tbody></table>
      <${Pager} pages=${pages} next=${found.next_page_token} />`}
  </section>`;
}

// JSON.parse, except that a number JavaScript would not write back as it came (1.0, 2**53 + 1) stays
// the text it was (JSON.rawJSON, where the browser has it), which JSON.stringify writes out as it is:
// a record's inputs are its key, so read as numbers they would name another record, and an edit of
// one expectation would turn another's 1.0 into 1.
const asSent = (key, value, context) => (typeof value === "number" && context && context.source !== undefined
  && JSON.stringify(value) !== context.source ? JSON.rawJSON(context.source) : value);
const parseExactly = (text) => (typeof JSON.rawJSON === "function" ? JSON.parse(text, asSent) : JSON.parse(text));
const isRaw = (value) => typeof JSON.isRawJSON === "function" && JSON.isRawJSON(value);

// A records page as JSON.parse reads it (what the page shows), and beside it each record as sent (what an edit sends back).
function withRecordsAsSent(body) {
  const page = JSON.parse(body);
  return { ...page, sent: Object.fromEntries(parseExactly(body).records.map((r) => [r.record_id, r])) };
}

// What the draft says, or why it cannot be saved: expectations are a JSON object.
function parseExpectations(draft) {
  let value;
  try {
    value = parseExactly(draft);
  } catch (err) {
    return { error: `This is not JSON (${err.message}). Expectations are a JSON object, e.g. ${EXAMPLE}.` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || isRaw(value)) {
    const shape = value === null ? "null" : Array.isArray(value) ? "an array" : isRaw(value) ? "a number" : `a ${typeof value}`;
    return { error: `Expectations must be a JSON object ({…}, one value per name); this is ${shape}. E.g. ${EXAMPLE}.` };
  }
  return { value };
}

// A record's expectations as JSON text to edit; saved with UpsertDatasetRecords (the record's inputs
// name it), which merges them into the record as a new version of the dataset.
function ExpectationEditor({ dataset, record, onSaved, onCancel }) {
  const [draft, setDraft] = useState(JSON.stringify(record.expectations, null, 2));
  const [error, setError] = useState(null);
  const [saving, setSaving] = useState(false);
  const parsed = parseExpectations(draft);
  // UpsertDatasetRecords merges expectations by name, so a name taken out of the draft stays stored.
  const kept = parsed.value ? Object.keys(record.expectations).filter((name) => !Object.hasOwn(parsed.value, name)) : [];
  const save = async (event) => {
    event.preventDefault();
    if (parsed.error) return;
    setSaving(true);
    setError(null);
    try {
      const answer = await api(`${datasetApi(dataset)}/records`, {}, { body: { records: [{ inputs: record.inputs, expectations: parsed.value }] } });
      onSaved(answer, record);
    } catch (err) {
      setError(err);
      setSaving(false);
    }
  };
  return html`<form class="json-editor" onSubmit=${save}>
    <textarea name="expectations" aria-label="expectations as JSON" spellcheck="false" rows=${Math.min(16, Math.max(4, draft.split("\n").length + 1))}
      value=${draft} onInput=${(e) => setDraft(e.target.value)} class=${parsed.error ? "invalid" : ""}></textarea>
    ${parsed.error && html`<div class="error" role="alert">${parsed.error}</div>`}
    ${kept.length > 0 && html`<div class="notice">Saving merges by name: ${kept.map(text).join(", ")} ${kept.length === 1 ? "stays" : "stay"} as stored.</div>`}
    <div class="actions"><button type="submit" class="primary" disabled=${Boolean(parsed.error) || saving}>Save as a new version</button>
      <button type="button" onClick=${onCancel}>Cancel</button></div>
    <${ErrorBox} error=${error} />
  </form>`;
}

// A record's inputs or expectations: each name with its value as span content is shown (a message
// list as a chat, other values as a JSON tree); a part too long to list is its cut JSON text.
function Part({ value }) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return html`<${Content} value=${value} />`;
  const entries = Object.entries(value);
  if (entries.length === 0) return html`<span class="dim">none</span>`;
  return entries.map(([name, item]) => html`<div class="part" key=${name}><span class="key">${text(name)}</span><${Content} value=${item} /></div>`);
}

function Tags({ tags }) {
  const entries = Object.entries(tags || {});
  if (entries.length === 0) return html`<span class="dim">–</span>`;
  return entries.map(([k, v]) => html`<span class="tag" key=${k}>${text(k)}: ${text(v)}</span>`);
}

function RecordRow({ dataset, record, sent, editable, editing, onEdit, onSaved }) {
  const cut = record.cut.includes("inputs") || record.cut.includes("expectations");
  return html`<tr class="static" data-record=${record.record_id}>
    <td class="nowrap"><code>${text(record.record_id)}</code><div class="preview">added in v${count(record.added_version)}</div></td>
    <td class="record-part"><${Part} value=${record.inputs} /></td>
    <td class="record-part">${editing
      ? html`<${ExpectationEditor} dataset=${dataset} record=${sent} onSaved=${onSaved} onCancel=${() => onEdit(null)} />`
      : html`<${Part} value=${record.expectations} />
        ${editable && !cut && html`<button class="quiet edit" onClick=${() => onEdit(record.record_id)}>Edit expectations</button>`}
        ${editable && cut && html`<div class="dim">too long to edit here: use UpsertDatasetRecords</div>`}`}</td>
    <td><${Tags} tags=${record.tags} /></td>
    <td class="nowrap">${record.source_trace_id
      ? html`<${Link} class="source-trace" href=${tracePath(record.source_trace_id)}><code>${text(record.source_trace_id).slice(0, 12)}…</code><//>`
      : html`<span class="dim">–</span>`}</td>
  </tr>`;
}

function Versions({ detail, shown, onPick }) {
  return html`<table class="list versions">
    <thead><tr><th class="num">version</th><th>change</th><th class="num">records</th><th>made (UTC)</th></tr></thead>
    <tbody>${detail.versions.map((v) => html`<tr key=${v.version} class=${v.version === shown ? "selected" : ""} data-version=${v.version}
        onClick=${() => onPick(v.version)} aria-selected=${v.version === shown}>
      <td class="num">v${count(v.version)}${v.version === detail.version ? html` <span class="tag">latest</span>` : ""}</td>
      <td>${text(v.change)}</td><td class="num">${count(v.record_count)}</td><td class="nowrap">${when(v.created_time)}</td>
    </tr>`)}</tbody>
  </table>
  ${detail.version_count > detail.versions.length && html`<p class="notice">The newest ${count(detail.versions.length)} of ${count(detail.version_count)} versions.</p>`}`;
}

export function DatasetPage({ name }) {
  const [detail, setDetail] = useState(null);
  const [version, setVersion] = useState(null);  // null: the latest
  const [records, setRecords] = useState(null);
  const [editing, setEditing] = useState(null);
  const [saved, setSaved] = useState(null);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);
  const pages = usePages();
  useEffect(() => { api(datasetApi(name)).then(setDetail, setError); }, [name, reload]);
  useEffect(() => {
    api(`${datasetApi(name)}/records`, { version, max_results: RECORD_PAGE, page_token: pages.token }, { parse: withRecordsAsSent })
      .then((page) => { setRecords(page); setError(null); }, setError);
  }, [name, version, pages.token, reload]);
  const pick = (picked) => { setVersion(detail && picked === detail.version ? null : picked); setEditing(null); pages.reset(); };
  const onSaved = (answer, record) => {
    setSaved({ ...answer, asked: record.record_id });
    setEditing(null);
    setVersion(null);
    pages.reset();  // a page token keeps its listing on the version it began with
    setReload((n) => n + 1);
  };
  if (error && !detail) return html`<section><${Link} href="/datasets">← datasets<//><${ErrorBox} error=${error} /></section>`;
  if (!detail) return html`<p class="loading">Loading dataset…</p>`;
  const shown = records ? records.version : detail.version;
  const latest = records !== null && records.version === records.latest_version;
  const editable = latest && can("write");  // UpsertDatasetRecords' route needs a write token (WRITE_ROUTES in mcp_server/web/api)
  return html`<section class="dataset">
    <${Link} href="/datasets">← datasets<//>
    <header><h1>${text(detail.name)}</h1>
      ${detail.description && html`<p>${text(detail.description)}</p>`}
      <dl class="facts"><div><dt>latest version</dt><dd>v${count(detail.version)}</dd></div><div><dt>records</dt><dd>${count(detail.record_count)}</dd></div>
        <div><dt>created</dt><dd>${when(detail.created_time)}</dd></div><div><dt>updated</dt><dd>${when(detail.updated_time)}</dd></div></dl></header>
    ${saved && html`<div class="saved" role="status">${saved.changed ? "Saved" : "Nothing to save"}: ${text(saved.message)}
      ${saved.record_ids[0] !== saved.asked && html`<div class="bad">${"This browser could not send the record's inputs back exactly (a number such as 1.0 " +
        `reads as 1 in it), so this was stored as a new record ${text(saved.record_ids[0])}.`}</div>`}</div>`}
    <h2>Versions</h2>
    <${Versions} detail=${detail} shown=${shown} onPick=${pick} />
    <div class="toolbar"><h2>Records of v${count(shown)}</h2>
      ${records && html`<span class="dim">${count(records.total)} records${latest ? "" : ` · an earlier version${can("write") ? `: pick v${count(records.latest_version)} to edit` : ""}`}</span>`}</div>
    <${ErrorBox} error=${error} />
    ${records && records.records.length === 0 && html`<p class="empty">No records in this version.</p>`}
    ${records && records.records.length > 0 && html`<table class="list records">
      <thead><tr><th>record</th><th>inputs</th><th>expectations</th><th>tags</th><th>source trace</th></tr></thead>
      <tbody>${records.records.map((r) => html`<${RecordRow} key=${r.record_id} dataset=${name} record=${r} sent=${records.sent[r.record_id]} editable=${editable}
        editing=${editing === r.record_id} onEdit=${setEditing} onSaved=${onSaved} />`)}</tbody></table>`}
    ${records && records.notice && html`<p class="notice">${text(records.notice)}</p>`}
    ${records && html`<${Pager} pages=${pages} next=${records.next_page_token} />`}
  </section>`;
}
