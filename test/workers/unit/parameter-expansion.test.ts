/**
 * Worker-side expansion (env, params, conditions, http fields) against the real thing: every
 * expected value below is what the Dagu 1.30.2 binary printed (`dagu start`, a step echoing
 * the env values) for the same text and variables, unless a case says it is dagflare's own.
 */
import { describe, expect, it } from "vitest";
import { unmetPrecondition } from "../../../src/domain/conditions.ts";
import { expand } from "../../../src/domain/expand.ts";
import { runScope } from "../../../src/domain/scope.ts";

const scope = new Map([
  ["NAME", "abcdefgh"],
  ["LOW", "hello world"],
  ["MIXED", "Hello World"],
  ["EMPTY", ""],
  ["OFF", "2"],
  ["NEG", "-3"],
  ["PATHY", "/usr/local/lib/file.tar.gz"],
  ["U", "héllo wörld"],
  ["STAR", "*x*y"],
  ["HASHY", "x#aby"],
  ["QV", 'a"b\\c'],
  ["QS", "it's"],
  ["REF", "NAME"],
  ["ML", "a\nb"],
  ["J", '{"a":{"b":"x"},"n":[1,2]}'],
]);

/** Each template with what Dagu printed for it; the template names the failing case. */
function expectAll(cases: readonly (readonly [template: string, dagu: string])[]): void {
  for (const [template, dagu] of cases) expect(expand(template, scope), template).toBe(dagu);
}

