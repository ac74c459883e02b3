/** One measured figure, and the table `npm run bench` prints of them. */
export interface Row {
  section: string;
  measure: string;
  /** null: not measured (the note says why, e.g. its service is not configured). */
  value: number | null;
  unit: string;
  note?: string;
}

const format = (value: number): string =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value >= 10 ? value.toFixed(1) : value.toFixed(2);

export function table(rows: Row[]): string {
  const cells = rows.map((r) => [r.section, r.measure, r.value === null ? '-' : `${format(r.value)} ${r.unit}`, r.note ?? '']);
  const widths = [0, 1, 2].map((c) => Math.max(...cells.map((row) => row[c].length)));
  return cells.map((row) => row.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell)).join('  ').trimEnd()).join('\n');
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * timeRuns for several functions taking turns, run after run, so that a change of the
 * machine's load weighs on each alike (their ratio is what is reported): one sorted list each.
 */
export async function timeAlternating(reps: number, fns: Array<() => unknown>): Promise<number[][]> {
  for (let i = 0; i < 2; i++) for (const fn of fns) await fn();
  const times = fns.map(() => [] as number[]);
  for (let i = 0; i < reps; i++) {
    for (const [f, fn] of fns.entries()) {
      const start = performance.now();
      await fn();
      times[f].push(performance.now() - start);
    }
  }
  return times.map((runs) => runs.sort((a, b) => a - b));
}

/** Milliseconds of each of `reps` runs of `fn`, sorted, after two warm-up runs. */
export async function timeRuns(reps: number, fn: () => unknown): Promise<number[]> {
  for (let i = 0; i < 2; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}
