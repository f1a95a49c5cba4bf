import { createHmac } from 'node:crypto';
import { Dec, type Side } from '@mm/domain';

/**
 * Deterministic, unguessable client order ids: `<prefix><B|S><level in ticks>g<generation><tag>`,
 * e.g. `mm1B955001g3k4z0qa`. `tag` is {@link TAG_LENGTH} base-36 characters of
 * HMAC-SHA256(secret, "<prefix>|<B|S>|<ticks>|<generation>"): a pure function of the instance's
 * secret, slot level, side and the slot's generation, so a restarted engine can look up exactly the
 * order it may have sent (no time-based ids), while an outsider who sees one id cannot name the next
 * one (issue 12: ids were predictable from `GET /slots`, so a second trading client could pre-place
 * them). An id with our prefix but a wrong tag is foreign. Fits the strictest venue rules we target:
 * ≤ 32 chars of [A-Za-z0-9] (Binance allows 36, OKX 32 alphanumerics). The instance id stays the
 * prefix: the connector's dead-man's switch and recovery recognise our orders by it.
 */
export interface ParsedClientOrderId {
  prefix: string;
  side: Side;
  levelTicks: string;
  generation: number;
}

/** Length of the keyed tag at the end of every id (base 36: ≈ 31 bits). */
export const TAG_LENGTH = 6;
/** Shortest accepted client-id secret, characters. */
export const MIN_SECRET_LENGTH = 16;

const PREFIX_RE = /^[a-z][a-z0-9]{1,7}$/;

export function assertPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) throw new Error(`instance id "${prefix}" must match ${PREFIX_RE} (2–8 lower-case alphanumerics)`);
}

/** @throws Error when the secret is shorter than {@link MIN_SECRET_LENGTH}. */
export function assertSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) throw new Error(`client order id secret must have at least ${MIN_SECRET_LENGTH} characters`);
}

/** The keyed tag of an id body (`<prefix><B|S><ticks>g<generation>`). */
export function clientOrderIdTag(secret: string, prefix: string, sideChar: string, ticks: string, generation: string): string {
  const mac = createHmac('sha256', secret).update(`${prefix}|${sideChar}|${ticks}|${generation}`).digest();
  // 5 bytes → 40 bits → base 36, low TAG_LENGTH digits (36^6 ≈ 2^31).
  return (mac.readUIntBE(0, 5) % 36 ** TAG_LENGTH).toString(36).padStart(TAG_LENGTH, '0');
}

export function makeClientOrderId(prefix: string, side: Side, level: Dec, tickSize: Dec, generation: number, secret: string): string {
  assertPrefix(prefix);
  assertSecret(secret);
  if (!Number.isSafeInteger(generation) || generation < 0) throw new Error(`generation must be a non-negative integer, got ${generation}`);
  if (!level.gt(0)) throw new Error(`level must be > 0, got ${level}`);
  const ticks = level.div(tickSize);
  if (!ticks.isInteger()) throw new Error(`level ${level} is not on tick ${tickSize}`);
  const s = side === 'BUY' ? 'B' : 'S';
  const t = ticks.toFixed(0);
  const id = `${prefix}${s}${t}g${generation}${clientOrderIdTag(secret, prefix, s, t, String(generation))}`;
  if (id.length > 32) throw new Error(`client order id too long: ${id}`);
  return id;
}

/**
 * Parses one of our ids and verifies its tag; `undefined` for ids of other owners, other instances,
 * and ids with our prefix whose tag does not verify (forged or made with another secret).
 */
export function parseClientOrderId(id: string, prefix: string, secret: string): ParsedClientOrderId | undefined {
  if (!id.startsWith(prefix)) return undefined;
  const m = /^([BS])([1-9]\d*)g(0|[1-9]\d*)([0-9a-z]{6})$/.exec(id.slice(prefix.length));
  if (!m) return undefined;
  if (clientOrderIdTag(secret, prefix, m[1], m[2], m[3]) !== m[4]) return undefined;
  return { prefix, side: m[1] === 'B' ? 'BUY' : 'SELL', levelTicks: m[2], generation: Number(m[3]) };
}

export function levelFromTicks(levelTicks: string, tickSize: Dec): Dec {
  return new Dec(levelTicks).mul(tickSize);
}
