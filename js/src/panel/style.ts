// Styles of the side panel and the job-log tab: the widgets' shared CSS plus layout for
// JupyterLab's sidebar and main area. Added once to the document.

import { h } from "../lib/dom";
import { BASE_CSS, LOG_CSS } from "../lib/styles";

const PANEL_CSS = `
.raynb-sidebar { padding: 6px 10px; overflow-y: auto; background: var(--jp-layout-color1, #fff); }
.raynb-sidebar .raynb-h { display: flex; align-items: center; gap: 6px; margin: 12px 0 4px;
  text-transform: uppercase; font-size: 11px; letter-spacing: .04em; color: var(--jp-ui-font-color2, #616161); }
.raynb-kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 8px; align-items: center; }
.raynb-kv > :nth-child(odd) { color: var(--jp-ui-font-color2, #616161); }
.raynb-kv > * { min-width: 0; overflow-wrap: anywhere; }
.raynb-sidebar { min-width: 280px; }
.raynb-sidebar .raynb-bar { min-width: 0; }
.raynb-node { margin-top: 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.raynb-jobs { list-style: none; margin: 0; padding: 0; }
.raynb-job { padding: 4px 2px; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0); cursor: pointer; }
.raynb-job:hover, .raynb-job:focus { background: var(--jp-layout-color2, rgba(128,128,128,.08)); outline: none; }
.raynb-job-head, .raynb-job-sub { display: flex; align-items: center; gap: 6px; min-width: 0; }
.raynb-job-id, .raynb-job-cmd { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.raynb-job-sub { font-size: 12px; margin-top: 1px; }
.raynb-stale { opacity: .55; }
.raynb-down { padding: 6px 8px; border-radius: 3px; margin: 6px 0;
  color: var(--jp-warn-color1, #f57c00); background: rgba(245,124,0,.12); overflow-wrap: anywhere; }
.raynb-logtab { display: flex; flex-direction: column; height: 100%; padding: 4px 8px; }
.raynb-logtab .raynb-logpanel { flex: 1; display: flex; flex-direction: column; min-height: 0; }
.raynb-logtab .raynb-logwrap { flex: 1; min-height: 0; }
.raynb-logtab .raynb-log { height: 100%; resize: none; }
`;

let added = false;

/** Adds the panel's styles to the page (once). */
export function addStyles(): void {
  if (added) return;
  added = true;
  document.head.append(h("style", { id: "raynb-panel-style", text: BASE_CSS + LOG_CSS + PANEL_CSS }));
}

export const RAY_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="12" cy="12" r="3.2"/><circle cx="4" cy="5" r="2.2"/>
<circle cx="20" cy="5" r="2.2"/><circle cx="4" cy="19" r="2.2"/><circle cx="20" cy="19" r="2.2"/>
<path d="M5.2 6.2l4.6 3.9-1 1.2-4.6-3.9zm13.6 0l1 1.2-4.6 3.9-1-1.2zM8.8 12.7l1 1.2-4.6 3.9-1-1.2zm6.4 0l4.6 3.9-1 1.2-4.6-3.9z"/></g>
</svg>`;
