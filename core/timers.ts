/**
 * Timers for configured durations. Node's timers take at most 2^31−1 ms (24.8 days) and fire
 * after 1 ms when given more; a `30d` purge interval would then run every millisecond. These
 * chain timers of at most that length instead.
 */

/** setTimeout's largest delay. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

export interface LongTimer {
  clear(): void;
}

/** Calls `fn` once after `delay` ms, however long. `keepAlive`: the process waits for it. */
export function setLongTimeout(fn: () => void, delay: number, { keepAlive = false } = {}): LongTimer {
  let timer: NodeJS.Timeout;
  const wait = (remaining: number) => {
    timer = setTimeout(() => (remaining > MAX_TIMER_DELAY ? wait(remaining - MAX_TIMER_DELAY) : fn()), Math.min(remaining, MAX_TIMER_DELAY));
    if (!keepAlive) timer.unref();
  };
  wait(delay);
  return { clear: () => clearTimeout(timer) };
}

/** Calls `fn` every `interval` ms, however long, until cleared; never keeps the process alive. */
export function setLongInterval(fn: () => void, interval: number): LongTimer {
  if (interval <= MAX_TIMER_DELAY) {
    const timer = setInterval(fn, interval);
    timer.unref();
    return { clear: () => clearInterval(timer) };
  }
  let current: LongTimer;
  const next = () => {
    current = setLongTimeout(() => {
      next();
      fn();
    }, interval);
  };
  next();
  return { clear: () => current.clear() };
}
