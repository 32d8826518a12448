/**
 * A strict reader of Prometheus' text format (0.0.4), for tests of GET /metrics: it throws on
 * a line a scraper would reject, and checks what histograms promise.
 */

export type PromSample = { name: string; labels: Record<string, string>; value: number };
export type PromFamily = { name: string; type: string; help: string; samples: PromSample[] };

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"] as const;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a number: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = LABEL.exec(rest);
    if (!match) throw new Error(`bad labels: ${line}`);
    const [whole, key, value] = match as unknown as [string, string, string];
    if (key in labels) throw new Error(`label ${key} twice: ${line}`);
    labels[key] = value.replace(/\\(["\\n])/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
    rest = rest.slice(whole.length);
  }
  return labels;
}

/** The families of a /metrics text, in order; throws on any malformed line or broken histogram. */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  if (!text.endsWith("\n")) throw new Error("the text must end with a newline");
  const families = new Map<string, PromFamily>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, keyword, name, rest] = comment as unknown as [string, string, string, string];
      const family = families.get(name) ?? { name, type: "untyped", help: "", samples: [] };
      if (family.samples.length > 0) throw new Error(`${keyword} after the samples of ${name}`);
      if (keyword === "HELP") family.help = rest;
      else if (["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) family.type = rest;
      else throw new Error(`unknown type: ${line}`);
      families.set(name, family);
      continue;
    }
    if (line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, valueText] = match as unknown as [string, string, string | undefined, string];
    const suffix = HISTOGRAM_SUFFIXES.find((each) => name.endsWith(each));
    const histogram = suffix && families.get(name.slice(0, -suffix.length));
    const family = histogram?.type === "histogram" ? histogram : families.get(name);
    if (!family) throw new Error(`a sample without # TYPE: ${line}`);
    if (family.type === "histogram" && family.name === name) throw new Error(`a histogram's bare name: ${line}`);
    family.samples.push({ name, labels: parseLabels(labelText ?? "", line), value: parseValue(valueText, line) });
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

/** Per series (labels but `le`): buckets by rising `le`, cumulative, ending with +Inf = _count, and a _sum. */
function checkHistogram(family: PromFamily): void {
  const series = new Map<string, { buckets: PromSample[]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(rest);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push(sample);
    } else if (sample.name.endsWith("_sum")) entry.sum = sample.value;
    else entry.count = sample.value;
  }
  for (const [key, { buckets, sum, count }] of series) {
    const where = `${family.name}${key}`;
    if (sum === undefined || count === undefined) throw new Error(`${where}: no _sum or _count`);
    const bounds = buckets.map((bucket) => parseValue(bucket.labels.le!, bucket.labels.le!));
    if (bounds.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${where}: the last bucket is not +Inf`);
    bounds.forEach((bound, i) => {
      if (i > 0 && !(bound > bounds[i - 1]!)) throw new Error(`${where}: le not rising at ${bound}`);
      if (i > 0 && buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${where}: buckets not cumulative`);
    });
    if (buckets.at(-1)!.value !== count) throw new Error(`${where}: +Inf is not _count`);
  }
}

/** One series of a histogram family by its labels (without `le`): bucket values by `le`, sum and count. */
export function histogramSeries(family: PromFamily | undefined, labels: Record<string, string>) {
  const matches = (sample: PromSample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value) &&
    Object.keys(sample.labels).filter((key) => key !== "le").length === Object.keys(labels).length;
  const samples = family?.samples.filter(matches) ?? [];
  if (samples.length === 0) return undefined;
  return {
    buckets: new Map(
      samples.filter((sample) => sample.name.endsWith("_bucket")).map((sample) => [sample.labels.le!, sample.value]),
    ),
    sum: samples.find((sample) => sample.name.endsWith("_sum"))!.value,
    count: samples.find((sample) => sample.name.endsWith("_count"))!.value,
  };
}
