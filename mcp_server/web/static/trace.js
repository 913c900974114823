// The trace page: the header, the span tree beside a waterfall (virtualised, so a trace of thousands
// of spans stays responsive), the span panel, feedback and actions. TraceView, all but the feedback,
// the actions and the links, is also what the MCP Apps views show (view-trace.js, view-run.js): it
// reads through useTool().
import { TraceActions } from "./actions.js";
import { Content, JsonTree } from "./content.js";
import { api, can, Chip, count, ErrorBox, html, Link, ms, Status, text, tracePath, usd, useEffect, useMemo, useRef, useState, when } from "./lib.js";
import { useTool } from "./tools.js";

const ROW_PX = 24;
const OVERSCAN = 15;
const SPAN_PAGE = 1000;
const CONTENT_PAGE = 50000;

// A sandboxed view's host may not grant the clipboard: the button then does nothing, and says nothing.
const copy = (value) => navigator.clipboard && navigator.clipboard.writeText(value).catch(() => {});

// The trace's GetTraceInfo (unless `known` is its answer already), all its spans, and its critical path.
function useTrace(traceId, known) {
  const call = useTool();
  const [info, setInfo] = useState(known || null);
  const [spans, setSpans] = useState([]);
  const [spansDone, setSpansDone] = useState(false);
  const [critical, setCritical] = useState(new Set());
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    const trace_id = traceId;
    setInfo(known || null); setSpans([]); setSpansDone(false); setError(null);
    if (!known) call("GetTraceInfo", { trace_id }).then((data) => stopped || setInfo(data), (err) => stopped || setError(err));
    (async () => {
      let token = null;
      let all = [];
      do {
        const page = await call("ListSpans", { trace_id, max_results: SPAN_PAGE, page_token: token });
        if (stopped) return;
        all = all.concat(page.spans);
        setSpans(all);
        token = page.next_page_token;
      } while (token);
      setSpansDone(true);
    })().catch((err) => stopped || setError(err));
    call("GetSpanTimingReport", { trace_id, max_results: 100 })
      .then((report) => stopped || setCritical(new Set(report.critical_path.map((s) => s.span_id))), () => {});
    return () => { stopped = true; };
  }, [traceId]);
  return { info, spans, spansDone, critical, error };
}

// The trace's assessments (ListAssessments), for the feedback chips and the marks on the spans.
export function useAssessments(traceId) {
  const call = useTool();
  const [assessments, setAssessments] = useState(null);
  const [error, setError] = useState(null);
  const reload = () => call("ListAssessments", { trace_id: traceId, max_results: 200 }).then(setAssessments, setError);
  useEffect(() => { reload(); }, [traceId]);
  return { assessments, reload, error };
}

const FINDING_READS = 20;  // assessments whose findings are read in full (GetAssessment), newest first

// What points at each span: assessments logged on it, and the findings (GetAssessment) of those on
// the trace that carry some, e.g. an agent judge's; span_id -> [{title, tone, text}].
function useMarks(assessments) {
  const call = useTool();
  const [marks, setMarks] = useState(new Map());
  useEffect(() => {
    let stopped = false;
    const list = assessments ? assessments.assessments.filter((a) => a.valid) : [];
    const found = new Map();
    const add = (spanId, mark) => found.set(spanId, [...(found.get(spanId) || []), mark]);
    for (const a of list) {
      if (!a.span_id) continue;
      const value = a.value === null || a.value === undefined ? a.value_preview : a.value;
      add(a.span_id, { title: `${text(a.name)}: ${text(value)}`, source: text(a.source_id || a.source_type), text: text(a.rationale || a.error) });
    }
    setMarks(new Map(found));
    const withFindings = list.filter((a) => a.finding_count > 0).slice(0, FINDING_READS);
    Promise.all(withFindings.map((a) => call("GetAssessment", { assessment_id: a.assessment_id }))).then((full) => {
      if (stopped) return;
      for (const a of full) {
        for (const f of a.findings || []) {
          add(f.span_id, { title: `${text(f.category)}${f.impact ? ` (${text(f.impact)})` : ""}`, source: `${text(a.name)} · ${text(a.source_id || a.source_type)}`, text: text(f.evidence) });
        }
      }
      setMarks(new Map(found));
    }, () => {});
    return () => { stopped = true; };
  }, [assessments]);
  return marks;
}

