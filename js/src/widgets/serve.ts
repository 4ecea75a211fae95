// ServePanel widget: Serve applications and their deployments (PROTOCOL.md "ServePanel").

import { chip, h } from "../lib/dom";
import { formatLocalTime, formatRelative } from "../lib/format";
import { listen, type RenderProps } from "../lib/model";
import { RequestClient } from "../lib/requests";
import { BASE_CSS } from "../lib/styles";
import { setupRoot, shell, trackVisible } from "../lib/widget";

const CSS =
  BASE_CSS +
  `
.raynb-deps { display: flex; flex-direction: column; gap: 2px; }
.raynb-dep { display: flex; gap: 6px; align-items: center; white-space: nowrap; }
.raynb-serve .raynb-msg { max-width: 30em; white-space: pre-wrap; overflow-wrap: anywhere; }
`;

function str(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

function render({ model, el }: RenderProps): () => void {
  setupRoot(el, CSS);
  const client = new RequestClient(model);
  const ui = shell(model, client);
  const tbody = h("tbody");
  const head = ["Application", "Status", "Route", "Deployments", "Message", "Deployed", ""];
  ui.toolbar.prepend(h("b", { text: "Ray Serve" }));
  el.append(
    ui.toolbar,
    ui.error,
    h(
      "div",
      { class: "raynb-scroll-x" },
      h(
        "table",
        { class: "raynb-table raynb-serve", testid: "raynb-serve" },
        h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { text: t })))),
        tbody,
      ),
    ),
    ui.notice,
  );

  const remove = (name: string, btn: HTMLButtonElement) => {
    if (!window.confirm(`Delete Serve application ${name}?`)) return;
    btn.disabled = true;
    void ui.run(`Deleting ${name}`, client.request("delete_app", { name })).finally(() => (btn.disabled = false));
  };

  const appRow = (app: any): HTMLTableRowElement => {
    const name = str(app?.name);
    const deps: any[] = Array.isArray(app?.deployments) ? app.deployments : [];
    const deployed = typeof app?.last_deployed_time_s === "number" ? app.last_deployed_time_s * 1000 : null;
    const del = h("button", { class: "raynb-btn raynb-btn-danger", testid: "raynb-delete-app", text: "Delete" });
    del.addEventListener("click", () => remove(name, del));
    return h(
      "tr",
      { testid: "raynb-app-row", "data-app-name": name },
      h("td", { class: "raynb-mono", text: name }),
      h("td", {}, chip(str(app?.status).toUpperCase(), true)),
      h("td", { class: "raynb-mono", text: str(app?.route_prefix) || "–" }),
      h(
        "td",
        {},
        deps.length
          ? h(
              "div",
              { class: "raynb-deps" },
              ...deps.map((d) =>
                h(
                  "div",
                  { class: "raynb-dep" },
                  h("span", { class: "raynb-mono", text: str(d?.name) }),
                  chip(str(d?.status).toUpperCase(), true),
                  h("span", { class: "raynb-dim", text: `${Number(d?.replicas) || 0} replica${Number(d?.replicas) === 1 ? "" : "s"}` }),
                ),
              ),
            )
          : h("span", { class: "raynb-dim", text: "–" }),
      ),
      h("td", { class: "raynb-msg", text: str(app?.message) }),
      h("td", { class: "raynb-nowrap", text: formatRelative(deployed), title: formatLocalTime(deployed) }),
      h("td", { class: "raynb-actions" }, del),
    );
  };

  const draw = () => {
    const raw = model.get("apps");
    const apps: any[] = Array.isArray(raw) ? raw : [];
    tbody.replaceChildren(
      ...(apps.length
        ? apps.map(appRow)
        : [h("tr", {}, h("td", { colspan: String(head.length), class: "raynb-dim", text: "No Serve applications." }))]),
    );
  };

  const offs = [listen(model, "change:apps", draw), trackVisible(model, el)];
  draw();

  return () => {
    offs.forEach((off) => off());
    ui.cleanup();
    client.dispose();
  };
}

export default { render };
