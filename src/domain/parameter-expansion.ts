/**
 * Dagu's expansion of a value (env, params, a precondition's condition, http fields), as the
 * Dagu 1.30.2 binary does it, without running anything:
 *
 * 1. References it resolves itself come first: `"${NAME}"` in double quotes becomes the value
 *    Go-quoted (`"a \"b\""`), so a JSON body template stays JSON; `${NAME.path}` and
 *    `$NAME.path` read a JSON field; `${NAME}` and `$NAME` of a known name are its value.
 * 2. The rest is shell parameter expansion by mvdan.cc/sh 3.12 reading the value as a heredoc
 *    body: `${X:-d}`, `${X#p}`, `${X/p/r}`, `${X:1:2}`, `${#X}`, `${X^^}`, `$((1+2))`, … An empty
 *    variable counts as unset there (`${EMPTY-d}` is `d`), slices count bytes, and quotes are
 *    literal text outside `${…}`.
 * 3. When mvdan fails — `$(…)`, `${X:?message}`, `${X:=v}` on an unset X, a malformed `${` — the
 *    whole value is expanded by Go's os.ExpandEnv instead: every `${…}` with an operator
 *    becomes empty, `$(` stays as written.
 *
 * Values are data here: an inserted value is never expanded again (Dagu re-reads some). Dagu
 * also runs `` `backticks` `` and falls back to its own process environment for names the run
 * doesn't have (HOME, PATH); here a backtick is text and such a name is unset.
 */

import { escapedRune, goQuote, isGoPrintable } from "./go-fmt.ts";
import { changeCase, quotePattern, removeMatch, replaceMatches } from "./shell-pattern.ts";

export type Variables = {
  /** A variable's value; undefined when the run has none. */
  get(name: string): string | undefined;
  /** `NAME.path` of a variable holding a JSON object or array; undefined when it doesn't hold one. */
  field(name: string, path: string): string | undefined;
};

/** Why mvdan gives up on a value, which then gets os.ExpandEnv's expansion. */
class NotExpandable extends Error {}

type Part =
  | { kind: "text"; text: string } // as written: unquoted, so pattern characters in it are active
  | { kind: "value"; text: string } // a value put in by a reference
  | { kind: "quoted"; text: string } // inside quotes: literal, also in a pattern
  | { kind: "double"; parts: Part[] }
  | { kind: "param"; param: Param }
  | { kind: "arithmetic"; expression: Arithmetic };

type Operator = "-" | ":-" | "+" | ":+" | "=" | ":=" | "?" | ":?" | "#" | "##" | "%" | "%%" | "^" | "^^" | "," | ",,";

type Param = {
  name: string;
  line: number;
  length?: boolean;
  indirect?: boolean;
  /** `${!PREFIX*}`: names by prefix, which Dagu's expander can't list. */
  names?: boolean;
  index?: Arithmetic | "all";
  slice?: { offset: Arithmetic | undefined; length: Arithmetic | undefined };
  replace?: { pattern: Part[]; with: Part[]; all: boolean };
  operation?: { operator: Operator; word: Part[] };
  transform?: "Q" | "E";
};

type Arithmetic =
  | { kind: "operand"; word: Part[] }
  | { kind: "unary"; operator: string; operand: Arithmetic }
  | { kind: "binary"; operator: string; left: Arithmetic; right: Arithmetic }
  | { kind: "ternary"; condition: Arithmetic; then: Arithmetic; otherwise: Arithmetic }
  | { kind: "assignment" };

