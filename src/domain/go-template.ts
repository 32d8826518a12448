/**
 * Go's text/template, as Dagu runs it for `action: template.render` (`template.New("template")
 * .Option("missingkey=error").Funcs(…).Parse(text)`, then `Execute` with the step's data), on the
 * values of ./go-values.ts. Written from Go's own lexer, parser and executor (go1.24
 * src/text/template), so spacing, trimming, truth, comparisons and printing follow them; its
 * tests compare every case with what Go printed (test/workers/unit/template-render.test.ts).
 *
 * Supported: text, `{{- … -}}`, comments, pipelines, fields (`.a.b`), variables (`$x :=`,
 * `$x =`), `if`/`else if`/`else`, `with`/`else with`/`else`, `range` (slices, maps in key order,
 * integers; `$i, $v :=`, `else`, `break`, `continue`), parenthesised pipelines, and the
 * functions of a FunctionSet (./template-functions.ts). Refused at parse time, naming the
 * construct: `define`, `template` and `block` (one template per step here), complex numbers,
 * hexadecimal floats, a string whose escapes aren't UTF-8, and what the function set doesn't
 * run (a function, a printf format). Everything Go refuses is refused with Go's message.
 */
import { goQuote, goString } from "./go-fmt.ts";
import { compareCodePoints } from "./go-json.ts";
import {
  GoInt,
  GoSlice,
  type GoValue,
  goTruth,
  goTypeName,
  isGoMap,
  NIL_MAP,
  utf8Bytes,
  utf8Length,
} from "./go-values.ts";

/** The name Dagu gives its template: it appears in every error (`template: template:1: …`). */
const TEMPLATE_NAME = "template";

export class TemplateParseError extends Error {
  /** True when Go would accept the template but dagflare doesn't run the construct. */
  readonly refused: boolean;
  constructor(line: number, message: string, refused = false) {
    super(`template: ${TEMPLATE_NAME}:${line}: ${message}`);
    this.refused = refused;
  }
}

export class TemplateExecError extends Error {}

/** What a template function raises: Go's returned error or a panic, reported as `error calling NAME: …`. */
export class FunctionError extends Error {}

/** Go parameter types: `any` is interface{} (or reflect.Value), taking anything, nil included. */
export type ParamType = "any" | "string" | "int" | "bool" | "float64" | "map";

export type TemplateFunction = {
  params: readonly ParamType[];
  /** The type of a variadic last parameter's items. */
  variadic?: ParamType;
  /** Go's `and` and `or`: their arguments are evaluated only as far as needed. */
  shortCircuit?: boolean;
  call(args: GoValue[]): GoValue;
};

export type FunctionSet = {
  get(name: string): TemplateFunction | undefined;
  /** Why dagflare doesn't run a function Dagu has; undefined when it runs it or Dagu doesn't have it. */
  refusal(name: string): string | undefined;
  /** A check of a call whose first argument is a string literal (printf's format), at parse time. */
  literalProblem?(name: string, firstArgument: string): string | undefined;
};

// ---------------------------------------------------------------------------------------------
// Lexer (Go's parse/lex.go).

type TokenType =
  | "error"
  | "comment"
  | "bool"
  | "char"
  | "charConstant"
  | "complex"
  | "assign"
  | "declare"
  | "eof"
  | "field"
  | "identifier"
  | "leftDelim"
  | "leftParen"
  | "number"
  | "pipe"
  | "rawString"
  | "rightDelim"
  | "rightParen"
  | "space"
  | "string"
  | "text"
  | "variable"
  // keywords
  | "dot"
  | "block"
  | "break"
  | "continue"
  | "define"
  | "else"
  | "end"
  | "if"
  | "nil"
  | "range"
  | "template"
  | "with";

type Token = { type: TokenType; text: string; pos: number };

const KEYWORDS: ReadonlySet<string> = new Set([
  "block",
  "break",
  "continue",
  "define",
  "else",
  "end",
  "if",
  "nil",
  "range",
  "template",
  "with",
]);
const isKeyword = (type: TokenType) => type === "dot" || KEYWORDS.has(type);

const isSpace = (char: string | undefined) => char === " " || char === "\t" || char === "\r" || char === "\n";
const isAlphaNumeric = (char: string | undefined) => char !== undefined && /^[\p{L}\p{Nd}_]$/u.test(char);
/** Go trims these around `{{- ` and ` -}}`. */
const TRIM_SPACE = /^[ \t\r\n]*/;

class Lexer {
  private pos = 0;
  private start = 0;
  private insideAction = false;
  private parenDepth = 0;
  private readonly input: string;
  constructor(input: string) {
    this.input = input;
  }

  nextToken(): Token {
    for (;;) {
      const token = this.insideAction ? this.insideActionToken() : this.textToken();
      if (token.type !== "comment") return token;
    }
  }

  lineAt(pos: number): number {
    let line = 1;
    for (let i = this.input.indexOf("\n"); i >= 0 && i < pos; i = this.input.indexOf("\n", i + 1)) line++;
    return line;
  }

  private token(type: TokenType): Token {
    const token = { type, text: this.input.slice(this.start, this.pos), pos: this.start };
    this.start = this.pos;
    return token;
  }

  private error(message: string): Token {
    const token = { type: "error" as const, text: message, pos: this.start };
    this.pos = this.input.length;
    this.start = this.pos;
    return token;
  }

  private peekChar(): string | undefined {
    const code = this.input.codePointAt(this.pos);
    return code === undefined ? undefined : String.fromCodePoint(code);
  }

  private nextChar(): string | undefined {
    const char = this.peekChar();
    if (char !== undefined) this.pos += char.length;
    return char;
  }

  private accept(valid: string): boolean {
    const char = this.peekChar();
    if (char === undefined || !valid.includes(char)) return false;
    this.pos += char.length;
    return true;
  }

  private acceptRun(valid: string): void {
    while (this.accept(valid)) {}
  }