describe("Worker-side expansion, as Dagu 1.30.2 does it", () => {
  it("the issue's examples", () => {
    expectAll([
      ["${UNSET:-dflt}", "dflt"],
      ["${NAME#ab}", "cdefgh"],
      ["${#NAME}", "8"],
      ["${NAME/cd/XX}", "abXXefgh"],
      ["${NAME:-1}", "abcdefgh"], // the default operator, not a slice
      ["${NAME: -3}", "fgh"],
      ["${NAME:2:-1}", "cdefg"],
      ["${NAME^^}", "ABCDEFGH"],
      ["$(echo sub)", "$(echo sub)"],
      ["${NAME%gh}", "abcdef"],
      ["${NAME:10}", ""],
      ["${NAME:1:3}", "bcd"],
    ]);
  });

  it("defaults and alternatives; an empty variable counts as unset, an unknown one is empty", () => {
    expectAll([
      ["${EMPTY:-dflt}", "dflt"],
      ["${UNSET-dflt}", "dflt"],
      ["${EMPTY-dflt}", "dflt"], // bash would print nothing: Dagu's lookup makes empty unset
      ["${NAME:-dflt}", "abcdefgh"],
      ["${UNSET:+alt}|${NAME:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", "|alt|||"],
      ["${UNSET:-${NAME}}", "abcdefgh"],
      ["${UNSET:-$NAME}", "abcdefgh"],
      ["${UNSET:-${NAME:0:2}x}", "abx"],
      ["${UNSET:-${UNSET2:-${OFF}}}", "2"],
      ["${UNSET:-a b}", "a b"],
      ["${UNSET:-'q'}|${UNSET:-\"dq\"}|${UNSET:-'a b'}", "q|dq|a b"],
      ['${UNSET:-a"b}c"d}', "ab}cd"],
      ['${NAME:+"$NAME"}', "abcdefgh"],
      ["${UNKNOWNVAR}|$UNKNOWNVAR|$NAME_X", "||"],
      ["${NAME?}|${NAME:?boom}|${NAME:=x}", "abcdefgh|abcdefgh|abcdefgh"],
      ["[${UNSET-}]|${NAME:-}", "[]|abcdefgh"],
      ["$NAME|x$NAME-y|$NAME$NAME|x${NAME}y$", "abcdefgh|xabcdefgh-y|abcdefghabcdefgh|xabcdefghy$"],
      ["$$|$1-$?-$#|a $ b $/ $", "|--|a $ b $/ $"],
    ]);
  });

  it("what the expander can't do makes the whole value Go's os.ExpandEnv: operators empty, $( kept", () => {
    expectAll([
      ["${UNSET:=x}|${UNSET=x}|${EMPTY:=x}", "||"],
      ["${UNSET:?boom} ${NAME:1:2}", " "],
      ["$(echo sub) ${NAME:0:3} $NAME", "$(echo sub)  abcdefgh"],
      ["$((7/0)) ${NAME:0:2}", "$((7/0)) "],
      ["$((X=1))", "$((X=1))"],
      ["x${NAME", "xNAME"],
      ["a${}b", "ab"],
      ["$NAME ${ not a ref } ${NAME", "abcdefgh  NAME"],
      ["${NAME:}|${NAME:1:}|${NAME:2:3:4}|${LOW~~}|${!NOPE}", "||||"],
      ["${NAME.x}-${NAME:0:2}", "-"], // a path into a value that isn't JSON
      ["${J.a.b:-d}", ""],
      ["${UNSET:-\\}", ""],
      ["$EMPTYx$MIXED|${EMPTY:=v}|", " World||"],
    ]);
  });

  it("removes prefixes and suffixes matching glob patterns", () => {
    expectAll([
      ["${PATHY#*/}|${PATHY##*/}", "usr/local/lib/file.tar.gz|file.tar.gz"],
      ["${PATHY%.*}|${PATHY%%.*}", "/usr/local/lib/file.tar|/usr/local/lib/file"],
      ["${NAME#a?c}|${NAME#[a-b]}|${NAME%[!a]}", "defgh|bcdefgh|abcdefg"],
      ["${NAME%%[e-h]*}|${NAME%[e-h]*}|${NAME##*[cd]}|${NAME#*[cd]}", "abcd|abcdefg|efgh|defgh"],
      ["${NAME#*}|${NAME%*}|${NAME%%*}|${NAME##*}", "abcdefgh|abcdefgh||"],
      ["${NAME#}|${NAME##}|${NAME%%}", "abcdefgh|abcdefgh|abcdefgh"],
      ["${STAR#\\*}|${NAME#a\\b}", "x*y|cdefgh"],
      // Quotes don't make a # or % pattern literal here (they do in bash).
      ['${NAME#\'a\'*}|${NAME#"ab"}|${NAME#"*c"}', "bcdefgh|cdefgh|defgh"],
      ["${NAME#[[:alpha:]]}|${LOW% *}|${U#h?}", "bcdefgh|hello|llo wörld"],
      ["${ML#*a?}|${#ML}", "b|3"],
      ["${NAME#[}", "abcdefgh"], // an invalid pattern leaves the value alone
    ]);
    // Go's regexp: the shortest suffix is found after a prefix that stops at a newline (bash: "ab\n").
    const lines = new Map([
      ["V", "ab\nab"],
      ["W", "xa\nya"],
    ]);
    expect(expand("[${V%a*}|${V%%a*}|${W%a}|${W%?a}]", lines)).toBe("[||xa\ny|xa\n]");
  });

  it("replaces the first or every match; /# and /% are no anchors", () => {
    expectAll([
      ["${NAME/cd/XX}|${NAME/cd}|${NAME//}|${NAME/}", "abXXefgh|abefgh|abcdefgh|abcdefgh"],
      ["${NAME//[aeiou]/_}|${NAME/c*/X}|${NAME/?/X}|${NAME//?/.}", "_bcd_fgh|abX|Xbcdefgh|........"],
      ["${NAME/[bd]/_}|${NAME//[b-d]}|${LOW//o/0}", "a_cdefgh|aefgh|hell0 w0rld"],
      ["${PATHY//\\//_}|${PATHY/\\.tar*}", "_usr_local_lib_file.tar.gz|/usr/local/lib/file"],
      ["${STAR//\\*/+}|${STAR//'*'/+}", "+x+y|+x+y"],
      ['${NAME/"*c"/X}|${NAME/"c"/X}', "abcdefgh|abXdefgh"], // quoted: literal here
      [
        "${NAME/#ab/ZZ}|${NAME/%gh/ZZ}|${HASHY/#ab/ZZ}|${NAME/#/X}|${NAME/%/X}",
        "abcdefgh|abcdefgh|xZZy|abcdefgh|abcdefgh",
      ],
      ["${NAME/a/b/c}|${NAME/b*f/[&]}|${NAME/b/$OFF}|${NAME//b/\\/}", "b/cbcdefgh|a[&]gh|a2cdefgh|a\\/cdefgh"],
      ["${NAME/*/Z}|${NAME//*/Z}|${U/ö/oe}", "Z|Z|héllo woerld"],
      ["${NAME/[/X}", "abcdefgh"],
    ]);
  });

  it("lengths and slices: bytes of UTF-8, negative offsets and lengths from the end", () => {
    expectAll([
      ["${#NAME}|${#UNSET}|${#U}|${#J}", "8|0|11|25"],
      ["${NAME:3}|${NAME:3:2}|${NAME: -3}|${NAME: -3:2}|${NAME:(-2)}", "defgh|de|fgh|fg|gh"],
      ["${NAME:2:-1}|${NAME: -3:-1}|${NAME:(-3):2}|${NAME:(-1)}", "cdefg|fg|fg|h"],
      ["${NAME:0:0}|${NAME:2:0}|${NAME: -20}|${NAME:2:-10}|${NAME::3}", "|||cdefgh|abc"],
      ["${NAME: 2}|${NAME:OFF}|${NAME:$OFF:2}|${NAME:${OFF}}|${NAME:OFF:OFF}", "cdefgh|cdefgh|cd|cdefgh|cd"],
      ["${NAME:1+1:2}|${NAME:OFF+1}|${NAME:2:OFF}|${NAME:0x2}|${NAME:1?2:3}", "cd|defgh|cd|abcdefgh|cdefgh"],
      ["${NAME:-1:2}|${NAME:-3:2}|${NAME:-1}${NAME: -1}", "abcdefgh|abcdefgh|abcdefghh"],
      ["${U:1:2}", "é"],
      ["${NAME[0]}|${NAME[1]}|${NAME[@]}|${NAME[*]}|${#NAME[0]}", "abcdefgh||abcdefgh|abcdefgh|8"],
    ]);
  });

  it("changes case, of any character or of those matching a pattern", () => {
    expectAll([
      ["${MIXED^}|${MIXED^^}|${MIXED,}|${MIXED,,}", "Hello World|HELLO WORLD|hello World|hello world"],
      ["${LOW^}|${LOW^^o}|${LOW^^[lo]}|${LOW,,}", "Hello world|hellO wOrld|heLLO wOrLd|hello world"],
      // ^ changes the first character that matches, wherever it is.
      ["${NAME^[c]}|${NAME^^[a-c]}|${NAME^^[^a]}|${NAME,[A-Z]}", "abCdefgh|ABCdefgh|aBCDEFGH|abcdefgh"],
      ["${NAME^^[[:lower:]]}|${NAME^^*}|${NAME,,[}", "ABCDEFGH|ABCDEFGH|abcdefgh"],
      ["${U^^}", "HÉLLO WÖRLD"],
    ]);
  });

  it("arithmetic: 64-bit integers, names read as numbers, bash's precedence", () => {
    expectAll([
      ["$((1+2))|$[1+2]|$((0x10))|$((010))|$((7/2))|$((-7%3))|$((2**10))", "3|3|0|10|3|-1|1024"],
      ["$((1?5:6))|$((2?5:6))|$((OFF*3))|$(($OFF+1))|$((1<2))|$(( 3 - 1 ))", "5|6|6|3|1|2"],
      ["$((5>>1))|$((1<<3))|$((5&3))|$((5|3))|$((5^3))|$((!0))|$((~0))", "2|8|1|7|6|1|-1"],
      ["$((1&&0))|$((0||2))|$((1,2))|$((-2**2))|$((2**-1))", "0|1|2|4|1"],
      ["$((NAME))|$((UNSETX+1))|$((OFFX))|$(( 2 * (3 + 4) ))|$((3 > 2 ? 10 : 20))", "0|1|0|14|10"],
      [
        "$((9223372036854775807+1))|$((-9223372036854775807-1))|$((99999999999999999999))",
        "-9223372036854775808|-9223372036854775808|9223372036854775807",
      ],
    ]);
  });

  it("quotes, backslashes and bare names as Dagu reads the text (a heredoc body)", () => {
    expectAll([
      ['"${NAME}"|"${QV}"|"${UNSET:-x}"|"${NOPE}"', '"abcdefgh"|"a\\"b\\\\c"|"x"|""'], // Go-quoted
      ["'${NAME}'|a'${NAME}'b", "'abcdefgh'|a'abcdefgh'b"],
      ["\\$NAME|\\${NAME}|\\\\${NAME:0:2}", "\\abcdefgh|\\abcdefgh|\\\\ab"],
      ["\\${UNSET:-x}|a\\${NAME:0:2}b|a\\nb\\\\c\\$d", "\\${UNSET:-x}|a\\${NAME:0:2}b|a\\nb\\\\c\\$d"],
      ["${UNSET:-a\\*b}|${UNSET:-a\\}b}|${UNSET:-\\$x}|${NAME:+\\$x}|${NAME:+$}", "a\\*b|a\\}b|\\$x|\\$x|$"],
      ['${UNSET:-a\\\\b}|${UNSET:-"a\\\\b\\$c"}|${UNSET:-"x\\ty"}|${UNSET:-a\\"b}', 'a\\\\b|a\\b$c|x\\ty|a\\"b'],
      ["${UNSET:-$'a\\tb'}|$'x\\ty'|$\"x\"", "a\tb|$'x\\ty'|$\"x\""],
      ["a\\\nb|${LINENO}|$LINENO", "ab|2|2"], // a backslash joins lines; LINENO counts them
      ["x\ny ${LINENO}", "x\ny 2"],
      // Dagu puts known values in first, so a name runs on into one, and a backslash before an
      // empty one escapes what follows.
      ["$LOWx$NAME|$NEGx${EMPTY}x|\\${EMPTY}$$OFF |\\$EMPTY\\${QV%a}|", '||\\$2 |\\\\a"b\\c|'],
      ['\\$EMPTY"${ML}"', '\\"a\\nb"'],
    ]);
  });

  it("indirection, @Q and @E", () => {
    expectAll([
      ["${!REF}|${!N*}|${!REF:-d}", "abcdefgh||abcdefgh"],
      ["${QS@Q}|${UNSET@Q}|${NAME@Q}", "\"it's\"|''|abcdefgh"],
    ]);
    expect(expand("${ES@E}", new Map([["ES", "x\\ty"]]))).toBe("x\ty");
  });

  it("reads JSON fields, also bare; a bare path stops at what isn't a key", () => {
    expectAll([
      ["${J.a.b} $J.a.b ${J}", 'x x {"a":{"b":"x"},"n":[1,2]}'],
      ["$J.a.b/x", '{"a":{"b":"x"},"n":[1,2]}.a.b/x'],
      ["$NAME.txt", "abcdefgh.txt"],
    ]);
    const payload = new Map([["WEBHOOK_PAYLOAD", '{"items":[{"name":"first"}]}']]);
    expect(expand("${WEBHOOK_PAYLOAD.items[0].name}", payload)).toBe("first");
    // dagflare's own: `.0` indices, a missing field empty, an array as JSON (Dagu: <nil>, [1 2]).
    expect(expand("${WEBHOOK_PAYLOAD.items.0.name}", payload)).toBe("first");
    expect(expand("${J.zz} $J.zz ${J.n} ${J.n[1]}", scope)).toBe("  [1,2] 2");
  });

  it("dagflare's own: values are data, and ~ is HOME only when the run has one", () => {
    const tricky = new Map([
      ["A", "${B:-x} $(id) `id` $B"],
      ["B", "b"],
    ]);
    // Dagu re-reads a value it put in; here it stays as it was.
    expect(expand("${A}|${A:0:7}|$A", tricky)).toBe(`${tricky.get("A")}|\${B:-x}|${tricky.get("A")}`);
    expect(expand("~/bin|${UNSET:-~}|x ~/y|~user", scope)).toBe("~/bin|~|x ~/y|~user");
    const home = new Map([["HOME", "/home/step"]]);
    expect(expand("~/bin:${PATH}", home)).toBe("/home/step/bin:"); // Dagu: /root/bin, then its own PATH
    expect(expand("~", home)).toBe("/home/step");
  });
});

