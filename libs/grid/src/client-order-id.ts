import { Dec, type Side } from '@mm/domain';

/**
 * Deterministic client order ids: `<prefix><B|S><level in ticks>g<generation>`, e.g. `mm1B955001g3`.
 * A pure function of strategy instance, slot level, side and the slot's generation counter, so a
 * restarted engine can look up exactly the order it may have sent (no time-based ids). Fits the
 * strictest venue rules we target: ≤ 32 chars of [A-Za-z0-9] (Binance allows 36, OKX 32 alphanumerics).
 */
export interface ParsedClientOrderId {
  prefix: string;
  side: Side;
  levelTicks: string;
  generation: number;
}

const PREFIX_RE = /^[a-z][a-z0-9]{1,7}$/;

export function assertPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`instance id "${prefix}" must match ${PREFIX_RE} (2–8 lower-case alphanumerics)`);
}

export function makeClientOrderId(prefix: string, side: Side, level: Dec, tickSize: Dec, generation: number): string {
  assertPrefix(prefix);
  if (!Number.isSafeInteger(generation) || generation < 0) throw new Error(`generation must be a non-negative integer, got ${generation}`);
  if (!level.gt(0)) throw new Error(`level must be > 0, got ${level}`);
  const ticks = level.div(tickSize);
  if (!ticks.isInteger()) throw new Error(`level ${level} is not on tick ${tickSize}`);
  const id = `${prefix}${side === 'BUY' ? 'B' : 'S'}${ticks.toFixed(0)}g${generation}`;
  if (id.length > 32) throw new Error(`client order id too long: ${id}`);
  return id;
}

/** Parses one of our ids; `undefined` for ids of other owners or other instances. */
export function parseClientOrderId(id: string, prefix: string): ParsedClientOrderId | undefined {
  if (!id.startsWith(prefix)) return undefined;
  const m = /^([BS])([1-9]\d*)g(0|[1-9]\d*)$/.exec(id.slice(prefix.length));
  if (!m) return undefined;
  return { prefix, side: m[1] === 'B' ? 'BUY' : 'SELL', levelTicks: m[2], generation: Number(m[3]) };
}

export function levelFromTicks(levelTicks: string, tickSize: Dec): Dec {
  return new Dec(levelTicks).mul(tickSize);
}