  private hasLeftTrimMarker(at: number): boolean {
    return this.input[at] === "-" && isSpace(this.input[at + 1]);
  }

  private hasRightTrimMarker(at: number): boolean {
    return isSpace(this.input[at]) && this.input[at + 1] === "-";
  }

  private atRightDelim(): { delim: boolean; trim: boolean } {
    if (this.hasRightTrimMarker(this.pos) && this.input.startsWith("}}", this.pos + 2))
      return { delim: true, trim: true };
    return { delim: this.input.startsWith("}}", this.pos), trim: false };
  }

  private atTerminator(): boolean {
    const char = this.peekChar();
    if (char === undefined || isSpace(char) || ".,|:)(".includes(char)) return true;
    return this.input.startsWith("}}", this.pos);
  }

  private textToken(): Token {
    const delim = this.input.indexOf("{{", this.pos);
    if (delim < 0) {
      this.pos = this.input.length;
      return this.pos > this.start ? this.token("text") : this.token("eof");
    }
    if (delim > this.pos) {
      this.pos = delim;
      let text = this.input.slice(this.start, delim);
      if (this.hasLeftTrimMarker(delim + 2)) text = text.replace(/[ \t\r\n]+$/, "");
      const token = { type: "text" as const, text, pos: this.start };
      this.start = this.pos;
      if (text.length > 0) return token;
    }
    return this.leftDelimToken();
  }

  private leftDelimToken(): Token {
    this.pos += 2;
    const trim = this.hasLeftTrimMarker(this.pos);
    const afterMarker = trim ? 2 : 0;
    if (this.input.startsWith("/*", this.pos + afterMarker)) {
      this.pos += afterMarker;
      this.start = this.pos;
      return this.comment();
    }
    const token = this.token("leftDelim");
    this.insideAction = true;
    this.pos += afterMarker;
    this.start = this.pos;
    this.parenDepth = 0;
    return token;
  }

  /** A comment, which the parser never sees (nextToken skips it). */
  private comment(): Token {
    this.pos += 2;
    const end = this.input.indexOf("*/", this.pos);
    if (end < 0) return this.error("unclosed comment");
    this.pos = end + 2;
    const { delim, trim } = this.atRightDelim();
    if (!delim) return this.error("comment ends before closing delimiter");
    this.pos += (trim ? 2 : 0) + 2;
    if (trim) this.pos += TRIM_SPACE.exec(this.input.slice(this.pos))![0].length;
    return this.token("comment");
  }

  private rightDelimToken(): Token {
    const { trim } = this.atRightDelim();
    if (trim) {
      this.pos += 2;
      this.start = this.pos;
    }
    this.pos += 2;
    const token = this.token("rightDelim");
    if (trim) {
      this.pos += TRIM_SPACE.exec(this.input.slice(this.pos))![0].length;
      this.start = this.pos;
    }
    this.insideAction = false;
    return token;
  }

  private insideActionToken(): Token {
    if (this.atRightDelim().delim) {
      return this.parenDepth === 0 ? this.rightDelimToken() : this.error("unclosed left paren");
    }
    const char = this.nextChar();
    if (char === undefined) return this.error("unclosed action");
    if (isSpace(char)) {
      this.pos -= 1;
      return this.spaceToken();
    }
    switch (char) {
      case "=":
        return this.token("assign");
      case ":":
        return this.nextChar() === "=" ? this.token("declare") : this.error("expected :=");
      case "|":
        return this.token("pipe");
      case '"':
        return this.quoted('"', "string", "unterminated quoted string");
      case "`":
        return this.rawString();
      case "$":
        return this.atTerminator() ? this.token("variable") : this.fieldOrVariable("variable");
      case "'":
        return this.quoted("'", "charConstant", "unterminated character constant");
      case "(":
        this.parenDepth++;
        return this.token("leftParen");
      case ")":
        this.parenDepth--;
        return this.parenDepth < 0 ? this.error("unexpected right paren") : this.token("rightParen");
    }
    if (char === "." && !/[0-9]/.test(this.input[this.pos] ?? "")) return this.fieldOrVariable("field");
    if (char === "." || char === "+" || char === "-" || /[0-9]/.test(char)) {
      this.pos -= 1;
      return this.numberToken();
    }
    if (isAlphaNumeric(char)) return this.identifier();
    if (char.codePointAt(0)! < 0x7f && char >= " ") return this.token("char");
    return this.error(`unrecognized character in action: ${runeDescription(char)}`);
  }

  private spaceToken(): Token {
    let count = 0;
    while (isSpace(this.peekChar())) {
      this.pos++;
      count++;
    }
    // A space before `-}}` belongs to the trim marker.
    if (this.hasRightTrimMarker(this.pos - 1) && this.input.startsWith("}}", this.pos + 1)) {
      this.pos--;
      if (count === 1) return this.rightDelimToken();
    }
    return this.token("space");
  }

  private identifier(): Token {
    while (isAlphaNumeric(this.peekChar())) this.nextChar();
    if (!this.atTerminator()) return this.error(`bad character ${runeDescription(this.peekChar()!)}`);
    const word = this.input.slice(this.start, this.pos);
    if (KEYWORDS.has(word)) return this.token(word as TokenType);
    return this.token(word === "true" || word === "false" ? "bool" : "identifier");
  }

  private fieldOrVariable(type: "field" | "variable"): Token {
    if (this.atTerminator()) return this.token(type === "variable" ? "variable" : "dot");
    while (isAlphaNumeric(this.peekChar())) this.nextChar();
    if (!this.atTerminator()) return this.error(`bad character ${runeDescription(this.peekChar()!)}`);
    return this.token(type);
  }

  private quoted(quote: string, type: TokenType, unterminated: string): Token {
    for (;;) {
      const char = this.nextChar();
      if (char === "\\") {
        const escaped = this.nextChar();
        if (escaped !== undefined && escaped !== "\n") continue;
        return this.error(unterminated);
      }
      if (char === undefined || char === "\n") return this.error(unterminated);
      if (char === quote) return this.token(type);
    }
  }

