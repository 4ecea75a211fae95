import { describe, expect, it } from "vitest";
import { collapseCR, escapeHtml, lineToHtml, plainText } from "../src/lib/ansi";

describe("ansi", () => {
  it("renders SGR colors as classes and inline rgb", () => {
    expect(lineToHtml("\x1b[31mred\x1b[0m plain")).toBe('<span class="ansi-red-fg">red</span> plain');
    expect(lineToHtml("\x1b[1;92mok")).toBe('<span style="font-weight:bold" class="ansi-bright-green-fg">ok</span>');
    expect(lineToHtml("\x1b[38;2;10;20;30mtc")).toContain("color:rgb(10,20,30)");
  });

  it("keeps hostile markup as text", () => {
    const script = lineToHtml("<script>alert(1)</script>");
    expect(script).toBe("&lt;script&gt;alert(1)&lt;/script&gt;");
    const img = lineToHtml('\x1b[32m<img src=x onerror="alert(1)">\x1b[0m');
    expect(img).not.toMatch(/<img/);
    expect(img).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(lineToHtml("a & 'b'")).toBe("a &amp; &#x27;b&#x27;");
  });

  it("allows only http(s) OSC 8 links, opened in a new tab", () => {
    const ok = lineToHtml("\x1b]8;;https://example.org/a?b=1\x1b\\site\x1b]8;;\x1b\\");
    expect(ok).toBe('<a target="_blank" rel="noopener noreferrer" href="https://example.org/a?b=1">site</a>');
    expect(lineToHtml("\x1b]8;;javascript:alert(1)\x1b\\x\x1b]8;;\x1b\\")).not.toContain("href");
  });

  it("does not carry color or partial escapes from one line to the next", () => {
    lineToHtml("\x1b[31munterminated");
    lineToHtml("partial \x1b[");
    expect(lineToHtml("\x1b[0mnext")).toBe("next");
  });

  it("collapses carriage returns like a terminal", () => {
    expect(collapseCR("10%\r50%\r100%")).toBe("100%");
    expect(collapseCR("done\r")).toBe("done");
    expect(collapseCR("a\rb\r\r")).toBe("b");
    expect(collapseCR("plain")).toBe("plain");
    expect(lineToHtml(" 10%|#   |\r\x1b[32m100%|####|\x1b[0m")).toBe('<span class="ansi-green-fg">100%|####|</span>');
  });

  it("shows NUL as ␀ and strips escapes for plain text", () => {
    expect(lineToHtml("a\0b")).toBe("a\u2400b");
    expect(plainText("\x1b[1;31merr\x1b[0mor\0\r")).toBe("error\u2400");
    expect(plainText("x\x1b]8;;https://e.org\x1b\\link\x1b]8;;\x1b\\")).toBe("xlink");
    expect(escapeHtml(`<>&"'`)).toBe("&lt;&gt;&amp;&quot;&#x27;");
  });
});
