/**
 * The step graph as SVG: steps in rows by depth (a step sits one row below its deepest
 * dependency), edges from each dependency, each step coloured by its status in the run shown.
 */
import type { Schemas } from "../api/client.ts";
import type { StatusLabel } from "./status-badge.tsx";

type Step = Pick<Schemas["Step"], "name" | "depends">;

/** A mark per status, so the graph doesn't speak in colour alone (aborted and partial share one). */
const STATUS_GLYPHS: Partial<Record<StatusLabel, string>> = {
  succeeded: "✓",
  failed: "✗",
  running: "●",
  queued: "◷",
  aborted: "■",
  partially_succeeded: "◐",
  skipped: "↷",
};

const NODE_WIDTH = 168;
const NODE_HEIGHT = 38;
const GAP_X = 28;
const GAP_Y = 44;
const MARGIN = 12;

/** Each step's dependencies; in a chain, a step that declares none follows the previous one. */
function dependenciesOf(steps: Step[], type: "chain" | "graph"): Map<string, string[]> {
  return new Map(
    steps.map((step, index) => {
      const implied =
        type === "chain" && step.depends.length === 0 && index > 0 ? [steps[index - 1]!.name] : step.depends;
      return [step.name, implied];
    }),
  );
}

type GraphLayout = { positions: Map<string, { x: number; y: number }>; width: number; height: number };

function layoutGraph(steps: Step[], dependencies: Map<string, string[]>): GraphLayout {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0; // a cycle is a spec error; don't loop on it
    visiting.add(name);
    const parents = (dependencies.get(name) ?? []).filter((parent) => dependencies.has(parent));
    const value = parents.length === 0 ? 0 : Math.max(...parents.map(depthOf)) + 1;
    visiting.delete(name);
    depth.set(name, value);
    return value;
  };
  const rows: string[][] = [];
  for (const step of steps) {
    const row = rows[depthOf(step.name)] ?? [];
    row.push(step.name);
    rows[depthOf(step.name)] = row;
  }
  const widest = Math.max(1, ...rows.map((row) => row?.length ?? 0));
  const width = MARGIN * 2 + widest * NODE_WIDTH + (widest - 1) * GAP_X;
  const positions = new Map<string, { x: number; y: number }>();
  rows.forEach((row, rowIndex) => {
    const rowWidth = row.length * NODE_WIDTH + (row.length - 1) * GAP_X;
    const left = (width - rowWidth) / 2;
    row.forEach((name, column) => {
      positions.set(name, { x: left + column * (NODE_WIDTH + GAP_X), y: MARGIN + rowIndex * (NODE_HEIGHT + GAP_Y) });
    });
  });
  const height = MARGIN * 2 + rows.length * NODE_HEIGHT + Math.max(0, rows.length - 1) * GAP_Y;
  return { positions, width, height };
}

type Props = {
  steps: Step[];
  type: "chain" | "graph";
  /** Step name → status label (from the run shown); steps without one are drawn as not started. */
  statuses?: Map<string, StatusLabel>;
  selected?: string;
  onSelect?: (stepName: string) => void;
};

export function DagGraph({ steps, type, statuses, selected, onSelect }: Props) {
  if (steps.length === 0) return <p class="muted">This DAG has no steps.</p>;
  const dependencies = dependenciesOf(steps, type);
  const { positions, width, height } = layoutGraph(steps, dependencies);
  const summary = steps.map((step) => `${step.name}: ${statuses?.get(step.name) ?? "not started"}`).join(", ");
  return (
    <div class="graph-scroll">
      <svg
        class="dag-graph"
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role={onSelect ? "group" : "img"}
        aria-label={`Step graph. ${summary}`}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="edge-head" />
          </marker>
        </defs>
        {steps.flatMap((step) =>
          (dependencies.get(step.name) ?? []).flatMap((parent) => {
            const from = positions.get(parent);
            const to = positions.get(step.name);
            if (!from || !to) return [];
            const x1 = from.x + NODE_WIDTH / 2;
            const y1 = from.y + NODE_HEIGHT;
            const x2 = to.x + NODE_WIDTH / 2;
            const y2 = to.y - 2;
            const bend = (y2 - y1) / 2;
            return [
              <path
                key={`${parent}->${step.name}`}
                class="edge"
                d={`M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`}
                marker-end="url(#arrow)"
              />,
            ];
          }),
        )}
        {steps.map((step) => {
          const at = positions.get(step.name)!;
          const status: StatusLabel = statuses?.get(step.name) ?? "not_started";
          const select = onSelect ? () => onSelect(step.name) : undefined;
          return (
            <g
              key={step.name}
              class={`node status-${status}${selected === step.name ? " selected" : ""}`}
              transform={`translate(${at.x} ${at.y})`}
              data-step={step.name}
              data-status={status}
              {...(select
                ? {
                    role: "button",
                    // SVG reads only the lowercase attribute (Preact writes tabIndex as is).
                    tabindex: 0,
                    "aria-label": `${step.name}: ${status.replaceAll("_", " ")}`,
                    onClick: select,
                    onKeyDown: (event: KeyboardEvent) => {
                      if (event.key === "Enter" || event.key === " ") {
                        event.preventDefault();
                        select();
                      }
                    },
                  }
                : {})}
            >
              <title>{`${step.name} (${status.replaceAll("_", " ")})`}</title>
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="8" />
              <text x={NODE_WIDTH / 2} y={NODE_HEIGHT / 2} dominant-baseline="central" text-anchor="middle">
                {STATUS_GLYPHS[status] ? `${STATUS_GLYPHS[status]} ` : ""}
                {step.name.length > 20 ? `${step.name.slice(0, 19)}…` : step.name}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
