/**
 * Durations as the seed writes them: `2d 4h 12m 34s`, `5m 6s`, `12s`, `6h 3s` (zero units may
 * be omitted, largest unit first; `ms` is also understood). Internally a duration is a number of
 * milliseconds. A written duration needs its units: a bare `10` could mean seconds or
 * milliseconds, so only `0` is accepted without one.
 */
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
const UNITS = Object.keys(UNIT_MS) as Array<keyof typeof UNIT_MS>;
const DURATION = /^(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?!s))?\s*(?:(\d+)\s*s)?\s*(?:(\d+)\s*ms)?$/;

export const DURATION_EXPECTED = 'a duration such as "2d 4h 12m 34s", "5m 6s" or "12s"';

/** Milliseconds of a written duration; a number is taken as milliseconds already. Throws on anything else. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '0') return 0;
  const match = text === '' ? null : DURATION.exec(text);
  if (!match) throw new Error(`expected ${DURATION_EXPECTED}`);
  const total = UNITS.reduce((sum, unit, i) => sum + Number(match[i + 1] ?? 0) * UNIT_MS[unit], 0);
  if (!Number.isSafeInteger(total)) throw new Error(`expected ${DURATION_EXPECTED} (this one is too long)`);
  return total;
}

/** The written form of a duration, largest unit first: 187_954_000 → `2d 4h 12m 34s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const unit of UNITS) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * UNIT_MS[unit];
  }
  return parts.join(' ');
}
