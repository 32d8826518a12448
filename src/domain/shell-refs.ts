/**
 * Dagu expands `${VAR}` into a command's text before the shell reads it, so a webhook payload
 * value like `$(touch /tmp/x)` or `"; rm -rf ~` becomes code. Here values reach the shell as
 * data: every reference becomes a reference to an environment variable holding the value,
 * written so that the shell sees it in the same quoting context the author wrote it in:
 *
 *   unquoted / "double quoted" / unquoted heredoc   ${VAR} stays; ${VAR.path} → ${DAGFLARE_REF_n}
 *   'single quoted'                                 '…'"${DAGFLARE_REF_n}"'…'  (closed and reopened)
 *   $'ANSI-C quoted'                                '"${DAGFLARE_REF_n}"$'
 *   quoted heredoc (<<'EOF')                        the value itself: that body is never expanded
 *
 * A variable's value is substituted by the shell, once: it is never parsed as code, and a value
 * that contains `${OTHER}` stays as written. Names that are not in the scope (`${HOME}`) are left
 * to the shell.
 */
import { REFERENCE_SOURCE, resolve, type Scope } from "./expand.ts";

export type BoundText = { text: string; variables: Record<string, string> };

const REFERENCE = new RegExp(`^${REFERENCE_SOURCE}`);
const HEREDOC = /^<<(-?)[ \t]*(?:'([^'\n]+)'|"([^"\n]+)"|\\?([A-Za-z_][A-Za-z0-9_]*))/;

type Context = "unquoted" | "double" | "single" | "ansi" | "subshell" | "backtick" | "arithmetic";
type Heredoc = { delimiter: string; quoted: boolean; stripTabs: boolean };

export class ShellBindingError extends Error {}

/**
 * The shell of a step that names none: the runner's `$SHELL` (Dagu's rule), which the runner
 * image sets to bash. Only its quoting rules matter here.
 */
const DEFAULT_SHELL = "bash";

