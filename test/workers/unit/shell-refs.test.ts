import { describe, expect, it } from "vitest";
import { bindShellReferences, ShellBindingError } from "../../../src/domain/shell-refs.ts";

const scope = new Map([
  ["WEBHOOK_PAYLOAD", JSON.stringify({ branch: "$(touch /tmp/x)", commit: "abc", list: [{ name: "`id`" }] })],
  ["NAME", "world"],
]);

describe("binding ${VAR} references in shell text", () => {
  it("turns path references into variables in the context they were written in", () => {
    const bound = bindShellReferences(
      'echo "Building branch ${WEBHOOK_PAYLOAD.branch} at commit ${WEBHOOK_PAYLOAD.commit}"',
      scope,
    );
    expect(bound.text).toBe('echo "Building branch ${DAGFLARE_REF_1} at commit ${DAGFLARE_REF_2}"');
    expect(bound.variables).toEqual({ DAGFLARE_REF_1: "$(touch /tmp/x)", DAGFLARE_REF_2: "abc" });
  });

  it("leaves plain in-scope names to the environment and unknown names to the shell", () => {
    expect(bindShellReferences('echo ${NAME} "${NAME}" ${HOME}', scope)).toEqual({
      text: 'echo ${NAME} "${NAME}" ${HOME}',
      variables: {},
    });
  });

  it("closes and reopens single and ANSI-C quotes around the variable", () => {
    expect(bindShellReferences("echo '${NAME} and ${WEBHOOK_PAYLOAD.list[0].name}'", scope).text).toBe(
      `echo ''"\${NAME}"' and '"\${DAGFLARE_REF_1}"''`,
    );
    // A step without a shell runs in the runner's default, bash.
    expect(bindShellReferences("echo $'${NAME}\\n'", scope).text).toBe(`echo $''"\${NAME}"$'\\n'`);
    // POSIX sh (dash) has no ANSI-C quoting: there `$'` is a `$` and a single quote.
    expect(bindShellReferences("echo $'${NAME}'", scope, "sh").text).toBe(`echo $''"\${NAME}"''`);
  });

  it("one variable per distinct reference; escapes, comments and subshells keep their meaning", () => {
    const bound = bindShellReferences(
      'x=$(echo "${WEBHOOK_PAYLOAD.commit}") # ${WEBHOOK_PAYLOAD.commit}\necho \\${NAME} `echo ${WEBHOOK_PAYLOAD.commit}`',
      scope,
    );
    expect(bound.text).toBe(
      'x=$(echo "${DAGFLARE_REF_1}") # ${WEBHOOK_PAYLOAD.commit}\necho \\${NAME} `echo ${DAGFLARE_REF_1}`',
    );
    expect(Object.keys(bound.variables)).toEqual(["DAGFLARE_REF_1"]);
  });

  it("heredocs: unquoted ones get variables, quoted ones only plain values as text", () => {
    const script =
      "cat <<EOF\nBranch: ${WEBHOOK_PAYLOAD.commit} '${NAME}'\nEOF\ncat <<'END'\n${NAME}\nEND\necho '${NAME}'";
    expect(bindShellReferences(script, scope).text).toBe(
      `cat <<EOF\nBranch: \${DAGFLARE_REF_1} '\${NAME}'\nEOF\ncat <<'END'\nworld\nEND\necho ''"\${NAME}"''`,
    );
    // A value that would end the heredoc early, alone or together with another one, or run as code.
    const hostile = new Map([
      ["V", "x\nEND\nrm -rf ~"],
      ["A", "\nE"],
      ["B", "ND\ntouch /tmp/x"],
      ["C", "$(id)"],
    ]);
    expect(() => bindShellReferences("cat <<'END'\n${V}\nEND", hostile)).toThrow(ShellBindingError);
    expect(() => bindShellReferences("cat <<'END'\n${A}${B}\nEND", hostile)).toThrow(ShellBindingError);
    expect(() => bindShellReferences("bash <<'END'\necho ${C}\nEND", hostile)).toThrow(ShellBindingError);
  });

  it("a here-string is not a heredoc; later lines keep their quoting", () => {
    const bound = bindShellReferences('jq -r .ref <<<"${WEBHOOK_PAYLOAD}"\necho "${WEBHOOK_PAYLOAD.branch}"', scope);
    expect(bound.text).toBe('jq -r .ref <<<"${WEBHOOK_PAYLOAD}"\necho "${DAGFLARE_REF_1}"');
  });

  it("arithmetic takes integers only; shell parameter operators are left to the shell", () => {
    const numbers = new Map([["P", JSON.stringify({ n: 3, bad: "a[$(touch /tmp/x)]" })]]);
    expect(bindShellReferences('echo $(( ${P.n} + 1 )) "$(( ${P.n} ))"', numbers).text).toBe(
      'echo $(( ${DAGFLARE_REF_1} + 1 )) "$(( ${DAGFLARE_REF_1} ))"',
    );
    expect(() => bindShellReferences("echo $(( ${P.bad} + 1 ))", numbers)).toThrow(ShellBindingError);
    expect(bindShellReferences('git checkout "${P.branch:-main}"', numbers)).toEqual({
      text: 'git checkout "${P.branch:-main}"',
      variables: {},
    });
  });
});
