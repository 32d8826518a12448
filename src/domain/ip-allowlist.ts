/**
 * A webhook's IP allowlist: CIDRs (`203.0.113.0/24`, `2001:db8::/32`; a bare address is one
 * host) that a trigger's client address (CF-Connecting-IP) must fall in. IPv4 and IPv6 are
 * compared as bytes; an IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) is its IPv4 address.
 */

export const MAX_ALLOWED_IPS = 100;

type Address = { family: 4 | 6; bytes: Uint8Array };
type Range = Address & { prefix: number };

export type CidrParse = { ok: true; cidr: string } | { ok: false; message: string };

/** Checks one entry and gives its canonical text (lower-case, the prefix always written). */
export function parseCidr(text: string): CidrParse {
  const range = toRange(text.trim());
  if (typeof range === "string") return { ok: false, message: `'${text}': ${range}` };
  return { ok: true, cidr: `${formatAddress(range)}/${range.prefix}` };
}

/** Whether `ip` is in one of the (canonical, already checked) CIDRs; an unparsable ip is in none. */
export function ipAllowed(ip: string | undefined, cidrs: readonly string[]): boolean {
  const address = ip === undefined ? undefined : parseAddress(ip.trim());
  if (!address) return false;
  return cidrs.some((cidr) => {
    const range = toRange(cidr);
    return typeof range !== "string" && range.family === address.family && inRange(address.bytes, range);
  });
}

function toRange(text: string): Range | string {
  const [host = "", prefixText, ...rest] = text.split("/");
  if (rest.length > 0) return "more than one '/'";
  const address = parseAddress(host);
  if (!address) return "not an IPv4 or IPv6 address";
  // An IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) counts its prefix in IPv6 bits.
  const mapped = address.family === 4 && host.includes(":") ? 96 : 0;
  const bits = address.bytes.length * 8 + mapped;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return "the prefix length must be a number";
  const prefix = (prefixText === undefined ? bits : Number(prefixText)) - mapped;
  if (prefix > bits - mapped)
    return `the prefix length of an IPv${mapped ? 6 : address.family} range is at most ${bits}`;
  if (prefix < 0) return "an IPv4-mapped range needs a prefix length of at least 96";
  const range = { ...address, prefix };
  if (hostBitsSet(address.bytes, prefix)) {
    const network = maskBytes(address.bytes, prefix);
    return `host bits are set after /${prefix}: did you mean ${formatAddress({ ...address, bytes: network })}/${prefix}?`;
  }
  return range;
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  const masked = maskBytes(bytes, range.prefix);
  const network = maskBytes(range.bytes, range.prefix);
  return masked.every((byte, index) => byte === network[index]);
}

function hostBitsSet(bytes: Uint8Array, prefix: number): boolean {
  const masked = maskBytes(bytes, prefix);
  return masked.some((byte, index) => byte !== bytes[index]);
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  return bytes.map((byte, index) => {
    const keep = Math.max(0, Math.min(8, prefix - index * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

function parseAddress(text: string): Address | undefined {
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    if (!bytes) return undefined;
    const mapped = bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes && { family: 4, bytes };
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  // No leading zeros: `010` is octal to some parsers and decimal to others.
  if (!parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) return undefined;
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.includes("%")) return undefined; // a zone index names a local interface, never a client
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === "") return [];
    const words: number[] = [];
    const pieces = half.split(":");
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (!v4) return undefined;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) words.push(Number.parseInt(piece, 16));
      else return undefined;
    }
    return words;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return Uint8Array.from(words.flatMap((word) => [word >> 8, word & 0xff]));
}

function formatAddress(address: Address): string {
  if (address.family === 4) return [...address.bytes].join(".");
  const words = Array.from(
    { length: 8 },
    (_, index) => (address.bytes[index * 2]! << 8) | address.bytes[index * 2 + 1]!,
  );
  // RFC 5952: the longest run (of two or more) of zero groups becomes `::`.
  let best = { start: -1, length: 0 };
  for (let start = 0; start < 8; ) {
    if (words[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && words[end] === 0) end++;
    if (end - start > best.length && end - start >= 2) best = { start, length: end - start };
    start = end;
  }
  const hex = words.map((word) => word.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}
