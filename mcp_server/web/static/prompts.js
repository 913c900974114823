// The prompt registry pages: the prompts (ListPrompts) and one prompt (/prompts/<name>): its versions
// (ListPromptVersions), a version's template (GetPrompt), two versions' diff (DiffPromptVersions) and
// its aliases, moved to another version (SetPromptAlias) only after a confirm step, since agents that
// load 'prompts:/name@alias' get the other text from their next load.
import { Messages } from "./content.js";
import { api, can, count, ErrorBox, html, Link, navigate, Pager, text, useEffect, usePages, useState, whenNs } from "./lib.js";
import { runPath } from "./runs.js";

const LIST_PAGE = 50;
const VERSION_PAGE = 20;

export const promptPath = (name) => `/prompts/${encodeURIComponent(name)}`;
const promptApi = (name) => `/api/prompts/${encodeURIComponent(name)}`;

function Aliases({ aliases }) {
  const entries = Object.entries(aliases || {});
  if (entries.length === 0) return html`<span class="dim">–</span>`;
  return entries.map(([alias, version]) => html`<span class="tag alias" key=${alias}>${text(alias)} → v${count(version)}</span>`);
}

export function PromptsPage() {
  const pages = usePages();
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/api/prompts", { max_results: LIST_PAGE, page_token: pages.token }).then((answer) => { setFound(answer); setError(null); }, setError);
  }, [pages.token]);
  return html`<section class="prompts">
    <h1>Prompts</h1>
    <p class="dim">The prompt registry: versioned templates with {{ variables }}. Agents load a version or an alias,
      e.g. <code>load_prompt("prompts:/router@production")</code>.</p>
    <${ErrorBox} error=${error} />
    ${found && found.prompts.length === 0 && html`<p class="empty">No prompts yet: register one with RegisterPrompt.</p>`}
    ${found && found.prompts.length > 0 && html`<table class="list">
      <thead><tr><th>prompt</th><th>description</th><th class="num">latest</th><th>aliases</th><th>created (UTC)</th></tr></thead>
      <tbody>${found.prompts.map((p) => html`<tr key=${p.name} onClick=${(e) => e.target.closest("a") || navigate(promptPath(p.name))}>
        <td><${Link} href=${promptPath(p.name)}>${text(p.name)}<//></td><td>${text(p.description)}</td>
        <td class="num">v${count(p.latest_version)}</td><td><${Aliases} aliases=${p.aliases} /></td><td class="nowrap">${whenNs(p.created_ns)}</td>
      </tr>`)}</tbody></table>
      <${Pager} pages=${pages} next=${found.next_page_token} />`}
  </section>`;
}

function Template({ version }) {
  if (version.kind === "chat") return html`<${Messages} messages=${version.template} />`;
  return html`<pre class="template">${text(version.template)}</pre>`;
}

function VersionPanel({ detail }) {
  const v = detail.prompt_version;
  return html`<div class="version-panel" data-version=${v.version}>
    <h2>Version ${count(v.version)} <code class="dim">${text(v.uri)}</code></h2>
    <dl class="facts">
      <div><dt>kind</dt><dd>${text(v.kind)}</dd></div>
      <div><dt>variables</dt><dd>${v.variables.length ? v.variables.map(text).join(", ") : "none"}</dd></div>
      <div><dt>aliases</dt><dd>${v.aliases.length ? v.aliases.map(text).join(", ") : "none"}</dd></div>
      <div><dt>registered</dt><dd>${whenNs(v.created_ns)}</dd></div>
      ${v.parent_version !== null && html`<div><dt>derived from</dt><dd>v${count(v.parent_version)}</dd></div>`}
    </dl>
    ${v.commit_message && html`<p class="commit">${text(v.commit_message)}</p>`}
    <${Template} version=${v} />
    ${detail.run_count > 0 && html`<p>Used by ${count(detail.run_count)} evaluation runs: ${detail.runs.map((run) => html`<${Link} key=${run.run_id}
      href=${runPath(run.run_id)} class="run-link">${text(run.name) || text(run.run_id)}<//> `)}</p>`}
  </div>`;
}

function VersionSelect({ latest, value, onChange, label }) {
  const numbers = Array.from({ length: latest }, (_, i) => latest - i);
  return html`<select aria-label=${label} value=${value} onChange=${(e) => onChange(Number(e.target.value))}>
    ${numbers.map((n) => html`<option key=${n} value=${n}>v${n}</option>`)}</select>`;
}

