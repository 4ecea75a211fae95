import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatQuantity,
  formatRelative,
  isActiveJob,
  isTerminalJob,
  statusKind,
} from "../src/lib/format";

describe("format", () => {
  it("bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3.2 * 2 ** 30)).toBe("3.2 GiB");
    expect(formatBytes(512 * 2 ** 20)).toBe("512 MiB");
    expect(formatBytes(NaN)).toBe("–");
    expect(formatBytes(null)).toBe("–");
  });

  it("durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_345)).toBe("12.3 s");
    expect(formatDuration(245_000)).toBe("4 min 5 s");
    expect(formatDuration(7_380_000)).toBe("2 h 3 min");
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe("3 d 4 h");
    expect(formatDuration(-1)).toBe("–");
  });

  it("relative times", () => {
    const now = 1_700_000_000_000;
    expect(formatRelative(now - 1000, now)).toBe("just now");
    expect(formatRelative(now - 42_000, now)).toBe("42 s ago");
    expect(formatRelative(now - 120_000, now)).toBe("2 min ago");
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(formatRelative(now - 5 * 86_400_000, now)).toBe("5 d ago");
    expect(formatRelative(null, now)).toBe("–");
  });

  it("counts and quantities", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatQuantity(2)).toBe("2");
    expect(formatQuantity(0.5)).toBe("0.5");
    expect(formatQuantity(1 / 3)).toBe("0.33");
  });

  it("status kinds", () => {
    expect(statusKind("SUCCEEDED")).toBe("ok");
    expect(statusKind("running")).toBe("run");
    expect(statusKind("PENDING")).toBe("warn");
    expect(statusKind("FAILED")).toBe("err");
    expect(statusKind("DEAD")).toBe("err");
    expect(statusKind("DEPLOY_FAILED")).toBe("err");
    expect(statusKind("whatever")).toBe("idle");
    expect(statusKind(undefined)).toBe("idle");
    expect(isActiveJob("RUNNING") && isTerminalJob("STOPPED") && !isTerminalJob("PENDING")).toBe(true);
    expect(isActiveJob("PENDING") && !isActiveJob("SUCCEEDED") && !isActiveJob("UNKNOWN")).toBe(true);
  });

  it("status kinds from raynb/tables.json, as the snapshots read them", () => {
    expect(statusKind("RUNNING")).toBe("run"); // a job at work
    expect(statusKind("RUNNING", true)).toBe("ok"); // a Serve application that is up
    expect(statusKind("HEALTHY")).toBe("ok");
    expect(statusKind("UPSCALING", true)).toBe("warn");
    expect(statusKind("DELETING", true)).toBe("warn");
    expect(statusKind("FINISHED")).toBe("ok"); // a task
    expect(statusKind("PENDING_NODE_ASSIGNMENT")).toBe("warn");
    expect(statusKind("RUNNING_IN_RAY_GET")).toBe("run");
    expect(statusKind("DEPENDENCIES_UNREADY")).toBe("warn");
    expect(statusKind("WORKER_ERROR")).toBe("err");
    expect(statusKind("constructor")).toBe("idle"); // no Object.prototype key is a status
  });
});
