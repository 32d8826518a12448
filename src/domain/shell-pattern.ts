/**
 * Shell patterns (`*`, `?`, `[…]`, `[!…]`, `[[:alpha:]]`, `\*`) in `${X#pattern}`,
 * `${X/pattern/…}` and `${X^^pattern}`, matched the way Dagu's expander (mvdan.cc/sh 3.12)
 * matches them: it turns a pattern into a Go regular expression, so these follow its quirks
 * rather than bash's. An invalid pattern (`[` unclosed, an unknown class) leaves the value as it
 * is. `*` and `?` match newlines too.
 */

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

/** Characters that mean something to a regular expression; mvdan takes a pattern without any as the expression itself. */
const REGEX_SYNTAX = /[*?[\\.+()|\]{}^$]/;
/** Escapes a class may hold: the same in Go's syntax and in a JavaScript `u` expression. */
const CLASS_ESCAPES = /^[\\\]\-[^$.*+?(){}|/dswDSWfnrtv]$/;

const escapeChar = (char: string): string => (/[\\^$.*+?()[\]{}|/]/.test(char) ? `\\${char}` : char);

/** The expression source matching `pattern` (lazily with `shortest`), or undefined when it is invalid. */
function patternSource(pattern: string, shortest: boolean): string | undefined {
  if (!REGEX_SYNTAX.test(pattern)) return pattern;
  const chars = [...pattern];
  let out = "";
  let index = 0;
  const next = (): string | undefined => chars[index++];
  while (index < chars.length) {
    const char = next()!;
    if (char === "*") out += shortest ? "[\\s\\S]*?" : "[\\s\\S]*";
    else if (char === "?") out += "[\\s\\S]";
    else if (char === "\\") {
      const escaped = next();
      if (escaped === undefined) return undefined;
      out += escapeChar(escaped);
    } else if (char === "[") {
      const rest = chars.slice(index).join("");
      if (rest.startsWith("[.") || rest.startsWith("[=")) return undefined;
      if (rest.startsWith("[:")) {
        const end = rest.indexOf(":]]");
        const range = end === -1 ? undefined : POSIX_CLASSES[rest.slice(2, end)];
        if (range === undefined) return undefined;
        out += `[${range}]`;
        index += [...rest.slice(0, end + 3)].length;
        continue;
      }
      let member = next();
      out += "[";
      if (member === "!" || member === "^") {
        out += "^";
        member = next();
      }
      if (member === "]") {
        out += "\\]";
        member = next();
      }
      for (;;) {
        if (member === undefined) return undefined;
        if (member === "]") break;
        if (member === "\\") {
          const escaped = next();
          if (escaped === undefined || !CLASS_ESCAPES.test(escaped)) return undefined;
          out += `\\${escaped}`;
        } else if (member === "[" && chars.slice(index).join("").startsWith(":")) {
          const rest = chars.slice(index).join("");
          const end = rest.indexOf(":]");
          const range = end === -1 ? undefined : POSIX_CLASSES[rest.slice(1, end)];
          if (range === undefined) return undefined;
          out += range;
          index += [...rest.slice(0, end + 2)].length;
        } else {
          out += member === "[" ? "\\[" : member;
        }
        member = next();
      }
      out += "]";
    } else {
      out += escapeChar(char);
    }
  }
  return out;
}

function compile(source: string | undefined, flags = ""): RegExp | undefined {
  if (source === undefined) return undefined;
  try {
    return new RegExp(source, `u${flags}`);
  } catch {
    return undefined; // e.g. a range written backwards, which Go refuses too
  }
}

/** `${X#p}`, `${X##p}`, `${X%p}`, `${X%%p}`: the value without the shortest or longest matching prefix or suffix. */
export function removeMatch(value: string, pattern: string, from: "start" | "end", shortest: boolean): string {
  const source = patternSource(pattern, shortest);
  if (source === undefined) return value;
  // As in mvdan: the shortest suffix is found by a greedy prefix that, being outside the
  // pattern's (?s) group there, does not cross a newline.
  const regex = compile(from === "start" ? `^(${source})` : shortest ? `[^\\n]*(${source})$` : `(${source})$`);
  const match = regex?.exec(value);
  if (!match) return value;
  const removed = match[1]!.length;
  return from === "start" ? value.slice(removed) : value.slice(0, value.length - removed);
}

/**
 * `${X/p/with}` and `${X//p/with}`. Matches are found as Go's FindAllStringIndex finds them: an
 * empty match right after a previous one doesn't count (replacing every `*` by `Z` gives `Z`, not
 * `ZZ`). `/#` and `/%` are not anchors here: the pattern simply starts with `#` or `%`.
 */
export function replaceMatches(value: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === "") return value;
  const regex = compile(patternSource(pattern, false), "g");
  if (!regex) return value;
  let out = "";
  let copied = 0;
  let position = 0;
  let previousEnd = -1;
  while (position <= value.length) {
    regex.lastIndex = position;
    const match = regex.exec(value);
    if (!match) break;
    const start = match.index;
    const end = start + match[0].length;
    const accepted = !(end === start && start === previousEnd);
    if (end === position) {
      const codePoint = value.codePointAt(position);
      position += codePoint === undefined ? 1 : codePoint > 0xffff ? 2 : 1;
    } else {
      position = end;
    }
    previousEnd = end;
    if (!accepted) continue;
    out += value.slice(copied, start) + replacement;
    copied = end;
    if (!all) break;
  }
  return out + value.slice(copied);
}

/**
 * `${X^p}`, `${X^^p}`, `${X,p}`, `${X,,p}`: the first (or every) character matching the
 * pattern (any character when it is empty) changed to upper or lower case. As in mvdan, `^`
 * changes the first character that matches, not only a first character that matches.
 */
export function changeCase(value: string, pattern: string, to: "upper" | "lower", all: boolean): string {
  const regex = compile(patternSource(pattern, false));
  if (!regex) return value;
  const chars = [...value];
  for (const [index, char] of chars.entries()) {
    if (!regex.test(char)) continue;
    const changed = to === "upper" ? char.toUpperCase() : char.toLowerCase();
    // Go maps one character to one (`ß` stays `ß`).
    if ([...changed].length === 1) chars[index] = changed;
    if (!all) break;
  }
  return chars.join("");
}

/** mvdan's QuoteMeta: quoted text in a pattern matches itself. */
export function quotePattern(text: string): string {
  return text.replace(/[*?[\\]/g, "\\$&");
}