  private rawString(): Token {
    const end = this.input.indexOf("`", this.pos);
    if (end < 0) return this.error("unterminated raw quoted string");
    this.pos = end + 1;
    return this.token("rawString");
  }

  private numberToken(): Token {
    if (!this.scanNumber()) return this.error(`bad number syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
    if (this.peekChar() === "+" || this.peekChar() === "-") {
      if (!this.scanNumber() || this.input[this.pos - 1] !== "i")
        return this.error(`bad number syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
      return this.token("complex");
    }
    return this.token("number");
  }

  private scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if (digits.length === 11 && this.accept("eE")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    if (digits.length === 23 && this.accept("pP")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (isAlphaNumeric(this.peekChar())) {
      this.nextChar();
      return false;
    }
    return true;
  }
}

/** Go's %#U: `U+0001`, or `U+00E9 'é'` for a printable character. */
function runeDescription(char: string): string {
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(char) ? `${code} '${char}'` : code;
}

// ---------------------------------------------------------------------------------------------
// Parse tree (Go's parse/node.go).

type FieldNode = { kind: "field"; pos: number; idents: string[] };
type VariableNode = { kind: "variable"; pos: number; idents: string[] };
type ChainNode = { kind: "chain"; pos: number; node: ArgNode; fields: string[] };
type IdentifierNode = { kind: "identifier"; pos: number; name: string };
type DotNode = { kind: "dot"; pos: number };
type NilNode = { kind: "nil"; pos: number };
type BoolNode = { kind: "bool"; pos: number; value: boolean };
type StringNode = { kind: "string"; pos: number; quoted: string; text: string };
type NumberNode = {
  kind: "number";
  pos: number;
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  int64: bigint;
  uint64: bigint;
  float64: number;
};
type PipeNode = { kind: "pipe"; pos: number; decl: VariableNode[]; isAssign: boolean; cmds: CommandNode[] };
type CommandNode = { kind: "command"; pos: number; args: ArgNode[] };
type ArgNode =
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | DotNode
  | NilNode
  | BoolNode
  | StringNode
  | NumberNode
  | PipeNode;

type TextNode = { kind: "text"; text: string };
type ActionNode = { kind: "action"; pos: number; pipe: PipeNode };
type BranchNode = {
  kind: "if" | "with" | "range";
  pos: number;
  pipe: PipeNode;
  list: TemplateNode[];
  elseList: TemplateNode[] | undefined;
};
type LoopControlNode = { kind: "break" | "continue"; pos: number };
type TemplateNode = TextNode | ActionNode | BranchNode | LoopControlNode;
/** What ends a list while parsing: `{{end}}` or `{{else}}`. */
type ListEnd = { kind: "end" | "else"; pos: number };

/** A node as Go writes it in an error's context (`<.a.b>`, `<eq .n 3>`). */
function nodeText(node: ArgNode | CommandNode): string {
  switch (node.kind) {
    case "field":
      return `.${node.idents.join(".")}`;
    case "variable":
      return node.idents.join(".");
    case "chain":
      return `${node.node.kind === "pipe" ? `(${nodeText(node.node)})` : nodeText(node.node)}.${node.fields.join(".")}`;
    case "identifier":
      return node.name;
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "bool":
      return String(node.value);
    case "string":
      return node.quoted;
    case "number":
      return node.text;
    case "pipe": {
      const decl = node.decl.length === 0 ? "" : `${node.decl.map(nodeText).join(", ")} ${node.isAssign ? "=" : ":="} `;
      return decl + node.cmds.map(nodeText).join(" | ");
    }
    case "command":
      return node.args.map((arg) => (arg.kind === "pipe" ? `(${nodeText(arg)})` : nodeText(arg))).join(" ");
  }
}

// ---------------------------------------------------------------------------------------------
// Parser (Go's parse/parse.go).

export type Template = { text: string; root: TemplateNode[] };

const isStackOverflow = (error: unknown) => error instanceof RangeError && /call stack/i.test(error.message);

/** Parses a template as Dagu does; throws TemplateParseError with Go's message, or dagflare's refusal. */
export function parseTemplate(text: string, functions: FunctionSet): Template {
  try {
    return { text, root: new Parser(text, functions).parse() };
  } catch (error) {
    // Parsing recurses per level of nesting; a template nested thousands deep refuses, not crashes.
    if (isStackOverflow(error)) throw new TemplateParseError(1, "the template is nested too deeply", true);
    throw error;
  }
}

class Parser {
  private readonly lexer: Lexer;
  private readonly functions: FunctionSet;
  /** Up to three tokens read ahead, as Go's parser keeps them. */
  private readonly pending: Token[] = [];
  private current: Token = { type: "eof", text: "", pos: 0 };
  private readonly vars: string[] = ["$"];
  private rangeDepth = 0;
  /** The line of the action being parsed (0 between actions), for lexing errors. */
  private actionLine = 0;

  constructor(text: string, functions: FunctionSet) {
    this.lexer = new Lexer(text);
    this.functions = functions;
  }

  parse(): TemplateNode[] {
    const root: TemplateNode[] = [];
    while (this.peek().type !== "eof") {
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") this.error(`unexpected {{${node.kind}}}`);
      root.push(node as TemplateNode);
    }
    return root;
  }

  private error(message: string, refused = false): never {
    throw new TemplateParseError(this.lexer.lineAt(this.current.pos), message, refused);
  }

  private refuse(construct: string, why: string): never {
    this.error(`${construct} is not supported by dagflare: ${why}`, true);
  }

  private next(): Token {
    this.current = this.pending.pop() ?? this.lexer.nextToken();
    return this.current;
  }

  private backup(token: Token = this.current): void {
    this.pending.push(token);
  }

  private peek(): Token {
    const token = this.next();
    this.backup(token);
    return token;
  }

