// CSS injected into each widget root. JupyterLab theme variables with light-theme fallbacks;
// tinted backgrounds are translucent so chips, bars and ANSI colors read on light and dark.

const tint = (color: string, fallback: string, pct = 16) =>
  `background: ${fallback}; background: color-mix(in srgb, ${color} ${pct}%, transparent);`;

const OK = "var(--jp-success-color1, #388e3c)";
const RUN = "var(--jp-brand-color1, #1976d2)";
const WARN = "var(--jp-warn-color1, #f57c00)";
const ERR = "var(--jp-error-color1, #d32f2f)";
const DIM = "var(--jp-ui-font-color2, #616161)";

export const BASE_CSS = `
.raynb-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222);
  line-height: 1.4; }
.raynb-root * { box-sizing: border-box; }
.raynb-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 4px 0; }
.raynb-spacer { flex: 1; }
.raynb-dim { color: ${DIM}; }
.raynb-mono { font-family: var(--jp-code-font-family, monospace); }
.raynb-btn { font: inherit; font-size: var(--jp-ui-font-size1, 13px); padding: 1px 8px;
  color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, transparent);
  border: 1px solid var(--jp-border-color2, #bdbdbd); border-radius: 3px; cursor: pointer; }
.raynb-btn:hover { background: var(--jp-layout-color2, rgba(128,128,128,.15)); }
.raynb-btn:disabled { opacity: .5; cursor: default; }
.raynb-btn-danger { color: ${ERR}; }
.raynb-link { font: inherit; padding: 0; border: 0; background: none; cursor: pointer;
  color: ${RUN}; text-decoration: underline; font-family: var(--jp-code-font-family, monospace); }
.raynb-input { font: inherit; padding: 2px 6px; min-width: 12em; color: var(--jp-ui-font-color1, #222);
  background: var(--jp-layout-color0, transparent); border: 1px solid var(--jp-border-color2, #bdbdbd);
  border-radius: 3px; }
.raynb-chip { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px;
  font-weight: 600; line-height: 17px; white-space: nowrap; }
.raynb-chip-ok { color: ${OK}; ${tint(OK, "rgba(56,142,60,.16)")} }
.raynb-chip-run { color: ${RUN}; ${tint(RUN, "rgba(25,118,210,.16)")} }
.raynb-chip-warn { color: ${WARN}; ${tint(WARN, "rgba(245,124,0,.16)")} }
.raynb-chip-err { color: ${ERR}; ${tint(ERR, "rgba(211,47,47,.16)")} }
.raynb-chip-idle { color: ${DIM}; background: rgba(128,128,128,.18); }
.raynb-error { color: ${ERR}; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.raynb-notice { color: ${DIM}; margin: 4px 0; overflow-wrap: anywhere; }
.raynb-table { border-collapse: collapse; width: 100%; }
.raynb-table th, .raynb-table td { text-align: left; padding: 3px 8px; vertical-align: middle;
  border-bottom: 1px solid var(--jp-border-color2, #e0e0e0); }
.raynb-table th { font-weight: 600; color: ${DIM}; white-space: nowrap; user-select: none; }
.raynb-table th.raynb-sortable { cursor: pointer; }
.raynb-table tbody tr:hover { background: var(--jp-layout-color2, rgba(128,128,128,.08)); }
.raynb-table tbody tr.raynb-selected { ${tint(RUN, "rgba(25,118,210,.1)", 10)} }
.raynb-scroll-x { overflow-x: auto; }
.raynb-nowrap { white-space: nowrap; }
.raynb-trunc { max-width: 22em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.raynb-actions { white-space: nowrap; }
.raynb-actions .raynb-btn { margin-right: 4px; }
.raynb-bar { display: flex; align-items: center; gap: 6px; min-width: 9em; }
.raynb-bar-track { flex: 1; min-width: 4em; height: 7px; border-radius: 4px; overflow: hidden;
  background: rgba(128,128,128,.22); }
.raynb-bar-fill { height: 100%; }
.raynb-bar-ok { background: ${RUN}; }
.raynb-bar-warn { background: ${WARN}; }
.raynb-bar-err { background: ${ERR}; }
.raynb-bar-label { white-space: nowrap; font-variant-numeric: tabular-nums; }
.raynb-h { font-weight: 600; margin: 8px 0 2px; }
`;

// 16 ANSI colors, mid-tone so they read on light and dark backgrounds; black and white
// (invisible on one of the two) become greys.
const ANSI: [string, string, string][] = [
  ["black", "#6e6e6e", "#8a8a8a"],
  ["red", "#d9453d", "#f0625a"],
  ["green", "#2e9e44", "#45b85b"],
  ["yellow", "#b58900", "#d4a514"],
  ["blue", "#3a78d6", "#5b94ee"],
  ["magenta", "#b34fb3", "#cf6bcf"],
  ["cyan", "#17999a", "#2fb6b6"],
  ["white", "#9a9a9a", "#b8b8b8"],
];

const ansiCss = ANSI.map(
  ([name, normal, bright]) =>
    `.raynb-log .ansi-${name}-fg { color: ${normal}; }
.raynb-log .ansi-bright-${name}-fg { color: ${bright}; }
.raynb-log .ansi-${name}-bg { background: ${normal}55; }
.raynb-log .ansi-bright-${name}-bg { background: ${bright}55; }`,
).join("\n");

export const LOG_CSS = `
.raynb-logpanel { margin: 4px 0; }
.raynb-logwrap { position: relative; }
.raynb-log { position: relative; height: var(--raynb-log-height, 360px); min-height: 80px;
  overflow: auto; resize: vertical; background: var(--jp-layout-color0, transparent);
  border: 1px solid var(--jp-border-color2, #e0e0e0); border-radius: 3px;
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);
  color: var(--jp-content-font-color1, var(--jp-ui-font-color1, #222)); }
.raynb-log-spacer { position: relative; min-width: 100%; }
.raynb-log-line { position: absolute; left: 0; min-width: 100%; padding: 0 8px; white-space: pre;
  line-height: 1.45; }
.raynb-log-line a { color: ${RUN}; }
.raynb-log-empty { padding: 6px 8px; color: ${DIM}; font-family: var(--jp-ui-font-family, sans-serif); }
.raynb-dropped { padding: 1px 8px; color: ${WARN}; ${tint(WARN, "rgba(245,124,0,.12)", 12)}
  border-radius: 3px; margin-bottom: 2px; font-size: 12px; }
.raynb-earlier { width: 100%; margin-bottom: 2px; padding: 2px 8px; font: inherit;
  font-size: 12px; text-align: center; color: ${DIM}; cursor: pointer;
  background: var(--jp-layout-color1, transparent); border: 1px dashed var(--jp-border-color2, #bdbdbd);
  border-radius: 3px; }
.raynb-earlier:hover:not(:disabled) { color: ${RUN}; }
.raynb-earlier:disabled { cursor: default; }
.raynb-resume { position: absolute; bottom: 12px; left: 50%; transform: translateX(-50%);
  box-shadow: 0 1px 4px rgba(0,0,0,.3); background: var(--jp-layout-color1, Canvas); }
.raynb-final { margin: 4px 0; font-weight: 600; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.raynb-final-ok { color: ${OK}; }
.raynb-final-err { color: ${ERR}; }
.raynb-count { color: ${DIM}; font-variant-numeric: tabular-nums; }
${ansiCss}
`;