// How one line of a unified diff is shown: added, removed, a hunk header, a file header or context.
// The first two lines name the two versions; after them a line of a template's "---" is a removal.
function lineKind(line, index) {
  if (index < 2 && (line.startsWith("+++") || line.startsWith("---"))) return "file";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "added";
  if (line.startsWith("-")) return "removed";
  if (line.startsWith("\\")) return "note";
  return "context";
}

function Diff({ name, latest, initial }) {
  const [range, setRange] = useState(initial);
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => setRange(initial), [initial.from, initial.to]);
  useEffect(() => {
    api(`${promptApi(name)}/diff`, { from_version: range.from, to_version: range.to }).then((answer) => { setDiff(answer); setError(null); }, setError);
  }, [name, range.from, range.to]);
  const lines = diff && diff.diff ? diff.diff.replace(/\n$/, "").split("\n") : [];
  return html`<div class="diff-panel">
    <div class="toolbar"><h2>Diff</h2>
      <${VersionSelect} latest=${latest} value=${range.from} label="from version" onChange=${(from) => setRange({ ...range, from })} />
      <span>→</span>
      <${VersionSelect} latest=${latest} value=${range.to} label="to version" onChange=${(to) => setRange({ ...range, to })} /></div>
    <${ErrorBox} error=${error} />
    ${diff && html`<div class="diff-answer">
      ${diff.from_kind !== diff.to_kind && html`<p>The template changed from ${text(diff.from_kind)} to ${text(diff.to_kind)}.</p>`}
      ${(diff.variables_added.length > 0 || diff.variables_removed.length > 0) && html`<p class="variables">variables
        ${diff.variables_added.map((v) => html`<span class="tag added" key=${`+${v}`}>+ ${text(v)}</span>`)}
        ${diff.variables_removed.map((v) => html`<span class="tag removed" key=${`-${v}`}>− ${text(v)}</span>`)}</p>`}
      <div class="commits"><div><b>v${count(diff.from_version)}</b> ${text(diff.from_commit_message) || html`<span class="dim">no commit message</span>`}</div>
        <div><b>v${count(diff.to_version)}</b> ${text(diff.to_commit_message) || html`<span class="dim">no commit message</span>`}</div></div>
      ${diff.identical ? html`<p class="empty">The two versions' templates are the same text.</p>`
        : html`<pre class="diff">${lines.map((line, i) => html`<div key=${i} class=${`diff-line ${lineKind(line, i)}`}>${line || " "}</div>`)}</pre>`}
      ${diff.notices.map((n, i) => html`<p class="notice" key=${i}>${text(n)}</p>`)}
    </div>`}
  </div>`;
}