  private nextNonSpace(): Token {
    let token = this.next();
    while (token.type === "space") token = this.next();
    return token;
  }

  private peekNonSpace(): Token {
    const token = this.nextNonSpace();
    this.backup(token);
    return token;
  }

  private expect(type: TokenType, context: string): Token {
    const token = this.nextNonSpace();
    if (token.type !== type) this.unexpected(token, context);
    return token;
  }

  private unexpected(token: Token, context: string): never {
    if (token.type === "error") {
      // A lexing error on a later line than its action began says where that was.
      const line = this.lexer.lineAt(token.pos);
      let where = "";
      if (this.actionLine !== 0 && this.actionLine !== line) {
        where = ` in action started at ${TEMPLATE_NAME}:${this.actionLine}`;
        if (token.text.endsWith(" action")) where = where.slice(" in action".length);
      }
      this.error(token.text + where);
    }
    this.error(`unexpected ${tokenText(token)} in ${context}`);
  }

  private textOrAction(): TemplateNode | ListEnd {
    const token = this.nextNonSpace();
    if (token.type === "text") return { kind: "text", text: token.text };
    if (token.type !== "leftDelim") this.unexpected(token, "input");
    this.actionLine = this.lexer.lineAt(token.pos);
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): TemplateNode | ListEnd {
    const token = this.nextNonSpace();
    switch (token.type) {
      case "define":
      case "template":
      case "block":
        return this.refuse(
          `{{${token.type}}}`,
          "a template.render step renders its one template; write the text in place",
        );
      case "break":
      case "continue": {
        const end = this.nextNonSpace();
        if (end.type !== "rightDelim") this.unexpected(end, `{{${token.type}}}`);
        if (this.rangeDepth === 0) this.error(`{{${token.type}}} outside {{range}}`);
        return { kind: token.type, pos: token.pos };
      }
      case "else":
        return this.elseControl();
      case "end":
        return { kind: "end", pos: this.expect("rightDelim", "end").pos };
      case "if":
      case "range":
      case "with":
        return this.control(token.type);
    }
    this.backup(token);
    const start = this.peek();
    return { kind: "action", pos: start.pos, pipe: this.pipeline("command", "rightDelim") };
  }

  private elseControl(): ListEnd {
    // `{{else if …}}` and `{{else with …}}` leave the `if`/`with` to be read next.
    const next = this.peekNonSpace();
    if (next.type === "if" || next.type === "with") return { kind: "else", pos: next.pos };
    return { kind: "else", pos: this.expect("rightDelim", "else").pos };
  }

  private control(kind: BranchNode["kind"]): BranchNode {
    const mark = this.vars.length;
    const pipe = this.pipeline(kind, "rightDelim");
    if (kind === "range") this.rangeDepth++;
    const [list, end] = this.itemList();
    if (kind === "range") this.rangeDepth--;
    let elseList: TemplateNode[] | undefined;
    if (end.kind === "else") {
      const next = this.peek().type;
      // `{{if a}}…{{else if b}}…{{end}}` is `{{if a}}…{{else}}{{if b}}…{{end}}{{end}}`.
      if ((kind === "if" && next === "if") || (kind === "with" && next === "with")) {
        this.next();
        elseList = [this.control(kind)];
      } else {
        const [rest, last] = this.itemList();
        if (last.kind !== "end") this.error(`expected end; found {{${last.kind}}}`);
        elseList = rest;
      }
    }
    this.vars.length = mark;
    return { kind, pos: pipe.pos, pipe, list, elseList };
  }

  private itemList(): [TemplateNode[], ListEnd] {
    const list: TemplateNode[] = [];
    while (this.peekNonSpace().type !== "eof") {
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") return [list, node as ListEnd];
      list.push(node as TemplateNode);
    }
    this.error("unexpected EOF");
  }

  private pipeline(context: string, end: "rightDelim" | "rightParen"): PipeNode {
    const pipe: PipeNode = { kind: "pipe", pos: this.peekNonSpace().pos, decl: [], isAssign: false, cmds: [] };
    for (let declaring = true; declaring; ) {
      declaring = false;
      if (this.peekNonSpace().type !== "variable") break;
      const variable = this.next();
      const afterVariable = this.peek();
      const next = this.peekNonSpace();
      if (next.type === "assign" || next.type === "declare") {
        pipe.isAssign = next.type === "assign";
        this.nextNonSpace();
        pipe.decl.push({ kind: "variable", pos: variable.pos, idents: [variable.text] });
        this.vars.push(variable.text);
      } else if (next.type === "char" && next.text === ",") {
        this.nextNonSpace();
        pipe.decl.push({ kind: "variable", pos: variable.pos, idents: [variable.text] });
        this.vars.push(variable.text);
        if (context === "range" && pipe.decl.length < 2) {
          const after = this.peekNonSpace().type;
          if (after !== "variable" && after !== "rightDelim" && after !== "rightParen")
            this.error("range can only initialize variables");
          declaring = true;
          continue;
        }
        this.error(`too many declarations in ${context}`);
      } else if (afterVariable.type === "space") {
        // `$x foo`: the variable is an argument; put back what was read, space included.
        this.backup(afterVariable);
        this.backup(variable);
      } else {
        this.backup(variable);
      }
    }
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (token.type) {
        case "bool":
        case "charConstant":
        case "complex":
        case "dot":
        case "field":
        case "identifier":
        case "number":
        case "nil":
        case "rawString":
        case "string":
        case "variable":
        case "leftParen":
          this.backup(token);
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.error(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((command, index) => {
      if (["bool", "dot", "nil", "number", "string"].includes(command.args[0]!.kind))
        this.error(`non executable command in pipeline stage ${index + 2}`);
    });
  }

  private command(): CommandNode {
    const command: CommandNode = { kind: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) command.args.push(operand);
      const token = this.next();
      if (token.type === "space") continue;
      if (token.type === "rightDelim" || token.type === "rightParen") this.backup(token);
      else if (token.type !== "pipe") this.unexpected(token, "operand");
      break;
    }
    if (command.args.length === 0) this.error("empty command");
    this.checkLiteralCall(command);
    return command;
  }

  /** A call whose first argument is written as a string can be checked now (printf's format). */
  private checkLiteralCall(command: CommandNode): void {
    const [first, literal] = command.args;
    if (first?.kind !== "identifier" || literal?.kind !== "string") return;
    const problem = this.functions.literalProblem?.(first.name, literal.text);
    if (problem) this.error(problem, true);
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node || this.peek().type !== "field") return node;
    // As Go: the operand is placed at its first chained field (an error points there).
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === "field") fields.push(...this.next().text.slice(1).split("."));
    switch (node.kind) {
      case "field":
      case "variable":
        return { ...node, pos, idents: [...node.idents, ...fields] };
      case "bool":
      case "string":
      case "number":
      case "nil":
      case "dot":
        return this.error(`unexpected . after term ${goQuote(nodeText(node))}`);
      default:
        return { kind: "chain", pos, node, fields };
    }
  }

