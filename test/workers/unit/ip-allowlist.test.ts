import { describe, expect, it } from "vitest";
import { ipAllowed, parseCidr } from "../../../src/domain/ip-allowlist.ts";

const canonical = (text: string) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.cidr;
};

describe("webhook IP allowlists", () => {
  it("entries are read into one canonical form", () => {
    expect(canonical("203.0.113.0/24")).toBe("203.0.113.0/24");
    expect(canonical(" 198.51.100.7 ")).toBe("198.51.100.7/32");
    expect(canonical("2001:DB8::/32")).toBe("2001:db8::/32");
    expect(canonical("2001:db8:0:0:0:0:0:1")).toBe("2001:db8::1/128");
    expect(canonical("::/0")).toBe("::/0");
    expect(canonical("0.0.0.0/0")).toBe("0.0.0.0/0");
    expect(canonical("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8");
  });

  it("anything else is refused, naming what is wrong", () => {
    for (const bad of [
      "",
      "10.0.0",
      "10.0.0.256",
      "010.0.0.1",
      "10.0.0.0/33",
      "10.0.0.0/x",
      "1::2::3",
      "fe80::1%eth0",
      "::/129",
      "a/b/c",
    ])
      expect(parseCidr(bad).ok, bad).toBe(false);
    expect(parseCidr("10.0.0.1/8")).toEqual({
      ok: false,
      message: "'10.0.0.1/8': host bits are set after /8: did you mean 10.0.0.0/8?",
    });
    expect(parseCidr("2001:db8::1/32")).toMatchObject({ ok: false, message: expect.stringContaining("2001:db8::/32") });
  });

  it("IPv4 and IPv6 addresses match their ranges, and only theirs", () => {
    const list = ["203.0.113.0/24", "2001:db8:1234::/48"].map(canonical);
    expect(ipAllowed("203.0.113.200", list)).toBe(true);
    expect(ipAllowed("203.0.114.1", list)).toBe(false);
    expect(ipAllowed("2001:db8:1234:ffff::9", list)).toBe(true);
    expect(ipAllowed("2001:db8:1235::9", list)).toBe(false);
    // An IPv4-mapped IPv6 client is its IPv4 address.
    expect(ipAllowed("::ffff:203.0.113.9", list)).toBe(true);
    expect(ipAllowed("::ffff:cb00:7109", list)).toBe(true);
    expect(ipAllowed(undefined, list)).toBe(false);
    expect(ipAllowed("not an ip", list)).toBe(false);
    expect(ipAllowed("203.0.113.9", [])).toBe(false);
    expect(ipAllowed("10.1.2.3", [canonical("10.0.0.0/9")])).toBe(true);
    expect(ipAllowed("10.128.0.1", [canonical("10.0.0.0/9")])).toBe(false);
  });
});
