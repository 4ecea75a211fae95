// Reads the server extension's NDJSON log stream: one JSON event per line, however the
// bytes are cut into chunks (a line or a UTF-8 character may span two chunks).

/** The JSON events of an NDJSON body, as they arrive. */
export async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
}
