"""LogView under a flood: a job prints 1,000,000 short lines as fast as it can.

Three runs, each on its own job:
1. kernel: a real ipykernel (jupyter_client) follows the job with a LogView; the kernel counts
   the `lines` messages it sends, its RSS and when `total` reached the final count; this
   script counts the comm messages on the kernel's iopub (what a browser would receive).
2. print loop (what users do today): `for line in client.tail_job_logs(job_id): print(line)`
   in the same kind of kernel; iopub `stream` messages, RSS, end-to-last-line.
3. browser: JupyterLab + headless Chromium (Playwright) run a notebook that submits the job and
   shows LogView(job_id); while lines stream, Pause is clicked 5 times (and Follow again in
   between) and the time from the click to the button's new text is measured.
Targets (product issue): <= 20 comm messages/s, kernel RSS growth <= 50 MB, a click on
Pause handled within 200 ms.
Run: python bench/widget_stream.py [--address http://127.0.0.1:8265] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import dashboard, percentile, py_entrypoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ui"))
from lab_helpers import CHROMIUM, CHROMIUM_ARGS, jupyterlab, open_and_run  # noqa: E402

from raynb.client import RayClient, RayClientError
from raynb.magics._base import NOTEBOOK_LIMITS

JOB = """
import sys
w = sys.stdout.write
for i in range({lines}):
    w(f'N {{i}}\\n')
sys.stdout.flush()
"""
RUN = uuid.uuid4().hex[:12]
META = {"raynb_bench": "widget_stream", "run": RUN}
TARGET_MSGS_PER_S = 20
TARGET_RSS_MB = 50
TARGET_CLICK_MS = 200
CLICKS = 5
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--address",
        default=os.environ.get("RAYNB_BENCH_DASHBOARD"),
        help="dashboard URL of a running head (default: start a local head for the run)",
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines the job prints (default 1,000,000)")
    parser.add_argument("--no-browser", action="store_true", help="skip the JupyterLab/Chromium run")
    return parser.parse_args()


def rate(times: list[float]) -> float:
    """Mean messages per second from the first to the last one (all of them if within 1 s)."""
    span = times[-1] - times[0] if times else 0.0
    return (len(times) - 1) / span if span >= 1.0 else float(len(times))


def during(times: list[float], span: list[float]) -> list[float]:
    """The times within [first, last] of ``span`` (the streaming window)."""
    return [t for t in times if span and span[0] <= t <= span[-1]]


def peak_per_s(times: list[float]) -> int:
    """Most messages in any 1-second window (t - 1, t]."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# -- a real ipykernel through jupyter_client ------------------------------------------------

KERNEL_SETUP = """
import gc, json, sys, threading, time
from raynb.client import RayClient
from raynb.magics._base import NOTEBOOK_LIMITS
client = RayClient({url!r}, limits=NOTEBOOK_LIMITS, timeout=30)

def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024

class PeakRss(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.halt = threading.Event()
    def run(self):
        while not self.halt.wait(0.1):
            self.peak = max(self.peak, rss_mb())
    def stop(self):
        self.halt.set(); self.join()
        return max(self.peak, rss_mb())
"""

LOGVIEW_WARMUP = """
from raynb.widgets import LogView

class CountingLogView(LogView):
    def send(self, content, buffers=None):
        if isinstance(content, dict) and content.get('type') == 'lines':
            SENT.append((time.time(), len(content['lines'])))
        super().send(content, buffers)

SENT = []
warm = CountingLogView('raysubmit_benchwarmup', client=client)  # no such job: ends at once
display(warm)
while not warm.done:
    time.sleep(0.05)
warm.close()
SENT.clear()
"""

