/** Vite's `?raw` imports: a fixture file's exact text (a request body sent byte for byte). */
declare module "*?raw" {
  const text: string;
  export default text;
}