describe("where Dagu expands: params and precondition conditions too", () => {
  it("params see the params before them", () => {
    const variables = runScope({
      dagName: "d",
      runId: "r",
      stepName: "s",
      payload: null,
      headers: null,
      params: [
        { key: "P1", value: "abc" },
        { key: "P2", value: "${P1:-x}/${UNSET:-d}" },
        { key: "P3", value: "$P1-${#P1}" },
        { key: "P4", value: "${P1/b/XX}" },
        { key: "P5", value: "${UNSET:?boom} ${P1:1:1}" },
        { key: "P6", value: '"${P1}"' },
      ],
      outcome: null,
      dagEnv: [],
      outputs: [],
    });
    expect([1, 2, 3, 4, 5, 6].map((n) => variables.get(`P${n}`))).toEqual([
      "abc",
      "abc/d",
      "abc-3",
      "aXXc",
      " ",
      '"abc"',
    ]);
  });

  it("conditions compared with expected", () => {
    const variables = new Map([
      ["NAME", "abcdefgh"],
      ["P1", "abc"],
      ["P3", "abc-3"],
      ["P4", "aXXc"],
    ]);
    const condition = (text: string, expected: string) => ({
      condition: text,
      expected,
      negate: false,
      error: undefined,
    });
    const met: [string, string][] = [
      ["${NAME:0:3}", "abc"],
      ["${UNSET:-d}", "d"],
      ["${NAME/cd/XX}-$NAME", "abXXefgh-abcdefgh"],
      ["${NAME##*d}|${#NAME}|${NAME: -2}", "efgh|8|gh"],
      ["[${UNSET:?x}${NAME:0:1}]", "[]"],
      ["[$NOPE|${NOPE}]", "[|]"],
      ["[$(echo hi) ${NAME:0:1}]", "[$(echo hi) ]"],
      ["[${NOPE:-d}|${NAME:-1}|${NAME:0:3}]", "[d|abcdefgh|abc]"],
      ["${P4:0:2}|${P1^^}|$P1", "aX|ABC|abc"],
      ["${P3%-*}", "abc"],
    ];
    for (const [text, expected] of met) {
      expect(unmetPrecondition([condition(text, expected)], variables), text).toBeUndefined();
    }
    expect(unmetPrecondition([condition("${P1:-1}", "c")], variables)).toEqual({
      skip: "precondition not met: '${P1:-1}' is 'abc', expected 'c'",
    });
  });
});
