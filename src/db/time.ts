/** Timestamps are stored and returned as RFC 3339 UTC strings. */
export const now = (): string => new Date().toISOString();
