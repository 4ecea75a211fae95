import { describe, expect, it } from "vitest";
import { ndjson } from "../src/panel/ndjson";

function body(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      chunks.forEach((c) => controller.enqueue(c));
      controller.close();
    },
  });
}

async function events(chunks: Uint8Array[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of ndjson(body(chunks))) out.push(e);
  return out;
}

describe("ndjson", () => {
  it("yields events whatever the chunking, a multi-byte character split included", async () => {
    const bytes = new TextEncoder().encode('{"lines":["a","é🙂"]}\n\n{"end":"SUCCEEDED","message":""}\n');
    const whole = await events([bytes]);
    expect(whole).toEqual([{ lines: ["a", "é🙂"] }, { end: "SUCCEEDED", message: "" }]);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await events([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(whole);
    }
  });

  it("leaves an unfinished last line out", async () => {
    expect(await events([new TextEncoder().encode('{"lines":["x"]}\n{"lin')])).toEqual([{ lines: ["x"] }]);
  });
});
