/**
 * Durations as the seed writes them: `2d 4h 12m 34s`, `5m 6s`, `12s` (units may be omitted,
 * order is largest first). A bare number is read as milliseconds.
 */
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const DURATION = /^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?!s))?\s*(?:(\d+)\s*s)?\s*(?:(\d+)\s*ms)?\s*$/;

export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value !== 'string' || value.trim() === '') throw new Error('expected a duration such as "2d 4h 12m 34s", "5m 6s" or "12s"');
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const match = DURATION.exec(value);
  if (!match) throw new Error('expected a duration such as "2d 4h 12m 34s", "5m 6s" or "12s"');
  const [, d, h, m, s, ms] = match;
  return (Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h + Number(m ?? 0) * UNIT_MS.m
    + Number(s ?? 0) * UNIT_MS.s + Number(ms ?? 0));
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join(' ');
}
