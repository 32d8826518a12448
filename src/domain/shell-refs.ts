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
import { resolve, type Scope } from "./expand.ts";

export type BoundText = { text: string; variables: Record<string, string> };

const REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[^.[\]}\s]+|\[\d+\])*)\}/;
const HEREDOC = /^<<(-?)[ \t]*(?:'([^'\n]+)'|"([^"\n]+)"|\\?([A-Za-z_][A-Za-z0-9_]*))/;

type Context = "unquoted" | "double" | "single" | "ansi" | "subshell" | "backtick";
type Heredoc = { delimiter: string; quoted: boolean; stripTabs: boolean };

export class ShellBindingError extends Error {}

/** Rewrites the references of shell text; `variables` must be added to the step's environment. */
export function bindShellReferences(text: string, scope: Scope): BoundText {
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
      if (char === '"') stack.pop();
      else if (rest.startsWith("$(")) stack.push("subshell");
      else if (char === "`") stack.push("backtick");
      out += rest.startsWith("$(") ? "$(" : char;
      index += rest.startsWith("$(") ? 2 : 1;
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
    const heredoc = char === "<" ? HEREDOC.exec(rest) : null;
    if (heredoc && !rest.startsWith("<<<")) {
      const delimiter = heredoc[2] ?? heredoc[3] ?? heredoc[4]!;
      pendingHeredocs.push({ delimiter, quoted: heredoc[2] !== undefined || heredoc[3] !== undefined || heredoc[0].includes("\\"), stripTabs: heredoc[1] === "-" });
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
    else if (rest.startsWith("$'")) {
      stack.push("ansi");
      out += "$'";
      index += 2;
      atWordStart = false;
      continue;
    } else if (char === '"') stack.push("double");
    else if (rest.startsWith("$(") && !rest.startsWith("$((")) {
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
 * An unquoted heredoc expands `${…}` like a double-quoted string. A quoted one expands nothing,
 * so the value is written in as text — unless one of its lines would end the heredoc early and
 * turn the rest into commands: then the step is refused.
 */
function bindHeredoc(body: string, heredoc: Heredoc, scope: Scope, variableFor: (reference: string, name: string, path: string) => string): string {
  const pattern = new RegExp(REFERENCE.source.slice(1), "g");
  return body.replace(pattern, (whole, name: string, path: string) => {
    if (!scope.has(name)) return whole;
    if (!heredoc.quoted) return `\${${variableFor(whole, name, path)}}`;
    const value = resolve(scope.get(name), path);
    if (value.split("\n").some((line) => (heredoc.stripTabs ? line.replace(/^\t+/, "") : line) === heredoc.delimiter)) {
      throw new ShellBindingError(`the value of ${whole} contains the heredoc delimiter '${heredoc.delimiter}' on a line of its own`);
    }
    return value;
  });
}