const NAME_START = /[A-Za-z_]/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SPECIAL_PARAMS = "@*#$?!-";
/** After `${#` or `${!`, these mean the `#` or `!` is the parameter itself. */
const NOT_NAME_START = "}:+=%[]/^,";
/** What may follow a parameter's name inside `${…}`. */
const AFTER_NAME = "}[/:^,@-+=?%#*";
/** A JSON path in `${NAME.path}`: dot keys without operator characters, and `[n]` indices. */
const BRACED_PATH = /^(?:\.[^.[\]}\s:#%/=?+]+|\[\d+\])+$/;
/** A JSON path in bare `$NAME.path` (it runs to the next space, as in Dagu): identifier keys and indices only. */
const BARE_PATH = /^(?:\.[A-Za-z_][A-Za-z0-9_]*|\.\d+|\[\d+\])+$/;

export function expandLikeDagu(template: string, variables: Variables): string {
  if (!/[$\\]/.test(template) && !template.startsWith("~")) return template;
  try {
    const parser = new Parser(template, variables);
    return new Evaluator(variables).literal(parser.document());
  } catch (error) {
    if (error instanceof NotExpandable) return expandLikeGoExpandEnv(template, variables);
    throw error;
  }
}

/** A reference Dagu resolves before mvdan reads the text, at `$`: its value and where it ends. */
function resolvedReferenceAt(
  text: string,
  at: number,
  variables: Variables,
): { value: string; end: number } | undefined {
  const rest = text.slice(at);
  const braced = /^\$\{([A-Za-z0-9_]\w*)(\.[^}]+)\}/.exec(rest);
  if (braced && BRACED_PATH.test(braced[2]!)) {
    const value = variables.field(braced[1]!, braced[2]!);
    if (value !== undefined) return { value, end: at + braced[0].length };
  }
  const bare = /^\$([A-Za-z0-9_]\w*)(\.\S+)/.exec(rest);
  if (bare && BARE_PATH.test(bare[2]!)) {
    const value = variables.field(bare[1]!, bare[2]!);
    if (value !== undefined) return { value, end: at + bare[0].length };
  }
  const simple = /^\$(?:\{([^}]+)\}|([A-Za-z0-9_]+))/.exec(rest);
  const name = simple?.[1] ?? simple?.[2];
  const value = name === undefined ? undefined : variables.get(name);
  return value === undefined ? undefined : { value, end: at + simple![0].length };
}

/**
 * The name of `$NAME`, `$1` or `$?` starting at `from` (after the `$`). Dagu puts the values of
 * known names into the text before anything else reads it, so a name runs on into a value put
 * right after it (`$Ax$B` with B=`yz` reads the variable `Axyz`; `$$B` reads `yz`): `rest` is
 * what remains of that value, as text. A value's other characters are never read as syntax.
 */
function bareNameAt(
  text: string,
  from: number,
  variables: Variables,
  joinValues: boolean,
): { name: string; end: number; rest: string } | undefined {
  let position = from;
  let pending = "";
  const peek = (): string | undefined => {
    while (pending === "" && joinValues && text[position] === "$") {
      const resolved = resolvedReferenceAt(text, position, variables);
      if (!resolved) break;
      pending = resolved.value;
      position = resolved.end;
    }
    return pending === "" ? text[position] : pending[0];
  };
  const take = (): void => {
    if (pending === "") position++;
    else pending = pending.slice(1);
  };
  const first = peek();
  if (first === undefined) return undefined;
  let name = first;
  if (NAME_START.test(first)) {
    take();
    for (let char = peek(); char !== undefined && /\w/.test(char); char = peek()) {
      name += char;
      take();
    }
  } else if (/\d/.test(first) || SPECIAL_PARAMS.includes(first)) {
    take();
  } else {
    return undefined;
  }
  return { name, end: position, rest: pending };
}

/** `"${NAME}"` (or `"${NAME.path}"`) of a known value, at `"`: the value as Go's strconv.Quote writes it. */
function quotedReferenceAt(text: string, at: number, variables: Variables): { value: string; end: number } | undefined {
  const match = /^"\$\{([A-Za-z0-9_]\w*)((?:\.[^}]+)?)\}"/.exec(text.slice(at));
  if (!match) return undefined;
  const [whole, name, path] = match as unknown as [string, string, string];
  const value = path === "" ? variables.get(name) : BRACED_PATH.test(path) ? variables.field(name, path) : undefined;
  return value === undefined ? undefined : { value: goQuote(value), end: at + whole.length };
}

/** The parts of a word being read: literal text gathers until an expansion (or the end) closes it. */
class PartsBuilder {
  readonly #parts: Part[] = [];
  #literal: string;
  readonly #kind: "text" | "quoted";

  constructor(kind: "text" | "quoted", literal = "") {
    this.#kind = kind;
    this.#literal = literal;
  }

  text(text: string): void {
    this.#literal += text;
  }

  expansion(parts: readonly Part[]): void {
    this.#flush();
    this.#parts.push(...parts);
  }

  done(): Part[] {
    this.#flush();
    return this.#parts;
  }

  #flush(): void {
    if (this.#literal !== "") this.#parts.push({ kind: this.#kind, text: this.#literal });
    this.#literal = "";
  }
}

class Parser {
  #position = 0;
  readonly #text: string;
  readonly #variables: Variables;

  constructor(text: string, variables: Variables) {
    this.#text = text;
    this.#variables = variables;
  }

