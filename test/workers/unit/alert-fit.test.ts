import { describe, expect, it } from "vitest";
import { cutTo, fitStrings, type RenderedString, sizeOf, textOf } from "../../../src/alerts/fit.ts";

const bytes = (text: string) => new TextEncoder().encode(JSON.stringify(text)).length - 2;
const string = (literals: string[], values: string[]): RenderedString => ({ type: "string", literals, values });

describe("measuring as destinations count", () => {
  it("counts characters, UTF-16 units and the bytes of a JSON string", () => {
    const text = 'a🚀漢"\n\u0001\ud800';
    expect(sizeOf(text, "codePoints")).toBe(7);
    expect(sizeOf(text, "utf16")).toBe(8);
    expect(sizeOf(text, "jsonBytes")).toBe(bytes(text));
    // Counting stops past the cap: a 1 MB value costs what the budget is worth.
    expect(sizeOf("x".repeat(1_000_000), "jsonBytes", 10)).toBe(11);
  });

  it("cuts at a character boundary, marker included, keeping the start or the end", () => {
    expect(cutTo("abcdefgh", 6, "codePoints")).toBe("abc...");
    expect(cutTo("🚀🚀🚀🚀🚀", 4, "codePoints")).toBe("🚀...");
    expect(cutTo("🚀🚀🚀🚀🚀", 6, "utf16")).toBe("🚀...");
    expect(cutTo("🚀🚀🚀🚀🚀", 5, "utf16")).toBe("🚀..."); // half an emoji is not kept
    expect(cutTo("🚀🚀🚀", 8, "jsonBytes")).toBe("🚀..."); // 4 + 3 bytes
    expect(cutTo("abcdefgh", 6, "codePoints", true)).toBe("...fgh");
    expect(cutTo("xx🚀🚀", 5, "utf16", true)).toBe("...🚀");
    expect(cutTo("abc", 3, "codePoints")).toBe("abc");
    expect(cutTo("abcdef", 2, "codePoints")).toBe("");
  });

  it("never leaves half an escape before the marker", () => {
    expect(cutTo("a &amp; b", 7, "codePoints")).toBe("a ...");
    expect(cutTo("ab\\[cdef", 6, "codePoints")).toBe("ab...");
    expect(cutTo("x &amp; tail", 11, "codePoints", true)).toBe("... tail");
  });
});

describe("fitting strings into a budget", () => {
  it("keeps the template's text and gives the room to the values, small ones whole", () => {
    const node = string(["```\n", " / ", "\n```"], ["x".repeat(5000), "short"]);
    fitStrings([node], 100, "codePoints");
    const text = textOf(node);
    expect(sizeOf(text, "codePoints")).toBeLessThanOrEqual(100);
    expect(text.startsWith("```\nxxx")).toBe(true);
    expect(text.endsWith("... / short\n```")).toBe(true);
  });

  it("shares one budget among several strings (a message's total)", () => {
    const nodes = [string(["a: ", ""], ["y".repeat(4000)]), string(["b: ", ""], ["z".repeat(4000)]), string(["c"], [])];
    fitStrings(nodes, 6000, "codePoints");
    const sizes = nodes.map((node) => sizeOf(textOf(node), "codePoints"));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(6000);
    expect(Math.abs(sizes[0]! - sizes[1]!)).toBeLessThanOrEqual(1);
  });

  it("cuts a template's own text when it alone is over the limit", () => {
    const node = string(["w".repeat(300), ""], ["value"]);
    fitStrings([node], 256, "codePoints");
    expect(textOf(node)).toBe(`${"w".repeat(253)}...`);
  });

  it("cuts a tail value from the front", () => {
    const node: RenderedString = { type: "string", literals: ["out: ", ""], values: ["first\nlast"], tails: [true] };
    fitStrings([node], 12, "codePoints");
    expect(textOf(node)).toBe("out: ...last");
  });
});