LOGVIEW_RUN = """
gc.collect()
rss0 = rss_mb(); peak = PeakRss(); peak.start()
TOTALS, DONE = [], []
t0 = time.time()
view = CountingLogView({job_id!r}, client=client)
view.observe(lambda ch: TOTALS.append((time.time(), ch['new'])), names='total')
view.observe(lambda ch: DONE.append(time.time()), names='done')
display(view)
while not view.done:
    time.sleep(0.05)
rss1 = rss_mb(); rss_peak = peak.stop()
t_final = next((t for t, v in TOTALS if v == view.total), None)
gc.collect()
RESULT = dict(t0=t0, rss0=rss0, rss1=rss1, rss_peak=rss_peak, rss_gc=rss_mb(), sent=SENT,
              t_final=t_final, t_done=DONE[0] if DONE else time.time(), total=view.total,
              dropped=view.dropped, status=view.status, error=view.error)
view.close()
"""

PRINT_RUN = """
gc.collect()
rss0 = rss_mb(); peak = PeakRss(); peak.start()
t0 = time.time()
for line in client.tail_job_logs({job_id!r}):
    print(line)
sys.stdout.flush()
t_last = time.time()
rss1 = rss_mb(); rss_peak = peak.stop()
gc.collect()
RESULT = dict(t0=t0, t_last=t_last, rss0=rss0, rss1=rss1, rss_peak=rss_peak, rss_gc=rss_mb())
"""


class Kernel:
    """An ipykernel started with jupyter_client; every iopub message goes to ``on_iopub``."""

    def __init__(self, url: str) -> None:
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env={**os.environ, "RAY_API_SERVER_ADDRESS": url})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        self.on_iopub: Callable[[dict, float], None] | None = None

    def run(self, code: str, *, keep_stdout: bool = True, timeout: float = 900) -> str:
        """Execute ``code``; return its stdout (if kept). Raises on an error in the cell."""
        msg_id = self.kc.execute(code, store_history=False)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the kernel cell did not finish in {timeout} s") from None
                continue
            now = time.time()
            if self.on_iopub is not None:
                self.on_iopub(msg, now)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and keep_stdout and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                raise RuntimeError("kernel error:\n" + ANSI.sub("", "\n".join(content["traceback"])))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        self.kc.get_shell_msg(timeout=60)
        return "".join(out)

    def result(self) -> dict[str, Any]:
        return json.loads(self.run("print(json.dumps(RESULT))").strip().splitlines()[-1])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.run("client.close()", timeout=30)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)


@contextlib.contextmanager
def kernel(url: str) -> Iterator[Kernel]:
    k = Kernel(url)
    try:
        k.run(KERNEL_SETUP.format(url=url))
        yield k
    finally:
        k.close()


def submit(client: RayClient, lines: int) -> str:
    return client.submit_job(py_entrypoint(JOB.format(lines=lines)), metadata=META).submission_id


def job_times(client: RayClient, job_id: str) -> tuple[float, float, str]:
    """(start_time, end_time) in Unix s and the status of a finished job."""
    deadline = time.monotonic() + 120
    while True:
        job = client.get_job(job_id)
        if job.status.is_terminal() and job.end_time:
            return job.start_time / 1000, job.end_time / 1000, str(job.status)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job_id} still {job.status}")
        time.sleep(0.2)


def run_logview(url: str, client: RayClient, lines: int) -> dict[str, Any]:
    with kernel(url) as k:
        k.run(LOGVIEW_WARMUP)
        job_id = submit(client, lines)
        comm_id: list[str] = []
        kinds: Counter[str] = Counter()
        all_times: list[float] = []
        lines_times: list[float] = []
        seqs: list[tuple[int, int]] = []

        def on_iopub(msg: dict, now: float) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_open" and content.get("data", {}).get("state", {}).get("job_id") == job_id:
                comm_id.append(content["comm_id"])
            elif kind == "comm_msg" and comm_id and content.get("comm_id") == comm_id[0]:
                data = content.get("data", {})
                method = data.get("method", "?")
                sub = data.get("content", {}).get("type", "?") if method == "custom" else method
                kinds[sub] += 1
                all_times.append(now)
                if sub == "lines":
                    lines_times.append(now)
                    seqs.append((data["content"]["seq"], len(data["content"]["lines"])))

        k.on_iopub = on_iopub
        k.run(LOGVIEW_RUN.format(job_id=job_id))
        k.on_iopub = None
        res = k.result()
    start, end, status = job_times(client, job_id)
    contiguous = all(a + n == b for (a, n), (b, _) in zip(seqs, seqs[1:])) and (not seqs or seqs[0][0] == 0)
    sent_times = [t for t, _ in res["sent"]]
    return {
        "job_id": job_id, "job_status": status, "job_s": end - start, "end": end, "res": res,
        "kernel_times": sent_times, "kernel_lines": sum(n for _, n in res["sent"]),
        "iopub_all": all_times, "iopub_lines": lines_times, "kinds": kinds,
        "iopub_line_count": sum(n for _, n in seqs), "contiguous": contiguous,
    }


