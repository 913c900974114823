// The MCP App of ListLabelingItems (ui://tracejudge/labeling-form): the share page's labeling form in the
// host's iframe, for the session ListLabelingItems answered for. That answer names the questions only in
// brief, so the view reads them in full with ListLabelingSchemas; then, through the host's tool calls, it
// shows each pending trace (ListSpans, GetSpan) and labels it with one SubmitLabel per question, or skips
// it (SkipLabelingItem), as the name the person gives.
import { ErrorBox, html, useEffect, useState } from "./lib.js";
import { LabelingForm } from "./label.js";
import { useTool } from "./tools.js";
import { mountView } from "./view.js";

// The session's schemas in full, in its order: the pages of ListLabelingSchemas until each is found.
async function sessionSchemas(call, briefs) {
  const found = new Map();
  let token = null;
  do {
    const page = await call("ListLabelingSchemas", { max_results: 100, ...(token ? { page_token: token } : {}) });
    for (const schema of page.schemas) found.set(schema.name, schema);
    token = page.next_page_token;
  } while (token && briefs.some((brief) => !found.has(brief.name)));
  const missing = briefs.filter((brief) => !found.has(brief.name)).map((brief) => brief.name);
  if (missing.length > 0) throw new Error(`ListLabelingSchemas does not list ${missing.join(", ")}, which this session asks.`);
  return briefs.map((brief) => found.get(brief.name));
}

function Labeling({ answer, args }) {
  const call = useTool();
  const [schemas, setSchemas] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { sessionSchemas(call, answer.schemas).then(setSchemas, setError); }, []);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!schemas) return html`<p class="loading">Loading the questions…</p>`;
  // The host's answer already holds the first pending trace when it lists pending items from the start.
  const first = args.status === "pending" && !args.page_token ? answer : null;
  return html`<${LabelingForm} session=${answer.session_id} schemas=${schemas} first=${first} />`;
}

mountView("ListLabelingItems", "tracejudge labeling form", (answer, args) => html`<${Labeling} key=${answer.session_id} answer=${answer} args=${args} />`);