function Marks({ marks }) {
  if (!marks || marks.length === 0) return null;
  return html`<div class="marks" aria-label="findings">${marks.map((m, i) => html`<div key=${i} class="mark">
    <b>${m.title}</b> <span class="dim">${m.source}</span>${m.text && html`<div>${m.text}</div>`}</div>`)}</div>`;
}

// The trace's facts; `children` (the page's feedback and actions) go at its foot; `linked` as SpanPanel takes it.
function Header({ info, linked, children }) {
  const facts = [
    ["status", html`<${Status} status=${info.status} />`],
    ["started", when(info.start_time)],
    ["duration", ms(info.duration_ms)],
    ["spans", `${count(info.span_count)}${info.error_count ? `, ${count(info.error_count)} with errors` : ""}`],
    ["tokens", `${count(info.total_tokens)} (${count(info.input_tokens)} in, ${count(info.output_tokens)} out)`],
    ["cost", usd(info.cost)],
    ["session", info.session_id && linked ? html`<${Link} href=${`/sessions/${encodeURIComponent(info.session_id)}`}>${text(info.session_id)}<//>`
      : text(info.session_id) || "–"],
    ["user", text(info.user_id) || "–"],
    ["service", text(info.service_name) || "–"],
  ];
  const map = (values) => Object.entries(values || {}).map(([k, v]) => html`<span class="tag" key=${k}>${text(k)}=${text(v)}</span>`);
  return html`<header class="trace-header">
    <h1>${text(info.name) || "(no root span yet)"}</h1>
    <div class="ids">trace <code>${text(info.trace_id)}</code>
      <button class="quiet" onClick=${() => copy(info.trace_id)}>copy id</button></div>
    <dl class="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
    ${Object.keys(info.tags || {}).length > 0 && html`<div class="tags">tags ${map(info.tags)}</div>`}
    ${Object.keys(info.metadata || {}).length > 0 && html`<div class="tags">metadata ${map(info.metadata)}</div>`}
    <div class="request"><b>request</b> ${text(info.request_preview) || "–"}</div>
    <div class="request"><b>response</b> ${text(info.response_preview) || "–"}</div>
    ${children}
  </header>`;
}

function Feedback({ traceId, assessments, onLogged }) {
  const feedback = (assessments ? assessments.assessments : []).filter((a) => a.kind === "feedback");
  // LogFeedback's route needs a write token (WRITE_ROUTES in mcp_server/web/api): a read session sees the chips only.
  return html`<div class="feedback-row">${feedback.map((a) => html`<${Chip} key=${a.assessment_id} assessment=${a} />`)}</div>
    ${can("write") && html`<${FeedbackForm} traceId=${traceId} onLogged=${onLogged} />`}`;
}

function FeedbackForm({ traceId, onLogged }) {
  const [comment, setComment] = useState("");
  const [who, setWho] = useState(() => localStorage.getItem("tracejudge.name") || "");
  const [state, setState] = useState(null);
  const send = async (value) => {
    localStorage.setItem("tracejudge.name", who);
    try {
      await api(`/api/traces/${encodeURIComponent(traceId)}/feedback`, {}, { body: { value, rationale: comment || null, source_id: who || null } });
      setState({ ok: value ? "Thanks: thumbs up recorded." : "Thanks: thumbs down recorded." });
      setComment("");
      onLogged();
    } catch (err) {
      setState({ error: err });
    }
  };
  return html`<div class="feedback-form">
    <button class="thumb up" onClick=${() => send(true)}>▲ Thumbs up</button>
    <button class="thumb down" onClick=${() => send(false)}>▼ Thumbs down</button>
    <input name="comment" placeholder="comment (optional)" value=${comment} onInput=${(e) => setComment(e.target.value)} />
    <input name="who" class="who" placeholder="your name" value=${who} onInput=${(e) => setWho(e.target.value)} />
    ${state && state.ok && html`<span class="ok">${state.ok}</span>`}
    <${ErrorBox} error=${state && state.error} />
  </div>`;
}

// The spans to show, depth first as ListSpans gives them, without the descendants of collapsed ones.
function visibleSpans(spans, collapsed) {
  const out = [];
  let hideBelow = null;
  for (const span of spans) {
    if (hideBelow !== null && span.depth > hideBelow) continue;
    hideBelow = collapsed.has(span.span_id) ? span.depth : null;
    out.push(span);
  }
  return out;
}