def run_print(url: str, client: RayClient, lines: int) -> dict[str, Any]:
    last = f"N {lines - 1}\n"
    with kernel(url) as k:
        job_id = submit(client, lines)
        times: list[float] = []
        counts = {"lines": 0, "bytes": 0, "last_at": None}

        def on_iopub(msg: dict, now: float) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream" and content.get("name") == "stdout":
                text = content["text"]
                times.append(now)
                counts["lines"] += text.count("\n")
                counts["bytes"] += len(text)
                if last in text:
                    counts["last_at"] = now

        k.on_iopub = on_iopub
        k.run(PRINT_RUN.format(job_id=job_id), keep_stdout=False)
        k.on_iopub = None
        res = k.result()
    start, end, status = job_times(client, job_id)
    return {"job_id": job_id, "job_status": status, "job_s": end - start, "end": end, "res": res,
            "times": times, **counts}


# -- JupyterLab + Chromium ----------------------------------------------------------------


# In the page: pointerdowns (event.timeStamp: when the browser got the input), each change of
# the Pause button's text (the click handled) and the frame after it, long tasks, and when
# the last line and the final status line appear.
INSTRUMENT = """(last) => {
  const q = (id) => document.querySelector(`[data-testid=${id}]`);
  const btn = q('raynb-pause'), log = q('raynb-log'), total = q('raynb-total'), fin = q('raynb-final');
  const epoch = (t) => performance.timeOrigin + t;
  const rb = window.__rb = {downs: [], changes: [], longtasks: [], lastLineAt: null, finalAt: null};
  document.addEventListener('pointerdown', (e) => rb.downs.push({ts: e.timeStamp, onBtn: e.target === btn}), true);
  let text = btn.textContent;
  new MutationObserver(() => {
    if (btn.textContent === text) return;  // the panel rewrites the same text on every render
    text = btn.textContent;
    const now = performance.now();
    const rec = {at: now, epoch: epoch(now), text, total: total.textContent, frame: null};
    rb.changes.push(rec);
    requestAnimationFrame(() => { rec.frame = performance.now(); });
  }).observe(btn, {childList: true, characterData: true, subtree: true});
  new MutationObserver((muts) => {
    if (rb.lastLineAt !== null) return;
    for (const m of muts) for (const n of m.addedNodes)
      if (n.textContent === last) { rb.lastLineAt = epoch(performance.now()); return; }
  }).observe(log, {childList: true, subtree: true});
  new MutationObserver(() => {
    if (rb.finalAt === null && !fin.hidden && fin.textContent.includes('SUCCEEDED'))
      rb.finalAt = epoch(performance.now());
  }).observe(fin, {childList: true, characterData: true, subtree: true, attributes: true});
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) rb.longtasks.push([epoch(e.startTime), e.duration]);
    }).observe({type: 'longtask'});
  } catch (e) {}
}"""


def clock_offset_ms(page: Any) -> float:
    """Page epoch (performance.timeOrigin + now) minus this process's time.time(), in ms."""
    best = None
    for _ in range(7):
        a = time.time()
        e = page.evaluate("() => performance.timeOrigin + performance.now()")
        b = time.time()
        if best is None or b - a < best[0]:
            best = (b - a, e - (a + b) / 2 * 1000)
    return best[1]