/** Rewrites the references of shell text; `variables` must be added to the step's environment. */
export function bindShellReferences(text: string, scope: Scope, shell = DEFAULT_SHELL): BoundText {
  // `$'…'` is ANSI-C quoting in bash, zsh and ksh; dash and POSIX sh read it as `$` and a quote.
  const ansiC = /(^|\/)(bash|zsh|ksh|mksh)$/.test(shell.trim().split(/\s+/)[0] ?? "");
  const variables: Record<string, string> = {};
  const names = new Map<string, string>();
  /** The variable that carries a reference's value (plain in-scope names carry themselves). */
  const variableFor = (reference: string, name: string, path: string): string => {
    if (path === "" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return name;
    let variable = names.get(reference);
    if (!variable) {
      variable = `DAGFLARE_REF_${names.size + 1}`;
      names.set(reference, variable);
      variables[variable] = resolve(scope.get(name), path);
    }
    return variable;
  };

  const stack: Context[] = ["unquoted"];
  const pendingHeredocs: Heredoc[] = [];
  let out = "";
  let index = 0;
  let atWordStart = true;

  while (index < text.length) {
    const context = stack.at(-1)!;
    const rest = text.slice(index, index + 256);
    const char = text[index]!;

    const reference = char === "$" ? REFERENCE.exec(rest) : null;
    if (reference && scope.has(reference[1]!)) {
      const [whole, name, path] = reference as unknown as [string, string, string];
      if (context === "arithmetic" && !/^-?\d+$/.test(resolve(scope.get(name), path))) {
        // bash evaluates `a[$(…)]` inside $(( )): only a plain integer may go there.
        throw new ShellBindingError(`the value of ${whole} is used in arithmetic but is not an integer`);
      }
      const variable = variableFor(whole, name, path);
      if (context === "single") out += `'"\${${variable}}"'`;
      else if (context === "ansi") out += `'"\${${variable}}"$'`;
      else out += `\${${variable}}`;
      index += whole.length;
      atWordStart = false;
      continue;
    }

    if (context === "single") {
      if (char === "'") stack.pop();
      out += char;
      index++;
      continue;
    }
    if (char === "\\") {
      out += text.slice(index, index + 2);
      index += 2;
      atWordStart = false;
      continue;
    }
    if (context === "ansi") {
      if (char === "'") stack.pop();
      out += char;
      index++;
      continue;
    }
    if (context === "double") {
      if (rest.startsWith("$((")) {
        stack.push("arithmetic");
        out += "$((";
        index += 3;
        continue;
      }
      if (char === '"') stack.pop();
      else if (rest.startsWith("$(")) stack.push("subshell");
      else if (char === "`") stack.push("backtick");
      out += rest.startsWith("$(") ? "$(" : char;
      index += rest.startsWith("$(") ? 2 : 1;
      continue;
    }

    if (context === "arithmetic") {
      if (rest.startsWith("))")) {
        stack.pop();
        out += "))";
        index += 2;
        continue;
      }
      out += char;
      index++;
      continue;
    }

    // Unquoted, inside $( … ) or inside backticks.
    if (char === "#" && atWordStart) {
      const end = text.indexOf("\n", index);
      const stop = end === -1 ? text.length : end;
      out += text.slice(index, stop);
      index = stop;
      continue;
    }
    if (rest.startsWith("<<<")) {
      // A here-string (bash): its word is ordinary shell text, not a heredoc.
      out += "<<<";
      index += 3;
      atWordStart = true;
      continue;
    }
    const heredoc = char === "<" ? HEREDOC.exec(rest) : null;
    if (heredoc) {
      const delimiter = heredoc[2] ?? heredoc[3] ?? heredoc[4]!;
      pendingHeredocs.push({
        delimiter,
        quoted: heredoc[2] !== undefined || heredoc[3] !== undefined || heredoc[0].includes("\\"),
        stripTabs: heredoc[1] === "-",
      });
      out += heredoc[0];
      index += heredoc[0].length;
      atWordStart = false;
      continue;
    }
    if (char === "\n" && pendingHeredocs.length > 0) {
      out += "\n";
      index++;
      for (const pending of pendingHeredocs.splice(0)) {
        const body = heredocBody(text, index, pending);
        out += bindHeredoc(body.text, pending, scope, variableFor);
        index = body.end;
      }
      atWordStart = true;
      continue;
    }
    if (char === "'") stack.push("single");
    else if (ansiC && rest.startsWith("$'")) {
      stack.push("ansi");
      out += "$'";
      index += 2;
      atWordStart = false;
      continue;
    } else if (char === '"') stack.push("double");
    else if (rest.startsWith("$((")) {
      stack.push("arithmetic");
      out += "$((";
      index += 3;
      continue;
    } else if (rest.startsWith("$(")) {
      stack.push("subshell");
      out += "$(";
      index += 2;
      atWordStart = true;
      continue;
    } else if (char === ")" && context === "subshell") stack.pop();
    else if (char === "`") {
      if (context === "backtick") stack.pop();
      else stack.push("backtick");
    }
    out += char;
    index++;
    atWordStart = /[\s;&|()`]/.test(char);
  }
  return { text: out, variables };
}

/** A heredoc's body (up to and including its delimiter line) starting at `start`. */
function heredocBody(text: string, start: number, heredoc: Heredoc): { text: string; end: number } {
  let position = start;
  while (position < text.length) {
    const lineEnd = text.indexOf("\n", position);
    const end = lineEnd === -1 ? text.length : lineEnd + 1;
    const line = text.slice(position, lineEnd === -1 ? text.length : lineEnd);
    position = end;
    if ((heredoc.stripTabs ? line.replace(/^\t+/, "") : line) === heredoc.delimiter) break;
  }
  return { text: text.slice(start, position), end: position };
}

/**
 * An unquoted heredoc expands `${…}` like a double-quoted string. A quoted one (`<<'EOF'`)
 * expands nothing, so a value can only be written in as text — and such a body is often fed to
 * a shell or another interpreter (`bash <<'EOF'`, `ssh host <<'EOF'`). So only plain values
 * (letters, digits and `._,:@+=/-`, no spaces or newlines, which also can't end the heredoc)
 * are written in; anything else refuses the step.
 */
function bindHeredoc(
  body: string,
  heredoc: Heredoc,
  scope: Scope,
  variableFor: (reference: string, name: string, path: string) => string,
): string {
  const pattern = new RegExp(REFERENCE_SOURCE, "g");
  return body.replace(pattern, (whole, name: string, path: string) => {
    if (!scope.has(name)) return whole;
    if (!heredoc.quoted) return `\${${variableFor(whole, name, path)}}`;
    const value = resolve(scope.get(name), path);
    if (!/^[\w.,:@+=/-]*$/.test(value)) {
      throw new ShellBindingError(
        `the value of ${whole} can't be written into a quoted heredoc (<<'${heredoc.delimiter}'): use an unquoted one`,
      );
    }
    return value;
  });
}
