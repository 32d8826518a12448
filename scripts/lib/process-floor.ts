/**
 * What this machine charges for a process, whoever starts it: the floor under every command step
 * (each is a fresh `bash -c`, as in Dagu), measured from a small program (sh) so that no
 * spawner's own cost is in it. `serial` is one process after another; `atOnce` is `count` started
 * together, as a fan-out starts them. On the 2-core Firecracker VMs these benches run on,
 * `atOnce` is about `serial`: process creation does not run in parallel there, so 30 processes
 * cost 30 times one, whatever the engine.
 */
import { spawnSync } from "node:child_process";
import { median } from "./local-instance.ts";

export type ProcessFloor = { perProcessMs: number; serialMs: number; atOnceMs: number; count: number };

export function processFloor(count = 30): ProcessFloor {
  const timed = (script: string) => {
    const begin = performance.now();
    const { status } = spawnSync("sh", ["-c", script], { stdio: "ignore" });
    if (status !== 0) throw new Error(`the process floor's sh exited ${status}`);
    return performance.now() - begin;
  };
  // `body` ends with its own terminator: `;` waits for the process, `&` does not.
  const loop = (body: string) => `i=0; while [ $i -lt ${count} ]; do ${body} i=$((i+1)); done`;
  const serialMs = timed(loop("bash -c true;"));
  const atOnceMs = timed(`${loop("bash -c true &")}; wait`);
  return { perProcessMs: serialMs / count, serialMs, atOnceMs, count };
}

/** The floor in one line, for a bench's output. */
export function describeFloor(floor: ProcessFloor): string {
  return (
    `this machine's floor: \`bash -c true\` started by sh takes ${floor.perProcessMs.toFixed(1)} ms; ` +
    `${floor.count} of them take ${floor.serialMs.toFixed(0)} ms one after another, ${floor.atOnceMs.toFixed(0)} ms started at once`
  );
}

/** The median of each figure over several measurements (one per round). */
export function medianFloor(floors: ProcessFloor[]): ProcessFloor {
  return {
    perProcessMs: median(floors.map((floor) => floor.perProcessMs)),
    serialMs: median(floors.map((floor) => floor.serialMs)),
    atOnceMs: median(floors.map((floor) => floor.atOnceMs)),
    count: floors[0]!.count,
  };
}