  private term(): ArgNode | undefined {
    const token = this.nextNonSpace();
    switch (token.type) {
      case "identifier": {
        if (!this.functions.get(token.text)) {
          const refusal = this.functions.refusal(token.text);
          if (refusal) this.refuse(`the function ${token.text}`, refusal);
          this.error(`function ${goQuote(token.text)} not defined`);
        }
        return { kind: "identifier", pos: token.pos, name: token.text };
      }
      case "dot":
        return { kind: "dot", pos: token.pos };
      case "nil":
        return { kind: "nil", pos: token.pos };
      case "variable": {
        const idents = token.text.split(".");
        if (!this.vars.includes(idents[0]!)) this.error(`undefined variable ${goQuote(idents[0]!)}`);
        return { kind: "variable", pos: token.pos, idents };
      }
      case "field":
        return { kind: "field", pos: token.pos, idents: token.text.slice(1).split(".") };
      case "bool":
        return { kind: "bool", pos: token.pos, value: token.text === "true" };
      case "charConstant":
      case "complex":
      case "number":
        return this.number(token);
      case "leftParen":
        return this.pipeline("parenthesized pipeline", "rightParen");
      case "string":
      case "rawString":
        return { kind: "string", pos: token.pos, quoted: token.text, text: this.unquote(token) };
    }
    this.backup(token);
    return undefined;
  }

  private unquote(token: Token): string {
    // A raw string keeps everything but carriage returns (Go's strconv.Unquote).
    if (token.type === "rawString") return token.text.slice(1, -1).replaceAll("\r", "");
    const text = unquoteGo(token.text.slice(1, -1), '"');
    if (text === NOT_UTF8) this.refuse(`the string ${token.text}`, "its escapes make bytes that are not UTF-8 text");
    return text ?? this.error("invalid syntax");
  }

  private number(token: Token): NumberNode {
    const text = token.text;
    if (token.type === "complex" || text.endsWith("i"))
      this.refuse(`the complex number ${text}`, "templates here have no complex numbers");
    if (token.type === "charConstant") {
      const char = unquoteGo(text.slice(1, -1), "'");
      if (typeof char !== "string" || char === "") return this.error("invalid syntax");
      if ([...char].length !== 1) return this.error(`malformed character constant: ${text}`);
      const code = BigInt(char.codePointAt(0)!);
      return {
        kind: "number",
        pos: token.pos,
        text,
        isInt: true,
        isUint: true,
        isFloat: true,
        int64: code,
        uint64: code,
        float64: Number(code),
      };
    }
    if (/^[+-]?0[xX].*[pP]/.test(text))
      this.refuse(`the hexadecimal floating-point number ${text}`, "write it in decimal");
    const node: NumberNode = {
      kind: "number",
      pos: token.pos,
      text,
      isInt: false,
      isUint: false,
      isFloat: false,
      int64: 0n,
      uint64: 0n,
      float64: 0,
    };
    const unsigned = parseGoInteger(text, false);
    if (unsigned !== undefined && unsigned <= MAX_UINT64) {
      node.isUint = true;
      node.uint64 = unsigned;
    }
    const signed = parseGoInteger(text, true);
    if (signed !== undefined && signed >= MIN_INT64 && signed <= MAX_INT64) {
      node.isInt = true;
      node.int64 = signed;
      if (signed === 0n) node.isUint = true; // -0
    }
    if (node.isInt || node.isUint) {
      node.isFloat = true;
      node.float64 = Number(node.isInt ? node.int64 : node.uint64);
      return node;
    }
    const float = parseGoFloat(text);
    if (float === undefined) this.error(`illegal number syntax: ${goQuote(text)}`);
    if (!/[.eEpP]/.test(text)) this.error(`integer overflow: ${goQuote(text)}`);
    node.isFloat = true;
    node.float64 = float;
    if (Number.isInteger(float)) {
      const integer = BigInt(float);
      if (integer >= MIN_INT64 && integer <= MAX_INT64) {
        node.isInt = true;
        node.int64 = integer;
      }
      if (integer >= 0n && integer <= MAX_UINT64) {
        node.isUint = true;
        node.uint64 = integer;
      }
    }
    return node;
  }
}

