/**
 * JSON columns are parsed here, and only here, against the shape they were written with: a value
 * of another shape is a corrupt row, and it fails naming its column instead of travelling on
 * under a cast.
 */
import { z } from "zod";

export function parseJsonColumn<T>(schema: z.ZodType<T>, text: string, column: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text, and some columns hold decrypted secrets.
    throw new Error(`${column}: the stored value is not JSON`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`${column}: the stored JSON has an unexpected shape: ${result.error.message}`);
  return result.data;
}

export const StringList = z.array(z.string());
export const StringMap = z.record(z.string(), z.string());