def run_browser(url: str, client: RayClient, lines: int) -> dict[str, Any]:
    import nbformat
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing")
    entry = py_entrypoint(JOB.format(lines=lines))
    cells = [
        "from raynb.client import RayClient\nfrom raynb.magics._base import NOTEBOOK_LIMITS\n"
        f"ray = RayClient({url!r}, limits=NOTEBOOK_LIMITS)\n"
        f"job_id = ray.submit_job({entry!r}, metadata={META!r}).submission_id\njob_id",
        "from raynb.widgets import LogView\nLogView(job_id, client=ray)",
    ]
    with tempfile.TemporaryDirectory(prefix="raynb-bench-lab-") as tmp:
        root = Path(tmp)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "stream.ipynb")
        with jupyterlab(url, root) as lab_url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.on("dialog", lambda d: d.accept())
                return _drive(page, lab_url, client, lines)
            finally:
                browser.close()


def _drive(page: Any, lab_url: str, client: RayClient, lines: int) -> dict[str, Any]:
    open_and_run(page, lab_url, "stream.ipynb")
    btn = page.locator('[data-testid="raynb-pause"]')
    btn.wait_for(timeout=120_000)
    page.locator('[data-testid="raynb-job-id"]', has_text="raysubmit_").wait_for(timeout=60_000)
    job_id = page.locator('[data-testid="raynb-job-id"]').text_content().strip()
    page.evaluate(INSTRUMENT, f"N {lines - 1}")
    offset = clock_offset_ms(page)
    btn.scroll_into_view_if_needed()
    page.locator('[data-testid="raynb-log-line"]', has_text=re.compile(r"^N \d+$")).first.wait_for(timeout=300_000)
    t_first = time.time()
    box = btn.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    clicks: list[dict[str, Any]] = []
    for i in range(2 * CLICKS):  # Pause, Follow, Pause, ... : the odd ones are the Pause clicks
        want = "Follow" if i % 2 == 0 else "Pause"
        t_click = time.time()
        page.mouse.click(x, y)
        page.wait_for_function(
            "(i) => { const d = window.__rb.downs[i]; return d && window.__rb.changes.some((c) => c.at >= d.ts); }",
            arg=i, timeout=60_000, polling=10,
        )
        clicks.append({"t_click": t_click, "want": want})
        time.sleep(0.25)
    time.sleep(0.2)  # the frame after the last change
    page.locator('[data-testid="raynb-final"]', has_text="SUCCEEDED").wait_for(timeout=600_000)
    page.wait_for_function("() => window.__rb.lastLineAt !== null", timeout=120_000, polling=100)
    rb = page.evaluate("() => window.__rb")
    start, end, status = job_times(client, job_id)
    rows, used = [], set()
    for i, c in enumerate(clicks):
        down = rb["downs"][i]
        k = next(k for k, ch in enumerate(rb["changes"]) if ch["at"] >= down["ts"])
        ch = rb["changes"][k]
        used.add(k)
        rows.append({
            "pause": c["want"] == "Follow", "ok": ch["text"] == c["want"] and down["onBtn"],
            "handled_ms": ch["at"] - down["ts"],
            "frame_ms": (ch["frame"] - down["ts"]) if ch["frame"] is not None else float("nan"),
            "wall_ms": ch["epoch"] - offset - c["t_click"] * 1000,
            "total": ch["total"], "epoch": (ch["epoch"] - offset) / 1000,
        })
    lt = [(s - offset) / 1000 for s, _ in rb["longtasks"]], [d for _, d in rb["longtasks"]]
    stream_lt = [d for s, d in zip(*lt) if s >= t_first - 1]
    return {
        "job_id": job_id, "job_status": status, "end": end, "rows": rows,
        "extra_changes": len(rb["changes"]) - len(used),
        "last_line_s": (rb["lastLineAt"] - offset) / 1000 - end,
        "final_s": (rb["finalAt"] - offset) / 1000 - end if rb["finalAt"] else float("nan"),
        "longtasks": stream_lt,
        "clicks_span": (rows[0]["epoch"] - end, rows[-1]["epoch"] - end),
    }