  /** The whole value, read as a heredoc body: only `$`, backslashes and a leading `~` are special. */
  document(): Part[] {
    const text = this.#text;
    const parts = new PartsBuilder("text", this.#tilde(""));
    while (this.#position < text.length) {
      const char = text[this.#position]!;
      if (char === "\\") {
        parts.text(this.#escape());
        continue;
      }
      if (char === '"') {
        const quoted = quotedReferenceAt(text, this.#position, this.#variables);
        if (quoted) {
          parts.text(quoted.value);
          this.#position = quoted.end;
          continue;
        }
      }
      this.#dollarOrCharacter(char, "document", parts);
    }
    return parts.done();
  }

  /** At `$` its expansion, else the character as text (a `$` that expands nothing too); past it either way. */
  #dollarOrCharacter(char: string, context: "document" | "double", parts: PartsBuilder): void {
    const expansion = char === "$" ? this.#dollar(context) : undefined;
    if (expansion) {
      parts.expansion(expansion);
      return;
    }
    parts.text(char);
    this.#position++;
  }

  /**
   * A backslash in the document, at it. It keeps the next character from being read (both stay
   * in the value) and joins a line with the next. Dagu replaces its own references before that
   * reading, so a backslash doesn't stop one: `\$NAME` is a backslash and NAME's value, and when
   * the value is empty the backslash escapes what follows it.
   */
  #escape(): string {
    const text = this.#text;
    this.#position++;
    while (text[this.#position] === "$") {
      const resolved = resolvedReferenceAt(text, this.#position, this.#variables);
      if (!resolved) break;
      this.#position = resolved.end;
      if (resolved.value !== "")
        return resolved.value.startsWith("\n") ? resolved.value.slice(1) : `\\${resolved.value}`;
    }
    const next = text[this.#position];
    if (next === undefined) return "\\";
    const quoted = next === '"' ? quotedReferenceAt(text, this.#position, this.#variables) : undefined;
    if (quoted) {
      this.#position = quoted.end;
      return `\\${quoted.value}`;
    }
    this.#position++;
    return next === "\n" ? "" : `\\${next}`;
  }

  /** `~` or `~/…` at the start of a word (ended by one of `stops`) is HOME, when the run has one. */
  #tilde(stops: string): string {
    const text = this.#text;
    const at = this.#position;
    if (text[at] !== "~") return "";
    const next = text[at + 1];
    if (next !== undefined && next !== "/" && !stops.includes(next)) return "";
    const home = this.#variables.get("HOME");
    if (!home) return "";
    this.#position++;
    return home;
  }

  /** The expansion at `$` (with what remains of a value a name ran into, see bareNameAt), or undefined for a plain `$`. */
  #dollar(context: "document" | "word" | "double" | "arithmetic"): Part[] | undefined {
    const text = this.#text;
    const at = this.#position;
    const resolved = resolvedReferenceAt(text, at, this.#variables);
    if (resolved) {
      this.#position = resolved.end;
      return [{ kind: "value", text: resolved.value }];
    }
    const single = (part: Part): Part[] => [part];
    const next = text[at + 1];
    if (next === "{") return single(this.#braced());
    if (text.startsWith("$((", at)) {
      this.#position += 3;
      const expression = this.#arithmetic();
      this.#expect("))");
      return single({ kind: "arithmetic", expression });
    }
    if (next === "[") {
      this.#position += 2;
      const expression = this.#arithmetic();
      this.#expect("]");
      return single({ kind: "arithmetic", expression });
    }
    if (next === "(") throw new NotExpandable("command substitution");
    if (context === "word" && next === "'") {
      this.#position++;
      return single({ kind: "quoted", text: ansiC(this.#singleQuoted(true)) });
    }
    if (context === "word" && next === '"') {
      this.#position++;
      return single(this.#doubleQuoted());
    }
    // Only the document: Dagu's own substitution doesn't reach into an operator's word.
    const bare = bareNameAt(text, at + 1, this.#variables, context === "document");
    if (!bare) return undefined;
    this.#position = bare.end;
    const param: Part = { kind: "param", param: { name: bare.name, line: this.#line(at, bare.name) } };
    return bare.rest === "" ? [param] : [param, { kind: "value", text: bare.rest }];
  }

  /** `${…}`, at `$`. */
  #braced(): Part {
    const text = this.#text;
    const start = this.#position;
    const param: Param = { name: "", line: 0 };
    this.#position += 2;
    const first = text[this.#position];
    const second = text[this.#position + 1];
    if (first === "#" && second !== undefined && !NOT_NAME_START.includes(second)) {
      // `${#-d}` and `${#?m}` are the parameter `#` with an operator, not a length.
      const operatorAfterHash = (second === "-" || second === "?") && text[this.#position + 2] !== "}";
      if (!operatorAfterHash) {
        param.length = true;
        this.#position++;
      }
    } else if (first === "!" && second !== undefined && !NOT_NAME_START.includes(second)) {
      param.indirect = true;
      this.#position++;
    }
    const rest = text.slice(this.#position);
    const special = rest[0] !== undefined && SPECIAL_PARAMS.includes(rest[0]) ? rest[0] : undefined;
    const name = NAME.exec(rest)?.[0] ?? /^\d+/.exec(rest)?.[0] ?? special;
    if (!name) throw new NotExpandable("parameter expansion requires a name");
    param.name = name;
    param.line = this.#line(start, name);
    this.#position += name.length;
    const after = text[this.#position];
    if (after === undefined || !AFTER_NAME.includes(after)) throw new NotExpandable("invalid parameter name");
    if (text[this.#position] === "[") {
      this.#position++;
      if ((text[this.#position] === "@" || text[this.#position] === "*") && text[this.#position + 1] === "]") {
        param.index = "all";
        this.#position++;
      } else {
        param.index = this.#arithmetic();
      }
      this.#expect("]");
    }
    const char = text[this.#position];
    if (char === "}") {
      this.#position++;
      return { kind: "param", param };
    }
    if (param.length) throw new NotExpandable("a length takes no operator");
    if (param.indirect && (char === "*" || char === "@") && text[this.#position + 1] === "}") {
      param.names = true;
      this.#position += 2;
      return { kind: "param", param };
    }
    if (char === "/") {
      const all = text[this.#position + 1] === "/";
      this.#position += all ? 2 : 1;
      const pattern = this.#word("/}");
      const replacement = this.#consume("/") ? this.#word("}") : [];
      param.replace = { pattern, with: replacement, all };
    } else if (char === ":" && !/^[-=?+]$/.test(text[this.#position + 1] ?? "")) {
      this.#position++;
      const offset = text[this.#position] === ":" ? undefined : this.#arithmetic();
      const length = this.#consume(":") ? this.#arithmetic() : undefined;
      param.slice = { offset, length };
    } else if (char === "@") {
      this.#position++;
      const letter = text[this.#position];
      // Dagu 1.30.2 crashes on the other letters.
      if ((letter !== "Q" && letter !== "E") || text[this.#position + 1] !== "}") {
        throw new NotExpandable(`\${…@${letter}} is not expanded`);
      }
      param.transform = letter;
      this.#position++;
    } else {
      const operator = /^(?::[-=?+]|##|%%|\^\^|,,|[-+=?#%^,])/.exec(text.slice(this.#position))?.[0];
      if (!operator) throw new NotExpandable("not a parameter expansion operator");
      this.#position += operator.length;
      param.operation = { operator: operator as Operator, word: this.#word("}") };
    }
    this.#expect("}");
    return { kind: "param", param };
  }

  /** An operator's word, up to an unquoted character of `stops`. */
  #word(stops: string): Part[] {
    const text = this.#text;
    const parts = new PartsBuilder("text", this.#tilde(stops));
    for (;;) {
      const char = text[this.#position];
      if (char === undefined) throw new NotExpandable("unclosed ${");
      if (stops.includes(char)) break;
      if (char === "\\") {
        const next = text[this.#position + 1];
        if (next === undefined) throw new NotExpandable("unclosed ${");
        if (next !== "\n") parts.text(`\\${next}`); // kept: mvdan doesn't unescape an unquoted word
        this.#position += 2;
        continue;
      }
      const expansion =
        char === "'"
          ? [{ kind: "quoted", text: this.#singleQuoted(false) } as const]
          : char === '"'
            ? [this.#doubleQuoted()]
            : char === "$"
              ? this.#dollar("word")
              : undefined;
      if (expansion) {
        parts.expansion(expansion);
        continue;
      }
      parts.text(char);
      this.#position++;
    }
    return parts.done();
  }

  /** `'…'` (or the body of `$'…'`), at the quote. */
  #singleQuoted(ansi: boolean): string {
    const text = this.#text;
    const start = this.#position + 1;
    let end = start;
    while (end < text.length && text[end] !== "'") end += ansi && text[end] === "\\" ? 2 : 1;
    if (end >= text.length) throw new NotExpandable("unclosed quote");
    this.#position = end + 1;
    return text.slice(start, end);
  }

  /** `"…"` inside an operator's word, at the quote. */
  #doubleQuoted(): Part {
    const text = this.#text;
    const parts = new PartsBuilder("quoted");
    this.#position++;
    for (;;) {
      const char = text[this.#position];
      if (char === undefined) throw new NotExpandable("unclosed quote");
      if (char === '"') break;
      if (char === "\\") {
        const next = text[this.#position + 1];
        if (next === undefined) throw new NotExpandable("unclosed quote");
        if (next !== "\n") parts.text('\\$`"'.includes(next) ? next : `\\${next}`);
        this.#position += 2;
        continue;
      }
      this.#dollarOrCharacter(char, "double", parts);
    }
    this.#position++;
    return { kind: "double", parts: parts.done() };
  }

  /** Whether `token` comes next, consumed if so. */
  #consume(token: string): boolean {
    if (!this.#text.startsWith(token, this.#position)) return false;
    this.#position += token.length;
    return true;
  }

  #expect(token: string): void {
    this.#skipSpaces();
    if (!this.#text.startsWith(token, this.#position)) throw new NotExpandable(`expected ${token}`);
    this.#position += token.length;
  }

  /** The line `at` is on, which only `LINENO` needs. */
  #line(at: number, name: string): number {
    if (name !== "LINENO") return 0;
    let line = 1;
    for (
      let index = this.#text.indexOf("\n");
      index !== -1 && index < at;
      index = this.#text.indexOf("\n", index + 1)
    ) {
      line++;
    }
    return line;
  }

  // Arithmetic, with bash's precedence (lowest first).

  #arithmetic(): Arithmetic {
    let expression = this.#assignment();
    while (this.#operator([","])) {
      expression = { kind: "binary", operator: ",", left: expression, right: this.#assignment() };
    }
    return expression;
  }

  #assignment(): Arithmetic {
    const target = this.#ternary();
    // Assigning needs a writable environment; Dagu's expander has none.
    if (this.#operator(["<<=", ">>=", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|="]) || this.#assignOperator()) {
      this.#assignment();
      return { kind: "assignment" };
    }
    return target;
  }

  #assignOperator(): boolean {
    this.#skipSpaces();
    const text = this.#text;
    if (text[this.#position] !== "=" || text[this.#position + 1] === "=") return false;
    this.#position++;
    return true;
  }

  #ternary(): Arithmetic {
    const condition = this.#binary(0);
    if (!this.#operator(["?"])) return condition;
    const then = this.#assignment();
    if (!this.#operator([":"])) throw new NotExpandable("expected : in ?:");
    return { kind: "ternary", condition, then, otherwise: this.#ternary() };
  }

  static readonly #OPERATORS = "** << >> <= >= == != && || ++ -- += -= *= /= %= &= ^= |= <<= >>=".split(" ");

  static readonly #LEVELS: readonly (readonly string[])[] = [
    ["||"],
    ["&&"],
    ["|"],
    ["^"],
    ["&"],
    ["==", "!="],
    ["<=", ">=", "<", ">"],
    ["<<", ">>"],
    ["+", "-"],
    ["*", "/", "%"],
  ];

  #binary(level: number): Arithmetic {
    const operators = Parser.#LEVELS[level];
    if (!operators) return this.#power();
    let left = this.#binary(level + 1);
    for (;;) {
      const operator = this.#operator(operators);
      if (!operator) return left;
      left = { kind: "binary", operator, left, right: this.#binary(level + 1) };
    }
  }

  #power(): Arithmetic {
    const base = this.#unary();
    return this.#operator(["**"]) ? { kind: "binary", operator: "**", left: base, right: this.#power() } : base;
  }

  #unary(): Arithmetic {
    if (this.#operator(["++", "--"])) {
      this.#unary();
      return { kind: "assignment" };
    }
    const operator = this.#operator(["+", "-", "!", "~"]);
    if (operator) return { kind: "unary", operator, operand: this.#unary() };
    const operand = this.#primary();
    if (this.#operator(["++", "--"])) return { kind: "assignment" };
    return operand;
  }

  #primary(): Arithmetic {
    if (this.#operator(["("])) {
      const inner = this.#arithmetic();
      this.#expect(")");
      return inner;
    }
    this.#skipSpaces();
    const text = this.#text;
    const builder = new PartsBuilder("text");
    for (;;) {
      const char = text[this.#position];
      if (char !== undefined && /[A-Za-z0-9_.]/.test(char)) {
        builder.text(char);
        this.#position++;
        continue;
      }
      const expansion = char === "$" ? this.#dollar("arithmetic") : undefined;
      if (!expansion) break;
      builder.expansion(expansion);
    }
    const parts = builder.done();
    if (parts.length === 0) throw new NotExpandable("expected an operand");
    return { kind: "operand", word: parts };
  }

  /** The first of `operators` at the position (longest first where one is a prefix of another), consumed. */
  #operator(operators: readonly string[]): string | undefined {
    this.#skipSpaces();
    const text = this.#text;
    const found = operators.find((operator) => text.startsWith(operator, this.#position));
    if (!found) return undefined;
    const longer = Parser.#OPERATORS.some(
      (other) => other.length > found.length && other.startsWith(found) && text.startsWith(other, this.#position),
    );
    if (longer) return undefined;
    this.#position += found.length;
    return found;
  }

  #skipSpaces(): void {
    while (/[ \t\n]/.test(this.#text[this.#position] ?? "")) this.#position++;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const int64 = (value: bigint): bigint => BigInt.asIntN(64, value);

class Evaluator {
  readonly #variables: Variables;

  constructor(variables: Variables) {
    this.#variables = variables;
  }

  /** mvdan's Literal: the text of a word. */
  literal(parts: readonly Part[]): string {
    let out = "";
    for (const part of parts) out += this.#part(part);
    return out;
  }

  /** mvdan's Pattern: a word as a pattern, its quoted parts matching themselves. */
  #pattern(parts: readonly Part[]): string {
    let out = "";
    for (const part of parts) {
      out += part.kind === "quoted" || part.kind === "double" ? quotePattern(this.#part(part)) : this.#part(part);
    }
    return out;
  }

  #part(part: Part): string {
    switch (part.kind) {
      case "text":
      case "value":
      case "quoted":
        return part.text;
      case "double":
        return this.literal(part.parts);
      case "param":
        return this.#param(part.param);
      case "arithmetic":
        return String(this.#arithmetic(part.expression));
    }
  }

  /** A variable as mvdan sees it through Dagu's lookup: an empty value is unset. */
  #value(name: string): string | undefined {
    const value = this.#variables.get(name);
    return value === "" ? undefined : value;
  }

  #param(param: Param): string {
    const value = param.name === "LINENO" ? String(param.line) : this.#value(param.name);
    const set = value !== undefined;
    const offset = param.slice?.offset && this.#arithmetic(param.slice.offset);
    const length = param.slice?.length && this.#arithmetic(param.slice.length);

    let text = value ?? "";
    let elements = [text];
    if (param.index === "all") {
      if (!set) elements = [];
    } else if (param.index) {
      text = set && this.#arithmetic(param.index) === 0n ? value : "";
      elements = [text];
    }

    if (param.length) return String(param.index === "all" ? elements.length : [...text].length);
    if (param.indirect) {
      if (param.names) return "";
      if (!set) throw new NotExpandable("invalid indirect expansion");
      return this.#variables.get(text) ?? "";
    }
    if (param.slice) return sliceBytes(text, offset, length);
    if (param.replace) {
      const pattern = this.#pattern(param.replace.pattern);
      if (pattern === "") return text;
      return replaceMatches(text, pattern, this.literal(param.replace.with), param.replace.all);
    }
    if (param.transform === "Q") return quoteForBash(text);
    if (param.transform === "E") return unescapeGo(text);
    if (!param.operation) return text;

    const argument = this.literal(param.operation.word);
    switch (param.operation.operator) {
      case ":+":
        return text === "" ? "" : set ? argument : text;
      case "+":
        return set ? argument : text;
      case "-":
        return set || text !== "" ? text : argument;
      case ":-":
        return text === "" ? argument : text;
      case "?":
      case ":?":
        if ((param.operation.operator === "?" && set) || text !== "") return text;
        throw new NotExpandable(`${param.name}: ${argument}`);
      case "=":
      case ":=":
        if ((param.operation.operator === "=" && set) || text !== "") return text;
        throw new NotExpandable("the environment is read-only");
      case "#":
      case "##":
      case "%":
      case "%%": {
        const operator = param.operation.operator;
        const from = operator.startsWith("#") ? "start" : "end";
        const shortest = operator.length === 1;
        return elements.map((element) => removeMatch(element, argument, from, shortest)).join(" ");
      }
      case "^":
      case "^^":
      case ",":
      case ",,": {
        const operator = param.operation.operator;
        const to = operator.startsWith("^") ? "upper" : "lower";
        return elements.map((element) => changeCase(element, argument, to, operator.length === 2)).join(" ");
      }
    }
  }

  #arithmetic(expression: Arithmetic): bigint {
    switch (expression.kind) {
      case "operand":
        return this.#operand(this.literal(expression.word));
      case "assignment":
        throw new NotExpandable("the environment is read-only");
      case "ternary":
        // mvdan takes the first branch only when the condition is exactly 1.
        return this.#arithmetic(expression.condition) === 1n
          ? this.#arithmetic(expression.then)
          : this.#arithmetic(expression.otherwise);
      case "unary": {
        const operand = this.#arithmetic(expression.operand);
        if (expression.operator === "!") return operand === 0n ? 1n : 0n;
        if (expression.operator === "~") return int64(~operand);
        return expression.operator === "-" ? int64(-operand) : operand;
      }
      case "binary":
        return binary(expression.operator, this.#arithmetic(expression.left), this.#arithmetic(expression.right));
    }
  }

  /** An operand: a name is followed to its value (and that to its value…), then read as a decimal integer. */
  #operand(text: string): bigint {
    let current = text;
    for (let depth = 0; VALID_NAME.test(current) && depth < 100; depth++) {
      const value = this.#value(current);
      if (value === undefined) break;
      current = value;
    }
    const digits = /^[+-]?\d+$/.exec(current.trim())?.[0];
    if (digits === undefined) return 0n;
    const number = BigInt(digits);
    return number > INT64_MAX ? INT64_MAX : number < INT64_MIN ? INT64_MIN : number;
  }
}

function binary(operator: string, left: bigint, right: bigint): bigint {
  const flag = (condition: boolean) => (condition ? 1n : 0n);
  switch (operator) {
    case "+":
      return int64(left + right);
    case "-":
      return int64(left - right);
    case "*":
      return int64(left * right);
    case "/":
    case "%":
      if (right === 0n) throw new NotExpandable("division by zero");
      return int64(operator === "/" ? left / right : left % right);
    case "**": {
      let result = 1n;
      for (let base = left, exponent = right; exponent > 0n; exponent >>= 1n, base = int64(base * base)) {
        if (exponent & 1n) result = int64(result * base);
      }
      return result;
    }
    case "<<":
    case ">>": {
      const count = BigInt.asUintN(64, right);
      if (count >= 64n) return operator === "<<" || left >= 0n ? 0n : -1n;
      return int64(operator === "<<" ? left << count : left >> count);
    }
    case "==":
      return flag(left === right);
    case "!=":
      return flag(left !== right);
    case "<":
      return flag(left < right);
    case "<=":
      return flag(left <= right);
    case ">":
      return flag(left > right);
    case ">=":
      return flag(left >= right);
    case "&":
      return left & right;
    case "|":
      return left | right;
    case "^":
      return left ^ right;
    case "&&":
      return flag(left !== 0n && right !== 0n);
    case "||":
      return flag(left !== 0n || right !== 0n);
    default: // ","
      return right;
  }
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * `${X:offset:length}` counts bytes of UTF-8, as Go slices strings. A negative offset or length
 * counts from the end; past the start it means the end (`${X: -20}` of a shorter X is empty).
 * A cut through a character leaves U+FFFD (Dagu leaves the broken byte).
 */
function sliceBytes(text: string, offset: bigint | undefined, length: bigint | undefined): string {
  let bytes = utf8.encode(text);
  const position = (n: bigint, size: number): number => {
    const count = BigInt(size);
    if (n < 0n) return n + count < 0n ? size : Number(n + count);
    return n > count ? size : Number(n);
  };
  if (offset !== undefined) bytes = bytes.subarray(position(offset, bytes.length));
  if (length !== undefined) bytes = bytes.subarray(0, position(length, bytes.length));
  return fromUtf8.decode(bytes);
}

const BASH_KEYWORDS = new Set(
  "! [[ ]] case coproc do done else esac fi for function if in select then time until while { }".split(" "),
);

/** `${X@Q}`: mvdan's syntax.Quote for bash. */
function quoteForBash(text: string): string {
  if (text === "") return "''";
  if (text.includes("\0")) throw new NotExpandable("a NUL can't be quoted");
  const chars = [...text];
  const shellChars = chars.some((char) => ";\"'()$|&><` \t\r\n\\#{~*?[=".includes(char));
  const nonPrintable = chars.some((char) => !isGoPrintable(char));
  if (!shellChars && !nonPrintable && !BASH_KEYWORDS.has(text)) return text;
  if (nonPrintable) {
    let out = "$'";
    for (const char of chars) out += escapedRune(char, "'");
    return `${out}'`;
  }
  if (!text.includes("'")) return `'${text}'`;
  return `"${text.replace(/["\\`$]/g, "\\$&")}"`;
}

/** `${X@E}`: backslash escapes read as Go's strconv.UnquoteChar reads them. */
function unescapeGo(text: string): string {
  const named: Readonly<Record<string, string>> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };
  let out = "";
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (char !== "\\") {
      const codePoint = text.codePointAt(index)!;
      out += String.fromCodePoint(codePoint);
      index += codePoint > 0xffff ? 2 : 1;
      continue;
    }
    const letter = text[index + 1];
    const digits = { x: 2, u: 4, U: 8 }[letter as "x" | "u" | "U"];
    if (letter !== undefined && named[letter]) {
      out += named[letter];
      index += 2;
    } else if (letter === "\\") {
      out += "\\";
      index += 2;
    } else if (digits !== undefined && /^[0-9a-fA-F]+$/.test(text.slice(index + 2, index + 2 + digits))) {
      const code = Number.parseInt(text.slice(index + 2, index + 2 + digits), 16);
      const surrogate = code >= 0xd800 && code <= 0xdfff;
      if (text.slice(index + 2, index + 2 + digits).length < digits || code > 0x10ffff || surrogate) {
        throw new NotExpandable("invalid escape");
      }
      out += String.fromCodePoint(code);
      index += 2 + digits;
    } else if (letter !== undefined && /^[0-7]{3}$/.test(text.slice(index + 1, index + 4))) {
      const code = Number.parseInt(text.slice(index + 1, index + 4), 8);
      if (code > 255) throw new NotExpandable("invalid escape");
      out += String.fromCharCode(code);
      index += 4;
    } else {
      // Go stops at an invalid escape with a NUL, which Dagu then can't put in an environment.
      throw new NotExpandable("invalid escape");
    }
  }
  return out;
}

/** The body of `$'…'` in an operator's word, as mvdan's Format reads its escapes. */
function ansiC(body: string): string {
  const named: Readonly<Record<string, string>> = {
    a: "\x07",
    b: "\b",
    e: "\x1b",
    E: "\x1b",
    f: "\f",
    n: "\n",
    r: "\r",
    t: "\t",
    v: "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
  };
  let out = "";
  for (let index = 0; index < body.length; index++) {
    const char = body[index]!;
    const letter = body[index + 1];
    if (char !== "\\" || letter === undefined) {
      out += char;
      continue;
    }
    index++;
    if (named[letter]) {
      out += named[letter];
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(body.slice(index));
    if (octal) {
      out += String.fromCharCode(Math.min(Number.parseInt(octal[0], 8), 0xff));
      index += octal[0].length - 1;
      continue;
    }
    const width = { x: 2, u: 4, U: 8 }[letter as "x" | "u" | "U"];
    const digits = width === undefined ? undefined : new RegExp(`^[0-9a-fA-F]{1,${width}}`).exec(body.slice(index + 1));
    if (digits) {
      const code = Number.parseInt(digits[0], 16);
      if (code === 0) return out; // like bash, \x00 ends the string
      const valid = code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      out += letter === "x" ? String.fromCharCode(code) : valid ? String.fromCodePoint(code) : "\uFFFD";
      index += digits[0].length;
      continue;
    }
    out += `\\${letter}`;
  }
  return out;
}

/**
 * Go's os.ExpandEnv over the value, after Dagu's own references: `${anything}` is the variable
 * named `anything` (so `${X:-d}` is empty), `$NAME` and `$1`, `$?`… are variables too, an
 * unclosed `${` and an empty `${}` disappear, and any other `$` stays.
 */
function expandLikeGoExpandEnv(template: string, variables: Variables): string {
  let out = "";
  let index = 0;
  while (index < template.length) {
    const char = template[index]!;
    const resolved =
      char === '"'
        ? quotedReferenceAt(template, index, variables)
        : char === "$"
          ? resolvedReferenceAt(template, index, variables)
          : undefined;
    if (resolved) {
      out += resolved.value;
      index = resolved.end;
      continue;
    }
    if (char !== "$" || index + 1 >= template.length) {
      out += char;
      index++;
      continue;
    }
    const rest = template.slice(index + 1);
    if (rest[0] === "{") {
      const close = rest.indexOf("}");
      const special = rest.length > 2 && SPECIAL_PARAMS.includes(rest[1]!) && rest[2] === "}";
      const name = special ? rest[1]! : close === -1 ? "" : rest.slice(1, close);
      out += name === "" ? "" : (variables.get(name) ?? "");
      index += 1 + (special ? 3 : close === -1 ? 1 : close + 1);
      continue;
    }
    const bare = bareNameAt(template, index + 1, variables, true);
    if (!bare) {
      out += "$";
      index++;
      continue;
    }
    out += (variables.get(bare.name) ?? "") + bare.rest;
    index = bare.end;
  }
  return out;
}