/** A token as Go's parser names it in an error: `"foo"`, `<end>`, `EOF`. */
function tokenText(token: Token): string {
  if (token.type === "eof") return "EOF";
  if (isKeyword(token.type)) return `<${token.text}>`;
  const chars = [...token.text];
  return chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(""))}...` : goQuote(token.text);
}

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

/** strconv.ParseInt/ParseUint with base 0: 0x, 0o, 0b and 0 (octal) prefixes, `_` between digits. */
function parseGoInteger(text: string, signed: boolean): bigint | undefined {
  let rest = text;
  let negative = false;
  if (signed && (rest[0] === "+" || rest[0] === "-")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "" || !underscoresOk(rest)) return undefined;
  let base = 10;
  if (rest[0] === "0" && rest.length > 1) {
    const prefix = rest[1]!.toLowerCase();
    if (rest.length >= 3 && (prefix === "b" || prefix === "o" || prefix === "x")) {
      base = prefix === "b" ? 2 : prefix === "o" ? 8 : 16;
      rest = rest.slice(2);
    } else {
      base = 8;
      rest = rest.slice(1);
    }
  }
  let value = 0n;
  for (const char of rest.replaceAll("_", "")) {
    const digit = Number.parseInt(char, 36);
    if (Number.isNaN(digit) || digit >= base) return undefined;
    value = value * BigInt(base) + BigInt(digit);
  }
  return negative ? -value : value;
}

/** Go's rule for `_` in a number: only between digits, or after a base prefix. */
function underscoresOk(text: string): boolean {
  let saw = "^";
  let i = 0;
  let hex = false;
  if (text.length >= 2 && text[0] === "0" && "bBoOxX".includes(text[1]!)) {
    i = 2;
    saw = "0";
    hex = text[1] === "x" || text[1] === "X";
  }
  for (; i < text.length; i++) {
    const char = text[i]!;
    if (/[0-9]/.test(char) || (hex && /[a-fA-F]/.test(char))) saw = "0";
    else if (char === "_") {
      if (saw !== "0") return false;
      saw = "_";
    } else {
      if (saw === "_") return false;
      saw = "!";
    }
  }
  return saw !== "_";
}

/** strconv.ParseFloat for a decimal literal (hexadecimal floats are refused before). */
function parseGoFloat(text: string): number | undefined {
  if (!/^[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?$/.test(text)) return undefined;
  if (!underscoresOk(text.replace(/^[+-]/, ""))) return undefined;
  const value = Number(text.replaceAll("_", ""));
  return Number.isFinite(value) ? value : undefined;
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  "\\": 0x5c,
};

/** A string literal's bytes aren't UTF-8 (`"\xff"`): Go keeps such bytes, dagflare's text can't. */
const NOT_UTF8 = Symbol("not UTF-8");
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The body of a Go string or character literal (strconv.Unquote): `\n`, `\x41`, `\101`,
 * `\u00e9`, `\U0001F600`, and the literal's own quote escaped. Undefined when Go refuses it.
 */
function unquoteGo(body: string, quote: string): string | undefined | typeof NOT_UTF8 {
  const bytes: number[] = [];
  const addText = (text: string) => bytes.push(...utf8Bytes(text));
  // In a character constant, \x and octal escapes name a character; in a string, a byte.
  const byte = (code: number) => (quote === "'" ? addText(String.fromCodePoint(code)) : bytes.push(code));
  for (let i = 0; i < body.length; ) {
    const char = String.fromCodePoint(body.codePointAt(i)!);
    if (char === quote) return undefined;
    if (char !== "\\") {
      addText(char);
      i += char.length;
      continue;
    }
    const escaped = body[i + 1];
    if (escaped === undefined) return undefined;
    if (SIMPLE_ESCAPES[escaped] !== undefined) {
      bytes.push(SIMPLE_ESCAPES[escaped]);
      i += 2;
    } else if (escaped === quote) {
      addText(quote);
      i += 2;
    } else if (escaped === "x" || escaped === "u" || escaped === "U") {
      const length = escaped === "x" ? 2 : escaped === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + length);
      if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(hex)) return undefined;
      const code = Number.parseInt(hex, 16);
      if (escaped === "x") byte(code);
      else if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
      else addText(String.fromCodePoint(code));
      i += 2 + length;
    } else if (/[0-7]/.test(escaped)) {
      const octal = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(octal) || Number.parseInt(octal, 8) > 0xff) return undefined;
      byte(Number.parseInt(octal, 8));
      i += 4;
    } else return undefined;
  }
  try {
    return strictDecoder.decode(new Uint8Array(bytes));
  } catch {
    return NOT_UTF8;
  }
}

// ---------------------------------------------------------------------------------------------
// Execution (Go's exec.go), with missingkey=error as Dagu sets it.

export type ExecuteOptions = {
  /** Rendering stops with an error once the output is larger. */
  maxOutputBytes: number;
  /** Rendering stops with an error after this many actions and loop turns (a runaway `range`). */
  maxSteps: number;
};

const MISSING: unique symbol = Symbol("missing");
type Final = GoValue | typeof MISSING;
type Flow = "break" | "continue" | undefined;

/** Renders a parsed template with this data as dot; throws TemplateExecError with Go's message. */
export function executeTemplate(
  template: Template,
  data: GoValue,
  functions: FunctionSet,
  options: ExecuteOptions,
): string {
  try {
    return new Execution(template, functions, options).run(data);
  } catch (error) {
    if (isStackOverflow(error)) throw new TemplateExecError("template: the template is nested too deeply to run");
    throw error;
  }
}

class Execution {
  private readonly template: Template;
  private readonly functions: FunctionSet;
  private readonly options: ExecuteOptions;
  private readonly vars: { name: string; value: GoValue }[] = [];
  private readonly output: string[] = [];
  private outputBytes = 0;
  private steps = 0;
  /** The node being evaluated, for the error's place and context (Go's state.at). */
  private node: { pos: number; text: string } | undefined;

  constructor(template: Template, functions: FunctionSet, options: ExecuteOptions) {
    this.template = template;
    this.functions = functions;
    this.options = options;
  }

  run(data: GoValue): string {
    this.vars.push({ name: "$", value: data });
    this.walkList(data, this.template.root);
    return this.output.join("");
  }

  private at(node: ArgNode | CommandNode | PipeNode): void {
    this.node = { pos: node.pos, text: nodeText(node) };
  }

  private error(message: string): never {
    if (!this.node) throw new TemplateExecError(`template: ${TEMPLATE_NAME}: ${message}`);
    const before = this.template.text.slice(0, this.node.pos);
    const line = before.split("\n").length;
    const column = utf8Length(before.slice(before.lastIndexOf("\n") + 1));
    throw new TemplateExecError(
      `template: ${TEMPLATE_NAME}:${line}:${column}: executing "${TEMPLATE_NAME}" at <${this.node.text}>: ${message}`,
    );
  }

  private step(): void {
    if (++this.steps > this.options.maxSteps)
      this.error(`rendering stopped after ${this.options.maxSteps} steps (a range that runs too long?)`);
  }

  private write(text: string): void {
    this.outputBytes += utf8Length(text);
    if (this.outputBytes > this.options.maxOutputBytes)
      this.error(`the rendered text is larger than ${this.options.maxOutputBytes} bytes`);
    this.output.push(text);
  }

  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.error(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.error(`undefined variable: ${name}`);
  }

  private walkList(dot: GoValue, list: readonly TemplateNode[]): Flow {
    for (const node of list) {
      const flow = this.walk(dot, node);
      if (flow) return flow;
    }
    return undefined;
  }

  private walk(dot: GoValue, node: TemplateNode): Flow {
    switch (node.kind) {
      case "text":
        this.write(node.text);
        return undefined;
      case "action": {
        this.step();
        // Variables declared here live until the enclosing {{end}}; a declaration prints nothing.
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.write(value === null ? "<no value>" : goString(value));
        return undefined;
      }
      case "if":
      case "with": {
        const mark = this.vars.length;
        const value = this.evalPipeline(dot, node.pipe);
        const flow = goTruth(value)
          ? this.walkList(node.kind === "with" ? value : dot, node.list)
          : node.elseList && this.walkList(dot, node.elseList);
        this.vars.length = mark;
        return flow;
      }
      case "range":
        return this.walkRange(dot, node);
      case "break":
      case "continue":
        return node.kind;
    }
  }

  private walkRange(dot: GoValue, node: BranchNode): Flow {
    const outer = this.vars.length;
    const value = this.evalPipeline(dot, node.pipe);
    const mark = this.vars.length;
    const { decl, isAssign } = node.pipe;
    /** One turn; false once a {{break}} ends the loop. */
    const turn = (index: GoValue, element: GoValue): boolean => {
      this.step();
      if (decl.length > 0) {
        if (isAssign) this.setVar(decl[0]!.idents[0]!, decl.length > 1 ? index : element);
        else this.vars[this.vars.length - 1]!.value = element;
      }
      if (decl.length > 1) {
        if (isAssign) this.setVar(decl[1]!.idents[0]!, element);
        else this.vars[this.vars.length - 2]!.value = index;
      }
      const flow = this.walkList(element, node.list);
      this.vars.length = mark;
      return flow !== "break";
    };
    let ran = false;
    if (value instanceof GoInt) {
      if (decl.length > 1) this.error(`can't use ${goString(value)} to iterate over more than one variable`);
      for (let i = 0n; i < value.value; i++) {
        ran = true;
        if (!turn(null, new GoInt(value.type, i))) break;
      }
    } else if (value instanceof GoSlice) {
      for (const [i, item] of value.items.entries()) {
        ran = true;
        if (!turn(new GoInt("int", BigInt(i)), item)) break;
      }
    } else if (isGoMap(value)) {
      // Go ranges over a sorted copy of the entries: a `set` or `unset` in the body changes no turn.
      const entries = [...value.keys()].sort(compareCodePoints).map((key) => [key, value.get(key)!] as const);
      for (const [key, item] of entries) {
        ran = true;
        if (!turn(key, item)) break;
      }
    } else if (value !== null) {
      this.error(`range can't iterate over ${goString(value)}`);
    }
    // As in Go, a {{break}} in the else list ends this range (it catches the break); a
    // {{continue}} goes on to the enclosing range's next turn.
    const flow = !ran && node.elseList ? this.walkList(dot, node.elseList) : undefined;
    this.vars.length = outer;
    return flow === "continue" ? flow : undefined;
  }

  private evalPipeline(dot: GoValue, pipe: PipeNode): GoValue {
    this.at(pipe);
    let value: Final = MISSING;
    for (const command of pipe.cmds) value = this.evalCommand(dot, command, value);
    const result = value === MISSING ? null : value;
    for (const variable of pipe.decl) {
      if (pipe.isAssign) this.setVar(variable.idents[0]!, result);
      else this.vars.push({ name: variable.idents[0]!, value: result });
    }
    return result;
  }

  private notAFunction(args: readonly ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.error(`can't give argument to non-function ${nodeText(args[0]!)}`);
  }

  private evalCommand(dot: GoValue, command: CommandNode, final: Final): GoValue {
    const [first, ...args] = command.args as [ArgNode, ...ArgNode[]];
    switch (first.kind) {
      case "field":
        this.at(first);
        return this.evalFieldChain(dot, first.idents, args, final, false);
      case "chain":
        return this.evalChain(dot, first, args, final);
      case "identifier":
        this.at(first);
        return this.evalCall(dot, first.name, command, args, final);
      case "pipe":
        this.notAFunction(command.args, final);
        return this.evalPipeline(dot, first);
      case "variable":
        return this.evalVariable(first, args, final);
    }
    this.at(first);
    this.notAFunction(command.args, final);
    switch (first.kind) {
      case "bool":
        return first.value;
      case "dot":
        return dot;
      case "nil":
        return this.error("nil is not a command");
      case "number":
        return this.idealConstant(first);
      case "string":
        return first.text;
    }
  }

  /** A number where no type is asked for: a float64 if written as one, else an int. */
  private idealConstant(node: NumberNode): GoValue {
    this.at(node);
    const hexInteger = /^0[xX]./.test(node.text) && !/[pP]/.test(node.text);
    if (node.isFloat && !hexInteger && !node.text.startsWith("'") && /[.eEpP]/.test(node.text)) return node.float64;
    if (node.isInt) return new GoInt("int", node.int64);
    this.error(`${node.text} overflows int`);
  }

  private evalChain(dot: GoValue, chain: ChainNode, args: readonly ArgNode[], final: Final): GoValue {
    this.at(chain);
    if (chain.node.kind === "nil") this.error(`indirection through explicit nil in ${nodeText(chain)}`);
    const receiver = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(receiver, chain.fields, args, final, false);
  }

  private evalVariable(variable: VariableNode, args: readonly ArgNode[], final: Final): GoValue {
    this.at(variable);
    const value = this.varValue(variable.idents[0]!);
    if (variable.idents.length === 1) {
      this.notAFunction([variable, ...args], final);
      return value;
    }
    return this.evalFieldChain(value, variable.idents.slice(1), args, final, false);
  }

  /** `.a.b.c`: each name a key of the map before it (missingkey=error: a missing key fails). */
  private evalFieldChain(
    receiver: GoValue,
    names: readonly string[],
    args: readonly ArgNode[],
    final: Final,
    fromMap: boolean,
  ): GoValue {
    let value = receiver;
    let lookedUp = fromMap;
    names.forEach((name, index) => {
      const last = index === names.length - 1;
      if (value === null)
        this.error(lookedUp ? `nil pointer evaluating interface {}.${name}` : `nil data; no entry for key "${name}"`);
      if (!isGoMap(value))
        this.error(`can't evaluate field ${name} in type ${lookedUp ? "interface {}" : goTypeName(value)}`);
      if (last && (args.length > 0 || final !== MISSING)) this.error(`${name} is not a method but has arguments`);
      if (!value.has(name)) this.error(`map has no entry for key "${name}"`);
      value = value.get(name)!;
      lookedUp = true;
    });
    return value;
  }

  private evalCall(dot: GoValue, name: string, command: CommandNode, args: readonly ArgNode[], final: Final): GoValue {
    const fn = this.functions.get(name)!;
    const count = args.length + (final === MISSING ? 0 : 1);
    const fixed = fn.variadic ? fn.params.length : args.length;
    if (fn.variadic && count < fixed)
      this.error(`wrong number of args for ${name}: want at least ${fn.params.length} got ${args.length}`);
    if (!fn.variadic && count !== fn.params.length)
      this.error(`wrong number of args for ${name}: want ${fn.params.length} got ${count}`);

    if (fn.shortCircuit) {
      // `and` stops at the first false argument, `or` at the first true one; either returns it.
      let value: GoValue = null;
      for (const arg of args) {
        value = this.evalArg(dot, "any", arg);
        if (goTruth(value) === (name === "or")) return value;
      }
      return final === MISSING ? value : final;
    }

    const argv: GoValue[] = [];
    for (const [i, arg] of args.entries()) argv.push(this.evalArg(dot, i < fixed ? fn.params[i]! : fn.variadic!, arg));
    if (final !== MISSING) {
      const type = fn.variadic
        ? count - 1 < fixed
          ? fn.params[count - 1]!
          : fn.variadic
        : fn.params[fn.params.length - 1]!;
      argv.push(this.validateType(final, type));
    }
    try {
      return fn.call(argv);
    } catch (error) {
      if (!(error instanceof FunctionError)) throw error;
      this.at(command);
      this.error(`error calling ${name}: ${error.message}`);
    }
  }

  /** An argument, evaluated for a parameter of this Go type (Go's evalArg). */
  private evalArg(dot: GoValue, type: ParamType | undefined, node: ArgNode): GoValue {
    this.at(node);
    switch (node.kind) {
      case "dot":
        return this.validateType(dot, type);
      case "nil":
        if (type === "any") return null;
        if (type === "map") return NIL_MAP;
        return this.error(`cannot assign nil to ${goParamName(type)}`);
      case "field":
        return this.validateType(this.evalFieldChain(dot, node.idents, [], MISSING, false), type);
      case "variable":
        return this.validateType(this.evalVariable(node, [], MISSING), type);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, node), type);
      case "identifier":
        return this.validateType(
          this.evalCall(dot, node.name, { kind: "command", pos: node.pos, args: [node] }, [], MISSING),
          type,
        );
      case "chain":
        return this.validateType(this.evalChain(dot, node, [], MISSING), type);
    }
    switch (type) {
      case "bool":
        return node.kind === "bool" ? node.value : this.error(`expected bool; found ${nodeText(node)}`);
      case "float64":
        return node.kind === "number" && node.isFloat
          ? node.float64
          : this.error(`expected float; found ${nodeText(node)}`);
      case "int":
        return node.kind === "number" && node.isInt
          ? new GoInt("int", node.int64)
          : this.error(`expected integer; found ${nodeText(node)}`);
      case "string":
        return node.kind === "string" ? node.text : this.error(`expected string; found ${nodeText(node)}`);
      case "any":
        if (node.kind === "bool") return node.value;
        if (node.kind === "number") return this.idealConstant(node);
        return node.text;
      default:
        return this.error(`can't handle ${nodeText(node)} for arg of type ${goParamName(type)}`);
    }
  }

  /** A value for a parameter of this type: Go's assignability (an int64 is no int). */
  private validateType(value: GoValue, type: ParamType | undefined): GoValue {
    if (type === undefined || type === "any") return value;
    if (value === null) return type === "map" ? NIL_MAP : this.error(`invalid value; expected ${goParamName(type)}`);
    const fits =
      type === "string"
        ? typeof value === "string"
        : type === "bool"
          ? typeof value === "boolean"
          : type === "float64"
            ? typeof value === "number"
            : type === "int"
              ? value instanceof GoInt && value.type === "int"
              : isGoMap(value);
    if (!fits) this.error(`wrong type for value; expected ${goParamName(type)}; got ${goTypeName(value)}`);
    return value;
  }
}

const goParamName = (type: ParamType | undefined) =>
  type === "any" || type === undefined ? "interface {}" : type === "map" ? "map[string]interface {}" : type;
