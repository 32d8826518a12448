/**
 * A process and everything it started, read from /proc (Linux): for the memory figures of the
 * benchmarks and for stopping a server whose children outlive it. Children found by parent pid,
 * so a child in a process group or session of its own (dev's reaper, Dagu's runs) still counts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** `pid` and its descendants, `pid` first; empty when it is gone. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      // The command name may hold spaces and parentheses: the fields after it start after the last ")".
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  if (!parents.has(pid)) return [];
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i] && !tree.includes(child)) tree.push(child);
  }
  return tree;
}

export type TreeMemory = {
  processes: number;
  /** Resident memory summed over the processes, in MB: shared pages (libraries) count once per process. */
  rssMb: number;
  /**
   * Proportional set size summed, in MB (each shared page split among the processes that map it),
   * from /proc/PID/smaps_rollup; undefined where the kernel has no such file or it can't be read.
   */
  pssMb: number | undefined;
};

/** The memory of `pid` and all its descendants. */
export function treeMemory(pid: number): TreeMemory {
  let rssKb = 0;
  let pssKb: number | undefined = existsSync(`/proc/${pid}/smaps_rollup`) ? 0 : undefined;
  let processes = 0;
  for (const member of processTree(pid)) {
    try {
      rssKb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${member}/status`, "latin1"))?.[1] ?? 0);
      processes++;
    } catch {
      continue; // gone meanwhile
    }
    if (pssKb === undefined) continue;
    try {
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${member}/smaps_rollup`, "latin1"))?.[1] ?? 0);
    } catch {
      pssKb = undefined;
    }
  }
  return {
    processes,
    rssMb: Math.round(rssKb / 1024),
    pssMb: pssKb === undefined ? undefined : Math.round(pssKb / 1024),
  };
}
