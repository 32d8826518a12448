/**
 * Checks HTTP answers against an OpenAPI 3.0 document (Dagu's): which operation a request is,
 * whether the answer's status is declared for it (exactly, or by `default`), and whether its body
 * validates against that response's schema. Used by `npm run contract`; pure, so it is unit-tested
 * on tiny inline documents.
 *
 * OpenAPI 3.0 schemas are JSON Schema draft-4-ish plus `nullable`; Ajv 8 knows `nullable` and,
 * not strict, ignores `example`, `x-…` and other annotations. Formats are not checked: Dagu's
 * document uses formats (`float`, `date-time`) loosely and its own server doesn't enforce them.
 */
import { Ajv, type ErrorObject } from "ajv";

export type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, unknown>;
};

export type Operation = {
  id: string;
  method: string;
  path: string;
  /** How many path segments are literal: the most specific template wins (`/dags/search` over `/dags/{fileName}`). */
  literals: number;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
};

export type Violation = { operation: string; status: number; problem: string };

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

export class Contract {
  readonly operations: Operation[];
  readonly #ajv: Ajv;
  readonly #validators = new Map<string, ReturnType<Ajv["compile"]>>();

  constructor(document: OpenApiDocument) {
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, discriminator: false });
    // The whole document is one schema resource, so `#/components/schemas/X` resolves inside it
    // and a response schema is addressed by its JSON pointer.
    this.#ajv.addSchema({ ...document, $id: "openapi" });
    this.operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, raw]) => {
          const operation = raw as { operationId?: string; responses?: Operation["responses"] };
          const segments = path.split("/").filter(Boolean);
          const source = segments
            .map((segment) => (/^\{.+\}$/.test(segment) ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
            .join("/");
          return {
            id: operation.operationId ?? `${method} ${path}`,
            method: method.toUpperCase(),
            path,
            literals: segments.filter((segment) => !segment.startsWith("{")).length,
            pattern: new RegExp(`^/${source}$`),
            responses: operation.responses ?? {},
          };
        }),
    );
  }

  /** The operation a request is (path relative to the API's base, no query), or undefined. */
  match(method: string, path: string): Operation | undefined {
    const candidates = this.operations.filter(
      (operation) => operation.method === method.toUpperCase() && operation.pattern.test(path),
    );
    return candidates.sort((a, b) => b.literals - a.literals)[0];
  }

  /**
   * What is wrong with an answer to `operation`: an undeclared status, a wrong content type, or
   * each schema error (`path: message`). Empty when it keeps the contract.
   */
  check(operation: Operation, status: number, contentType: string, body: string): string[] {
    const key = String(status) in operation.responses ? String(status) : "default";
    const response = operation.responses[key];
    if (!response)
      return [`status ${status} is not declared (declared: ${Object.keys(operation.responses).join(", ")})`];
    const content = response.content;
    if (!content || Object.keys(content).length === 0) return [];
    const type = contentType.split(";")[0]!.trim().toLowerCase();
    const media = Object.keys(content).find((declared) => declared.toLowerCase() === type);
    if (!media) return [`content type '${type}' is not declared (declared: ${Object.keys(content).join(", ")})`];
    const schema = content[media]?.schema;
    if (schema === undefined) return [];
    let value: unknown = body;
    if (media.endsWith("json")) {
      try {
        value = JSON.parse(body);
      } catch {
        return ["the body is not JSON"];
      }
    }
    const validate = this.#validator(operation, key, media);
    if (validate(value)) return [];
    return (validate.errors ?? []).map(describe);
  }

  #validator(operation: Operation, status: string, media: string) {
    const ref = `openapi#/${pointer("paths", operation.path, operation.method.toLowerCase(), "responses", status, "content", media, "schema")}`;
    let validate = this.#validators.get(ref);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: ref });
      this.#validators.set(ref, validate);
    }
    return validate;
  }
}

export function describe(error: ErrorObject): string {
  const where = error.instancePath || "(body)";
  const extra =
    error.keyword === "enum"
      ? ` (${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)})`
      : error.keyword === "additionalProperties"
        ? ` ('${(error.params as { additionalProperty: string }).additionalProperty}')`
        : "";
  return `${where}: ${error.message ?? error.keyword}${extra}`;
}
