// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { LogPanel } from "../src/lib/logpanel";
import { installLayoutStubs, userScroll } from "./domstubs";

const q = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement;
const qa = (root: Element, id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];

const mounted: LogPanel[] = [];

function mount(capacity = 1000) {
  const panel = new LogPanel({ capacity });
  mounted.push(panel);
  document.body.replaceChildren(panel.el);
  const render = () => (panel as any).batcher.flush();
  return { panel, render, el: panel.el };
}

describe("LogPanel", () => {
  beforeAll(installLayoutStubs);
  afterEach(() => mounted.splice(0).forEach((p) => p.destroy()));

  it("renders hostile lines as text, with ANSI colors", () => {
    const { panel, render, el } = mount();
    const evil = ["<script>window.pwned=1</script>", '<img src=x onerror="window.pwned=1">', "\x1b[31mred\x1b[0m"];
    panel.push(0, evil);
    render();
    const rows = qa(el, "raynb-log-line");
    expect(rows.map((r) => r.textContent)).toEqual([evil[0], evil[1], "red"]);
    expect(el.querySelector("script, img")).toBeNull();
    expect(rows[2].querySelector(".ansi-red-fg")?.textContent).toBe("red");
    expect((window as any).pwned).toBeUndefined();
  });

  it("keeps the DOM small with 1,000,000 lines held", () => {
    const { panel, render, el } = mount(1_000_000);
    const batch = Array.from({ length: 10_000 }, (_, i) => `line ${i}`);
    for (let s = 0; s < 1_000_000; s += 10_000) panel.push(s, batch);
    render();
    const rows = qa(el, "raynb-log-line");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(50);
    expect(rows.at(-1)!.textContent).toBe("line 9999"); // following: the newest line is shown
    expect(q(el, "raynb-log").scrollTop).toBeGreaterThan(0);
    expect(el.textContent).toContain("1,000,000 lines");
    expect(el.querySelectorAll("*").length).toBeLessThan(120);
  });

  it("filters case-insensitively and shows N of M", async () => {
    const { panel, render, el } = mount();
    panel.push(0, ["Error one", "ok", "\x1b[31mERR\x1b[0mOR two", "fine"]);
    const input = q(el, "raynb-filter") as HTMLInputElement;
    input.value = "error";
    input.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 200)); // typing debounce
    render();
    expect(qa(el, "raynb-log-line").map((r) => r.textContent)).toEqual(["Error one", "ERROR two"]);
    expect(el.textContent).toContain("2 of 4 lines");
    panel.push(4, ["another error"]);
    render();
    expect(el.textContent).toContain("3 of 5 lines");
  });

  it("shows how many lines were dropped", () => {
    const { panel, render, el } = mount(10);
    expect(q(el, "raynb-dropped").hidden).toBe(true);
    panel.push(0, Array.from({ length: 15 }, (_, i) => `l${i}`));
    render();
    expect(q(el, "raynb-dropped").hidden).toBe(false);
    expect(q(el, "raynb-dropped").textContent).toMatch(/^5 lines dropped/);
  });

  it("pauses following when the user scrolls up; Resume shows new lines and resumes", () => {
    const { panel, render, el } = mount();
    const log = q(el, "raynb-log");
    panel.push(0, Array.from({ length: 100 }, (_, i) => `l${i}`));
    render();
    expect(log.scrollTop).toBe(100 * 20 - 400);
    expect(q(el, "raynb-resume").hidden).toBe(true);
    userScroll(log, 200);
    panel.push(100, ["l100", "l101"]);
    render();
    expect(log.scrollTop).toBe(200); // the view stays put
    expect(qa(el, "raynb-log-line")[0].textContent).toBe("l4");
    const resume = q(el, "raynb-resume");
    expect(resume.hidden).toBe(false);
    expect(resume.textContent).toBe("Resume ▼ (2 new)");
    resume.click();
    render();
    expect(log.scrollTop).toBe(102 * 20 - 400);
    expect(resume.hidden).toBe(true);
  });

  it("keeps a paused view on the same line while old lines are evicted", () => {
    const { panel, render, el } = mount(50);
    const log = q(el, "raynb-log");
    panel.push(0, Array.from({ length: 50 }, (_, i) => `l${i}`));
    render();
    q(el, "raynb-pause").click();
    userScroll(log, 20 * 20); // l20 at the top
    render();
    panel.push(50, ["l50", "l51", "l52"]); // evicts l0..l2
    render();
    const rows = qa(el, "raynb-log-line").sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    const top = rows.find((r) => parseFloat(r.style.top) >= log.scrollTop)!;
    expect(top.textContent).toBe("l20");
  });

  it("Pause toggles follow", () => {
    const { render, el } = mount();
    const pause = q(el, "raynb-pause");
    expect(pause.textContent).toBe("Pause");
    pause.click();
    render();
    expect(pause.textContent).toBe("Follow");
    expect(q(el, "raynb-resume").hidden).toBe(false);
    pause.click();
    expect(pause.textContent).toBe("Pause");
  });

  it("copies the shown lines without ANSI codes", async () => {
    const { panel, render, el } = mount();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { configurable: true, value: { writeText } });
    panel.push(0, ["\x1b[32mgreen\x1b[0m", "a\rb"]);
    render();
    q(el, "raynb-copy").click();
    await Promise.resolve();
    expect(writeText).toHaveBeenCalledWith("green\nb\n");
  });

  it("downloads a .log file", () => {
    const { panel, el } = mount();
    const created: Blob[] = [];
    URL.createObjectURL = (b: Blob) => (created.push(b), "blob:x");
    URL.revokeObjectURL = () => {};
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      expect(this.download).toBe("raysubmit_1.log");
    });
    panel.setName("raysubmit_1");
    panel.push(0, ["x"]);
    q(el, "raynb-download").click();
    expect(click).toHaveBeenCalledTimes(1);
    expect(created[0].size).toBe(2);
  });

  it("shows final and error lines as text", () => {
    const { panel, el } = mount();
    panel.setFinal("✖ FAILED (exit code 1): <b>boom</b>");
    panel.setError("<img src=x onerror=alert(1)>");
    expect(q(el, "raynb-final").textContent).toBe("✖ FAILED (exit code 1): <b>boom</b>");
    expect(q(el, "raynb-error").hidden).toBe(false);
    expect(el.querySelector("b, img")).toBeNull();
    panel.setError("");
    expect(q(el, "raynb-error").hidden).toBe(true);
  });

  it("loads earlier lines at the top and keeps the view on its lines, until the start", async () => {
    const { panel, render, el } = mount(1000);
    const log = q(el, "raynb-log");
    const bar = q(el, "raynb-earlier") as HTMLButtonElement;
    panel.push(0, Array.from({ length: 100 }, (_, i) => `l${i + 2000}`)); // the last 100 of 2100
    render();
    expect(bar.hidden).toBe(true); // no loader: the first line held is the log's first
    const calls: [number, number][] = [];
    panel.setEarlier(async (n, cursor) => {
      calls.push([n, cursor]);
      const from = Math.max(0, cursor - n);
      return { lines: Array.from({ length: cursor - from }, (_, i) => `l${from + i}`), atStart: from === 0, cursor: from };
    }, 2000);
    render();
    expect(bar.hidden).toBe(false);
    userScroll(log, 0); // the user scrolls to the top
    await Promise.resolve();
    await Promise.resolve();
    render();
    expect(calls).toEqual([[900, 2000]]); // what fits: 1000 held at most
    const rows = qa(el, "raynb-log-line").sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
    expect(rows.find((r) => parseFloat(r.style.top) >= log.scrollTop)!.textContent).toBe("l2000"); // stays put
    expect(el.textContent).toContain("1,000 lines");
    expect(bar.disabled).toBe(true);
    expect(bar.textContent).toContain("this view holds 1,000 lines");
    panel.reset();
    render();
    expect(bar.hidden).toBe(true);
  });

  it("hides the earlier bar once the log's first line is loaded; says a failure", async () => {
    const { panel, render, el } = mount(1000);
    const bar = q(el, "raynb-earlier") as HTMLButtonElement;
    panel.push(0, ["c", "d"]);
    let fail = true;
    panel.setEarlier(async () => {
      if (fail) throw new Error("503 unreachable\nmore");
      return { lines: ["a", "b"], atStart: true, cursor: 0 };
    }, 4);
    bar.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(bar.textContent).toBe("Could not load earlier lines: 503 unreachable — click to retry");
    fail = false;
    bar.click();
    await new Promise((r) => setTimeout(r, 0));
    render();
    expect(qa(el, "raynb-log-line").map((r) => r.textContent)).toEqual(["a", "b", "c", "d"]);
    expect(bar.hidden).toBe(true);
  });

  it("shows the final line as one line, coloured by the status", () => {
    const { panel, el } = mount();
    const message = "Job FAILED: Job entrypoint command failed with exit code 1, last available logs:\nlog 1\nlog 2";
    panel.setFinal(message, "FAILED");
    const final = q(el, "raynb-final");
    expect(final.textContent).toBe("Job FAILED: Job entrypoint command failed with exit code 1, last available logs:");
    expect(final.title).toBe(final.textContent);
    expect(final.className).toBe("raynb-final raynb-final-err");
    panel.setFinal("✔ raysubmit_1 SUCCEEDED in 2.0 s", "SUCCEEDED");
    expect(final.className).toBe("raynb-final raynb-final-ok");
    panel.setFinal("");
    expect(final.hidden).toBe(true);
  });
});
