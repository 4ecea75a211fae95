// Pieces shared by the polling widgets (JobsTable, ClusterPanel, ServePanel).

import { h, injectStyle, setLine } from "./dom";
import { formatRelative } from "./format";
import { listen, type WidgetModel } from "./model";
import { oneLine, type RequestClient } from "./requests";

/** Marks `el` as a raynb widget root and adds its styles. */
export function setupRoot(el: HTMLElement, css: string): void {
  el.classList.add("raynb-root");
  injectStyle(el, css);
}

/**
 * Keeps the `visible` trait true only while `el` intersects the viewport and the page is
 * shown, so Python polls only for someone watching. Sets it false when the view goes away.
 */
export function trackVisible(model: WidgetModel, el: HTMLElement): () => void {
  let intersecting = true;
  const update = (visible: boolean) => {
    if (model.get("visible") === visible) return;
    try {
      model.set("visible", visible);
      model.save_changes();
    } catch {
      // the comm is already closed (widget closed): nothing to tell Python
    }
  };
  const check = () => update(intersecting && !document.hidden);
  const io =
    typeof IntersectionObserver === "function"
      ? new IntersectionObserver((entries) => {
          intersecting = entries[entries.length - 1].isIntersecting;
          check();
        })
      : null;
  io?.observe(el);
  document.addEventListener("visibilitychange", check);
  check();
  return () => {
    io?.disconnect();
    document.removeEventListener("visibilitychange", check);
    update(false);
  };
}

export interface Shell {
  /** Toolbar: put the widget's own controls first; ends with "updated …" and Refresh. */
  toolbar: HTMLDivElement;
  /** One red line for the `error` trait. */
  error: HTMLDivElement;
  /** One line for request results (data-testid raynb-notice). */
  notice: HTMLDivElement;
  /** Shows the reply's message or error of a request in the notice line; true if it succeeded. */
  run(label: string, p: Promise<any>): Promise<boolean>;
  cleanup(): void;
}

/** Toolbar with "updated N s ago" (last_refresh) and a Refresh button, error and notice lines. */
export function shell(model: WidgetModel, client: RequestClient): Shell {
  const updated = h("span", { class: "raynb-dim", testid: "raynb-updated" });
  const refresh = h("button", { class: "raynb-btn", testid: "raynb-refresh", text: "Refresh" });
  const toolbar = h("div", { class: "raynb-toolbar" }, h("span", { class: "raynb-spacer" }), updated, refresh);
  const error = h("div", { class: "raynb-error", testid: "raynb-error", hidden: true });
  const notice = h("div", { class: "raynb-notice", testid: "raynb-notice", hidden: true });

  const tick = () => {
    const t = Number(model.get("last_refresh")) || 0;
    updated.textContent = t > 0 ? `updated ${formatRelative(t * 1000)}` : "";
    updated.title = t > 0 ? new Date(t * 1000).toLocaleString() : "";
  };
  const showError = () => setLine(error, oneLine(model.get("error") ?? ""));
  const offs = [listen(model, "change:last_refresh", tick), listen(model, "change:error", showError)];
  const timer = setInterval(tick, 5000);
  tick();
  showError();

  const run = async (label: string, p: Promise<any>) => {
    setLine(notice, `${label}…`);
    try {
      const res = await p;
      setLine(notice, oneLine(res?.message ?? "") || `${label}: done`);
      return true;
    } catch (e) {
      if (oneLine(e) !== "closed") setLine(notice, `${label} failed: ${oneLine(e)}`);
      return false;
    }
  };
  refresh.addEventListener("click", () => {
    refresh.disabled = true;
    client
      .request("refresh")
      .then(
        () => setLine(notice, ""),
        (e) => oneLine(e) !== "closed" && setLine(notice, `Refresh failed: ${oneLine(e)}`),
      )
      .finally(() => (refresh.disabled = false));
  });

  return {
    toolbar,
    error,
    notice,
    run,
    cleanup() {
      clearInterval(timer);
      offs.forEach((off) => off());
    },
  };
}
