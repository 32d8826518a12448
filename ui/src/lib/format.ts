/** JSON text indented for reading, or the text as it came when it isn't JSON (a form post, plain text). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