function SpanTree({ spans, done, total, durationMs, critical, marks, selected, onSelect }) {
  const [collapsed, setCollapsed] = useState(new Set());
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const box = useRef(null);
  useEffect(() => {
    const measure = () => box.current && setHeight(box.current.clientHeight);
    measure();
    window.addEventListener("resize", measure);
    return () => window.removeEventListener("resize", measure);
  }, []);
  const rows = useMemo(() => visibleSpans(spans, collapsed), [spans, collapsed]);
  // A span selected from outside (the URL's ?span=, an issue's evidence) is scrolled into view once
  // its row is loaded; a click selects a row already in view, so it never scrolls.
  const revealed = useRef(null);
  useEffect(() => {
    const tree = box.current;
    if (!selected || revealed.current === selected || !tree) return;
    const index = rows.findIndex((s) => s.span_id === selected);
    if (index < 0) return;
    revealed.current = selected;
    const y = index * ROW_PX;
    if (y < tree.scrollTop || y + ROW_PX > tree.scrollTop + tree.clientHeight) tree.scrollTop = Math.max(0, y - tree.clientHeight / 2);
  }, [selected, rows]);
  const span = durationMs || (spans[0] && spans[0].duration_ms) || 1;  // the timeline's full width
  const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
  const toggle = (id) => {
    const next = new Set(collapsed);
    next.has(id) ? next.delete(id) : next.add(id);
    setCollapsed(next);
  };
  return html`<div class="tree-pane">
    <div class="tree-head"><span>span</span><span>timeline (${ms(durationMs)})</span></div>
    <div class="tree" ref=${box} onScroll=${(e) => setTop(e.target.scrollTop)} role="tree" aria-label="spans">
      <div class="tree-space" style=${{ height: `${rows.length * ROW_PX}px` }}>
        ${rows.slice(first, last).map((s, i) => {
          const left = ((s.start_offset_ms || 0) / span) * 100;
          const width = Math.max(((s.duration_ms || 0) / span) * 100, 0.4);
          const classes = ["row", s.span_id === selected ? "selected" : "", s.status === "ERROR" ? "failed" : "", critical.has(s.span_id) ? "critical" : ""].join(" ");
          return html`<div key=${s.span_id} class=${classes} role="treeitem" data-span-id=${s.span_id}
              style=${{ top: `${(first + i) * ROW_PX}px` }} onClick=${() => onSelect(s.span_id)}>
            <div class="name" style=${{ paddingLeft: `${s.depth * 14 + 4}px` }}>
              ${s.child_count > 0
                ? html`<button class="twisty" aria-label=${collapsed.has(s.span_id) ? "expand" : "collapse"}
                    onClick=${(e) => { e.stopPropagation(); toggle(s.span_id); }}>${collapsed.has(s.span_id) ? "▸" : "▾"}</button>`
                : html`<span class="twisty"></span>`}
              <span class=${`type type-${text(s.span_type).toLowerCase().replace(/[^a-z_]/g, "")}`}>${text(s.span_type)}</span>
              <span class="span-name">${text(s.name)}</span>
              ${marks.has(s.span_id) && html`<span class="finding" title="findings on this span">⚑ ${marks.get(s.span_id).length}</span>`}
            </div>
            <div class="lane"><div class="bar" style=${{ left: `${left}%`, width: `${width}%` }}
              title=${`+${ms(s.start_offset_ms)} for ${ms(s.duration_ms)}${critical.has(s.span_id) ? " (critical path)" : ""}`}></div></div>
          </div>`;
        })}
      </div>
    </div>
    <div class="tree-foot">${count(spans.length)} of ${count(total)} spans${done ? "" : " (loading…)"} · <span class="legend-critical">critical path</span> · <span class="legend-error">error</span> · <span class="finding">⚑ findings</span></div>
  </div>`;
}