# -- the run --------------------------------------------------------------------------------


def cleanup(client: RayClient) -> None:
    """Stop and delete every job of this run (the notebook's too: they carry RUN)."""
    jobs = [j for j in client.list_jobs().items if (j.metadata or {}).get("run") == RUN]
    for job in jobs:
        with contextlib.suppress(RayClientError):
            if not job.status.is_terminal():
                client.stop_job(job.id)
    for job in jobs:
        with contextlib.suppress(RayClientError, TimeoutError):
            deadline = time.monotonic() + 60
            while not client.get_job(job.id).status.is_terminal() and time.monotonic() < deadline:
                time.sleep(0.5)
            client.delete_job(job.id)


def report(args: argparse.Namespace, lv: dict, pr: dict, br: dict | None, wall: float) -> None:
    res = lv["res"]
    print(f"\n{args.lines:,} lines printed with sys.stdout.write as fast as possible; "
          f"LogView batches every 50 ms (ring of 100,000 lines)")
    print(f"jobs: LogView {lv['job_status']} in {lv['job_s']:.1f} s, print loop {pr['job_status']} "
          f"in {pr['job_s']:.1f} s (start to end, incl. driver start)")
    hdr = (f"{'path':44} {'msgs':>6} {'msgs/s':>7} {'peak/1s':>7} {'max gap':>7} {'span s':>7} {'lines':>10} "
           f"{'end->last s':>11}")
    print("\n" + hdr)
    print("-" * len(hdr))

    def row(name: str, times: list[float], nlines: int, last: float | None) -> None:
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        end_last = f"{last - lv_end:11.2f}" if last is not None else f"{'–':>11}"
        gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        print(f"{name:44} {len(times):6d} {rate(times):7.1f} {peak_per_s(times):7d} {gap:7.2f} {span:7.2f} "
              f"{nlines:10,d} {end_last}")

    lv_end = lv["end"]
    row("LogView `lines` sent (in the kernel)", lv["kernel_times"], lv["kernel_lines"], res["t_final"])
    row("LogView `lines` comm_msg (iopub)", lv["iopub_lines"], lv["iopub_line_count"], lv["iopub_lines"][-1])
    row("LogView all comm_msg (iopub) while streaming", during(lv["iopub_all"], lv["iopub_lines"]),
        lv["iopub_line_count"], lv["iopub_all"][-1])
    lv_end = pr["end"]
    row("print loop `stream` (iopub)", pr["times"], pr["lines"], pr["last_at"])
    print(f"  LogView comm_msg kinds: {dict(lv['kinds'])}; total={res['total']:,} dropped={res['dropped']:,} "
          f"status={res['status']} error={res['error']!r}; seqs contiguous: {lv['contiguous']}")
    print(f"  LogView: job end -> `total` final {res['t_final'] - lv['end']:.2f} s, -> done "
          f"{res['t_done'] - lv['end']:.2f} s (kernel clock)")
    pres = pr["res"]
    print(f"  print loop: job end -> loop finished {pres['t_last'] - pr['end']:.2f} s (kernel clock); "
          f"{pr['bytes'] / 1e6:.1f} MB of text on iopub")

    print(f"\n{'kernel RSS (MB)':44} {'before':>7} {'after':>7} {'peak':>7} {'gc':>7} {'growth':>7}")
    growth = {}
    for name, r in (("LogView", res), ("print loop", pres)):
        growth[name] = max(r["rss1"], r["rss_peak"]) - r["rss0"]
        print(f"{name:44} {r['rss0']:7.1f} {r['rss1']:7.1f} {r['rss_peak']:7.1f} {r['rss_gc']:7.1f} "
              f"{growth[name]:7.1f}")

    if br is not None:
        pause = [r for r in br["rows"] if r["pause"]]
        print(f"\nbrowser (JupyterLab 4 + headless Chromium), {len(pause)} Pause clicks while lines streamed "
              f"(clicks from {br['clicks_span'][0]:+.1f} s to {br['clicks_span'][1]:+.1f} s of job end)")
        print(f"{'click -> button text changed (ms)':44} {'p50':>7} {'max':>7}   per click")
        for label, key in (("Playwright click -> handled (wall clock)", "wall_ms"),
                           ("input event -> handled (in page)", "handled_ms"),
                           ("input event -> next frame (in page)", "frame_ms")):
            vals = [r[key] for r in pause]
            print(f"  {label:42} {percentile(vals, 50):7.1f} {max(vals):7.1f}   "
                  + " ".join(f"{v:.0f}" for v in vals))
        fol = [r["wall_ms"] for r in br["rows"] if not r["pause"]]
        print(f"  {'Follow clicks, wall clock':42} {percentile(fol, 50):7.1f} {max(fol):7.1f}   "
              + " ".join(f"{v:.0f}" for v in fol))
        print(f"  kernel `total` shown at each Pause: {', '.join(r['total'] for r in pause)}")
        bad = [i for i, r in enumerate(br["rows"]) if not r["ok"]]
        if bad or br["extra_changes"]:
            print(f"  WARNING: clicks {bad} not on the button / wrong state; {br['extra_changes']} button "
                  "changes without a click")
        lt = br["longtasks"]
        print(f"  long tasks (>50 ms) from the first line on: {len(lt)}, max {max(lt, default=0):.0f} ms, "
              f"total {sum(lt):.0f} ms")
        print(f"  job end -> last line shown {br['last_line_s']:.2f} s, -> final status shown "
              f"{br['final_s']:.2f} s (job {br['job_status']})")

    print("\ntargets (messages/s: the most in any 1-second window; the mean is shown too)")
    comm_times = during(lv["iopub_all"], lv["iopub_lines"])
    for what, times in (("LogView `lines` messages", lv["kernel_times"]),
                        ("all LogView comm messages to the browser", comm_times)):
        peak = peak_per_s(times)
        print(f"  <= {TARGET_MSGS_PER_S} messages/s, {what}: peak {peak} in 1 s, mean {rate(times):.1f}/s "
              f"{verdict(peak <= TARGET_MSGS_PER_S)}")
    print(f"  RSS growth <= {TARGET_RSS_MB} MB: LogView {growth['LogView']:.1f} MB "
          f"{verdict(growth['LogView'] <= TARGET_RSS_MB)} (print loop {growth['print loop']:.1f} MB)")
    if br is not None:
        worst = max(r["wall_ms"] for r in br["rows"] if r["pause"])
        print(f"  Pause handled <= {TARGET_CLICK_MS} ms: max {worst:.0f} ms {verdict(worst <= TARGET_CLICK_MS)}")
    print(f"\nbench wall time {wall:.0f} s")


def main() -> None:
    args = parse_args()
    t0 = time.time()
    with dashboard(args.address) as url, RayClient(url, limits=NOTEBOOK_LIMITS, timeout=30) as client:
        try:
            print(f"[{time.time() - t0:5.0f} s] kernel: LogView ...", flush=True)
            lv = run_logview(url, client, args.lines)
            print(f"[{time.time() - t0:5.0f} s] kernel: print loop ...", flush=True)
            pr = run_print(url, client, args.lines)
            br = None
            if not args.no_browser:
                print(f"[{time.time() - t0:5.0f} s] browser: JupyterLab + Chromium ...", flush=True)
                br = run_browser(url, client, args.lines)
            print(f"[{time.time() - t0:5.0f} s] done", flush=True)
        finally:
            cleanup(client)
        report(args, lv, pr, br, time.time() - t0)


if __name__ == "__main__":
    main()
