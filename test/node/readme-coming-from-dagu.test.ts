/** The README's "Coming from Dagu" tables name every Dagu field dagflare refuses, so none is refused undocumented. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { camelToSnake } from "../../src/domain/dialect.ts";
import { refusedFieldNames } from "../../src/domain/unsupported-fields.ts";

const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Coming from Dagu"), readme.indexOf("## Decisions"));

it("names every refused field, in either of Dagu's spellings", () => {
  const { dag, step, handler, defaults } = refusedFieldNames();
  const undocumented = [...new Set([...dag, ...step, ...handler, ...defaults])].filter(
    (key) =>
      !section.includes(`\`${key}\``) &&
      !section.includes(`\`${camelToSnake(key)}\``) &&
      !section.includes(`${camelToSnake(key)}(`),
  );
  expect(undocumented).toEqual([]);
});