// `linked`: with a link to the span's own URL (a page has one; an MCP App's view has none).
function SpanPanel({ traceId, spanId, linked, marks }) {
  const call = useTool();
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(null);
  const load = (token) => call("GetSpan", { trace_id: traceId, span_id: spanId, max_content_length: CONTENT_PAGE, page_token: token });
  useEffect(() => {
    let stopped = false;
    setPages([]); setError(null);
    load(null).then((page) => stopped || setPages([page]), (err) => stopped || setError(err));
    return () => { stopped = true; };
  }, [traceId, spanId]);
  if (error) return html`<div class="span-panel"><${ErrorBox} error=${error} /></div>`;
  if (pages.length === 0) return html`<div class="span-panel"><p class="dim">Loading span…</p></div>`;
  const span = pages[0];
  const last = pages[pages.length - 1];
  const more = () => load(last.next_page_token).then((page) => setPages([...pages, page]), setError);
  const facts = [["type", text(span.span_type)], ["status", text(span.status)], ["duration", ms(span.duration_ms)],
    ["model", text(span.model) || "–"], ["tokens", count(span.total_tokens)], ["tool", text(span.tool_name) || "–"]];
  const events = span.events || [];
  return html`<div class="span-panel" aria-label="span">
    <h2>${text(span.name)}</h2>
    <div class="ids">span <code>${text(span.span_id)}</code>
      <button class="quiet" onClick=${() => copy(span.span_id)}>copy id</button>
      ${linked && html`<${Link} href=${tracePath(traceId, span.span_id)}>link</${Link}>`}</div>
    <dl class="facts">${facts.map(([k, v]) => html`<div key=${k}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
    ${span.status_message && html`<div class="error">${text(span.status_message)}</div>`}
    <${Marks} marks=${marks} />
    <h3>inputs</h3><${Content} value=${span.inputs} />
    <h3>outputs</h3><${Content} value=${span.outputs} />
    ${events.length > 0 && html`<h3>events</h3>${events.map((event, i) => html`<div key=${i}
      class=${text(event.name) === "exception" ? "event exception" : "event"}><b>${text(event.name)}</b> <${JsonTree} value=${event.attributes || {}} /></div>`)}`}
    <h3>attributes</h3><${JsonTree} value=${span.attributes || {}} />
    ${pages.slice(1).map((page, i) => html`<div key=${i} class="more-content">
      <h3>more content (page ${i + 2})</h3>
      ${["inputs", "outputs", "attributes", "events"].filter((f) => page[f] !== null && page[f] !== undefined)
        .map((f) => html`<div key=${f}><b>${f}</b><${Content} value=${page[f]} /></div>`)}
      ${(page.slices || []).map((slice, j) => html`<div key=${`s${j}`}><b>${text(slice.field)} [${slice.start}–${slice.end}]</b><pre>${text(slice.text)}</pre></div>`)}
    </div>`)}
    ${last.notice && html`<p class="notice">${text(last.notice)}</p>`}
    ${last.next_page_token && html`<button onClick=${more}>Load more of this span</button>`}
  </div>`;
}

// The trace: its header (with `children` at its foot), span tree and waterfall, and the panel of the
// span `selected` (else the root's); `known`, `linked`: as useTrace and SpanPanel take them.
export function TraceView({ traceId, known, assessments, selected, onSelect, linked, children }) {
  const { info, spans, spansDone, critical, error } = useTrace(traceId, known);
  const marks = useMarks(assessments);
  const current = selected || (info && info.root_span_id) || (spans[0] && spans[0].span_id);
  if (error && !info) return html`<${ErrorBox} error=${error} />`;
  if (!info) return html`<p class="loading">Loading trace…</p>`;
  return html`<${Header} info=${info} linked=${linked}>${children}</${Header}>
    <${ErrorBox} error=${error} />
    <div class="trace-body">
      <${SpanTree} spans=${spans} done=${spansDone} total=${info.span_count} durationMs=${info.duration_ms}
        critical=${critical} marks=${marks} selected=${current} onSelect=${onSelect} />
      ${current ? html`<${SpanPanel} traceId=${traceId} spanId=${current} linked=${linked} marks=${marks.get(current)} />` : html`<div class="span-panel dim">No spans yet.</div>`}
    </div>`;
}

export function TracePage({ traceId }) {
  const { assessments, reload, error } = useAssessments(traceId);
  const [selected, setSelected] = useState(new URLSearchParams(location.search).get("span"));
  const select = (spanId) => {
    setSelected(spanId);
    history.replaceState(null, "", tracePath(traceId, spanId));
  };
  return html`<section class="trace">
    <${Link} href="/">← traces<//>
    <${TraceView} traceId=${traceId} assessments=${assessments} selected=${selected} onSelect=${select} linked=${true}>
      <${Feedback} traceId=${traceId} assessments=${assessments} onLogged=${reload} />
      <${TraceActions} traceId=${traceId} onJudged=${reload} />
      <${ErrorBox} error=${error} />
    </${TraceView}>
  </section>`;
}