// The prompt's aliases, each with a version to move it to, and a new one; nothing moves until the
// change is confirmed.
function AliasPanel({ name, aliases, latest, onMoved }) {
  const [targets, setTargets] = useState({});
  const [fresh, setFresh] = useState("");
  const [asked, setAsked] = useState(null);  // {alias, version, from}: waiting for the confirm
  const [moved, setMoved] = useState(null);
  const [error, setError] = useState(null);
  const target = (alias) => targets[alias] ?? latest;
  const retarget = (alias, version) => { setTargets({ ...targets, [alias]: version }); setAsked(null); };
  const confirm = async () => {
    setError(null);
    try {
      const answer = await api(`${promptApi(name)}/aliases`, {}, { body: { alias: asked.alias, version: asked.version } });
      setMoved(answer);
      setAsked(null);
      onMoved(answer);
    } catch (err) {
      setError(err);
    }
  };
  const ask = (alias, version) => { setMoved(null); setError(null); setAsked({ alias, version, from: aliases[alias] ?? null }); };
  return html`<div class="alias-panel">
    <h2>Aliases</h2>
    <table class="list aliases"><tbody>
      ${Object.entries(aliases).map(([alias, version]) => html`<tr key=${alias} class="static" data-alias=${alias}>
        <td><b>${text(alias)}</b></td><td>→ v${count(version)}</td>
        <td>move to <${VersionSelect} latest=${latest} value=${target(alias)} label=${`move ${alias} to version`}
          onChange=${(v) => retarget(alias, v)} />
          <button onClick=${() => ask(alias, target(alias))} disabled=${target(alias) === version}>Move…</button></td>
      </tr>`)}
      <tr class="static"><td><input name="alias" aria-label="new alias" placeholder="new alias" value=${fresh} onInput=${(e) => { setFresh(e.target.value.trim()); setAsked(null); }} /></td>
        <td></td><td>at <${VersionSelect} latest=${latest} value=${target("")} label="new alias version" onChange=${(v) => retarget("", v)} />
          <button onClick=${() => ask(fresh, target(""))} disabled=${!fresh}>Add…</button></td></tr>
    </tbody></table>
    ${asked && html`<div class="confirm" role="alertdialog" aria-label="confirm alias move">
      <p>${asked.from === null ? `Point the new alias ${asked.alias} at version ${asked.version}?`
        : `Move ${asked.alias} from version ${asked.from} to version ${asked.version}?`} Agents that load <code>prompts:/${text(name)}@${text(asked.alias)}</code> get version ${count(asked.version)}'s text from their next load.</p>
      <div class="actions"><button class="primary" onClick=${confirm}>${asked.from === null ? "Add" : "Move"} ${text(asked.alias)}</button>
        <button onClick=${() => setAsked(null)}>Cancel</button></div></div>`}
    ${moved && html`<div class="saved" role="status">${text(moved.alias)} now points at version ${count(moved.version)}${
      moved.previous_version === null ? " (a new alias)" : ` (was ${count(moved.previous_version)})`}: <code>${text(moved.uri)}</code></div>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

export function PromptPage({ name }) {
  const pages = usePages();
  const [picked, setPicked] = useState(null);  // null: the latest
  const [detail, setDetail] = useState(null);
  const [versions, setVersions] = useState(null);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);
  useEffect(() => { api(promptApi(name), { version: picked }).then((answer) => { setDetail(answer); setError(null); }, setError); }, [name, picked, reload]);
  useEffect(() => {
    api(`${promptApi(name)}/versions`, { max_results: VERSION_PAGE, page_token: pages.token }).then(setVersions, setError);
  }, [name, pages.token, reload]);
  if (error && !detail) return html`<section><${Link} href="/prompts">← prompts<//><${ErrorBox} error=${error} /></section>`;
  if (!detail) return html`<p class="loading">Loading prompt…</p>`;
  const shown = detail.prompt_version.version;
  const latest = detail.latest_version;
  const initial = { from: Math.max(1, shown - 1), to: shown };
  const mayMove = can("write");  // SetPromptAlias's route (WRITE_ROUTES in mcp_server/web/api); without it the header lists the aliases
  return html`<section class="prompt">
    <${Link} href="/prompts">← prompts<//>
    <header><h1>${text(name)}</h1>
      ${detail.description && html`<p>${text(detail.description)}</p>`}
      <dl class="facts"><div><dt>latest version</dt><dd>v${count(latest)}</dd></div><div><dt>aliases</dt><dd><${Aliases} aliases=${detail.aliases} /></dd></div></dl></header>
    <${ErrorBox} error=${error} />
    <div class="prompt-body">
      <div>
        <h2>Versions</h2>
        ${versions && html`<table class="list versions">
          <thead><tr><th class="num">version</th><th>commit message</th><th>aliases</th><th class="num">runs</th><th>registered (UTC)</th></tr></thead>
          <tbody>${versions.versions.map((v) => html`<tr key=${v.version} data-version=${v.version} class=${v.version === shown ? "selected" : ""}
              aria-selected=${v.version === shown} onClick=${() => setPicked(v.version === latest ? null : v.version)}>
            <td class="num">v${count(v.version)}</td><td>${text(v.commit_message) || html`<span class="dim">–</span>`}</td>
            <td>${v.aliases.map((a) => html`<span class="tag alias" key=${a}>${text(a)}</span>`)}</td>
            <td class="num">${count(v.run_count)}</td><td class="nowrap">${whenNs(v.created_ns)}</td>
          </tr>`)}</tbody></table>
          <${Pager} pages=${pages} next=${versions.next_page_token} back="Newer" forward="Older" />`}
        ${mayMove && html`<${AliasPanel} key=${`${name} ${latest}`} name=${name} aliases=${detail.aliases} latest=${latest}
          onMoved=${() => setReload((n) => n + 1)} />`}
      </div>
      <${VersionPanel} detail=${detail} />
    </div>
    ${latest > 1 ? html`<${Diff} name=${name} latest=${latest} initial=${shown > 1 ? initial : { from: 1, to: 2 }} />`
      : html`<p class="dim">One version so far: register another (RegisterPrompt) to see a diff.</p>`}
  </section>`;
}
