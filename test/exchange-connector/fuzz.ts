/**
 * Seeded request fuzzer for every unary RPC of ExchangeService. Requests are generated from the
 * proto descriptors (so new RPCs are covered automatically): per field either a plausible value
 * (to get past the first checks) or a hostile one — huge strings, control characters, negative /
 * NaN / Infinity / 1e400 decimals, unknown enum names and numbers, wrong JS types that proto-loader
 * coerces, empty symbols, repeated fields up to 10^6 entries (within the 4 MB message limit).
 */
import * as grpc from '@grpc/grpc-js';
import { exchangePackageDefinition } from '@mm/contracts';
import { mulberry32 } from '@mm/sim-exchange';
import type { ConformanceClient } from '../conformance/client';

/** The sim's seeded PRNG (mulberry32), uniform in [0, 1). */
export const prng = mulberry32;

interface FieldDesc {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

const PKG = 'opensqt.market_maker.v1';
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** One fuzzed call and what came back. */
export interface FuzzResult {
  method: string;
  code: number;
  details: string;
  field?: string;
  request: string;
}

/** Summary of a run. */
export interface FuzzReport {
  sent: number;
  /** Requests proto-loader refused to serialize (never sent; generated again). */
  clientRejected: number;
  byCode: Record<string, number>;
  /** Responses that break the rules: UNKNOWN/INTERNAL/UNAVAILABLE/DEADLINE_EXCEEDED, or INVALID_ARGUMENT without the field. */
  violations: FuzzResult[];
  /** Number of violations (the list keeps the first 50). */
  violationCount: number;
  methods: string[];
  ms: number;
  /** Total response time per RPC, ms (to spot slow paths). */
  msByMethod: Record<string, number>;
}

const ALLOWED = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.OUT_OF_RANGE,
]);

/**
 * Sends `count` fuzzed unary requests (`concurrency` in flight) with `client`, deterministic for a
 * `seed`. `plausible` supplies realistic values by field name (symbol, price, order ids…).
 */
export async function runFuzz(opts: {
  client: ConformanceClient;
  count: number;
  seed: number;
  concurrency?: number;
  plausible: Record<string, () => unknown>;
  /** RPCs not to fuzz (e.g. none). */
  skip?: string[];
}): Promise<FuzzReport> {
  const rnd = prng(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (n: number) => Math.floor(rnd() * n);
  const def = exchangePackageDefinition() as Record<string, any>;
  const service = def[`${PKG}.ExchangeService`] as Record<string, { requestStream: boolean; responseStream: boolean; requestType: { type: { field: FieldDesc[] } }; requestSerialize: (v: unknown) => Buffer }>;
  const methods = Object.keys(service).filter((m) => !service[m].requestStream && !service[m].responseStream && !(opts.skip ?? []).includes(m));
  const typeOf = (typeName: string): any => def[`${PKG}.${typeName}`] ?? def[typeName] ?? def[typeName.replace(/^\./, '')];

  const hugeString = (n: number) => 'A'.repeat(n);
  const strings = (): unknown =>
    pick<() => unknown>([
      () => '',
      () => ' ',
      () => 'BTCUSDT',
      () => 'btcusdt',
      () => 'NOPEUSDT',
      () => 'BTC/USDT:USDT',
      () => hugeString(rnd() < 0.02 ? 1_000_000 : pick([41, 1000, 10_000, 100_000])),
      () => '\u0000\u0001\u0002',
      () => '💥🚀'.repeat(int(50) + 1),
      () => "'; DROP TABLE orders; --",
      () => '../../../../etc/passwd',
      () => '${jndi:ldap://x}',
      () => String(int(1e9)),
      () => '-1',
      () => 'NaN',
      () => 'Infinity',
      () => Array.from({ length: int(40) }, () => String.fromCharCode(32 + int(95))).join(''),
      () => 12345, // wrong type: proto-loader stringifies
      () => true,
      () => ({ nested: 'object' }),
      () => null,
    ])();
  const decimals = (): unknown =>
    pick<() => unknown>([
      () => ({ value: '' }),
      () => ({ value: '0' }),
      () => ({ value: '-1' }),
      () => ({ value: '-0' }),
      () => ({ value: 'NaN' }),
      () => ({ value: 'Infinity' }),
      () => ({ value: '-Infinity' }),
      () => ({ value: '1e400' }),
      () => ({ value: '1e-400' }),
      () => ({ value: '9'.repeat(int(5000) + 1) }),
      () => ({ value: `0.${'0'.repeat(int(100))}1` }),
      () => ({ value: '1e999999999999999' }),
      () => ({ value: '0x10' }),
      () => ({ value: '1,5' }),
      () => ({ value: ' 1 ' }),
      () => ({ value: 'abc' }),
      () => ({ value: String(rnd() * 200000) }),
      () => ({ value: (rnd() * 1e6 - 5e5).toFixed(int(8)) }),
      () => ({ value: 42 }), // wrong type inside the message
      () => 'not-an-object',
      () => undefined,
      () => null,
    ])();
  const int64s = (): unknown =>
    pick<() => unknown>([
      () => '0',
      () => '-1',
      () => '1',
      () => '9223372036854775807',
      () => '-9223372036854775808',
      () => String(int(1e12)),
      () => 1e6, // number for int64
      () => -5,
      () => 1.5,
      () => NaN,
      () => 'abc', // proto-loader may refuse this: counted as client-rejected
    ])();
  const int32s = (): unknown => pick([0, -1, 1, 5, 100, 1500, 1501, 2147483647, -2147483648, 1.7, NaN, Infinity, '12', 'x']);
  const bools = (): unknown => pick([true, false, 0, 1, 'yes', null]);

  const valueFor = (f: FieldDesc, depth: number): unknown => {
    const key = camel(f.name);
    if (opts.plausible[key] && rnd() < 0.5) return opts.plausible[key]();
    switch (f.type) {
      case 'TYPE_STRING':
        return strings();
      case 'TYPE_INT64':
      case 'TYPE_UINT64':
      case 'TYPE_SINT64':
        return int64s();
      case 'TYPE_INT32':
      case 'TYPE_UINT32':
      case 'TYPE_SINT32':
        return int32s();
      case 'TYPE_BOOL':
        return bools();
      case 'TYPE_DOUBLE':
      case 'TYPE_FLOAT':
        return pick([0, -1, NaN, Infinity, 1e308, rnd()]);
      case 'TYPE_ENUM': {
        const values = (typeOf(f.typeName)?.type?.value ?? []) as { name: string; number: number }[];
        return pick<() => unknown>([() => pick(values).name, () => pick(values).name, () => 'ORDER_SIDE_SIDEWAYS', () => 99, () => -3, () => pick(values).number])();
      }
      case 'TYPE_MESSAGE':
        if (f.typeName.endsWith('google.type.Decimal') || f.typeName === 'Decimal') return decimals();
        return depth > 2 || rnd() < 0.1 ? pick([undefined, null, {}]) : message(typeOf(f.typeName)?.type?.field ?? [], depth + 1);
      default:
        return undefined;
    }
  };
  const message = (fields: FieldDesc[], depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (rnd() < 0.15) continue; // absent
      const key = camel(f.name);
      if (f.label === 'LABEL_REPEATED') {
        const r = rnd();
        if (r < 0.001) {
          // 10^6 entries, still under the 4 MB message limit: an int64 or string is a few bytes.
          const one = f.type === 'TYPE_MESSAGE' ? {} : f.type === 'TYPE_STRING' ? 'X' : '7';
          out[key] = new Array(1_000_000).fill(one);
        } else if (r < 0.01) {
          // Over the batch limits: one generated value repeated (keeps the message small).
          out[key] = new Array(101 + int(2000)).fill(valueFor(f, depth));
        }
        else out[key] = Array.from({ length: int(4) }, () => valueFor(f, depth));
      } else out[key] = valueFor(f, depth);
    }
    // Occasionally a wrong type for a whole field or an unknown field.
    if (rnd() < 0.05) out[pick(Object.keys(out).concat('bogusField'))] = pick<unknown>([[], { a: 1 }, 'str', 7, true]);
    return out;
  };

  const report: FuzzReport = { sent: 0, clientRejected: 0, byCode: {}, violations: [], violationCount: 0, methods, ms: 0, msByMethod: {} };
  const started = Date.now();
  const next = (): { method: string; req: Record<string, unknown> } => {
    for (;;) {
      const method = pick(methods);
      const req = message(service[method].requestType.type.field, 0);
      try {
        service[method].requestSerialize(req);
        return { method, req };
      } catch {
        report.clientRejected++;
      }
    }
  };
  const describeReq = (req: Record<string, unknown>) =>
    JSON.stringify(req, (_k, v) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 20)}…(${v.length})` : Array.isArray(v) && v.length > 5 ? `[array ${v.length}]` : v)).slice(0, 500);

  let remaining = opts.count;
  const worker = async () => {
    while (remaining > 0) {
      remaining--;
      const { method, req } = next();
      report.sent++;
      let code = grpc.status.OK;
      let details = '';
      let field: string | undefined;
      const t0 = Date.now();
      try {
        await opts.client.call(method, req, 20_000);
      } catch (e) {
        const err = e as grpc.ServiceError;
        code = err.code;
        details = err.details ?? String(err);
        field = err.metadata?.get('x-error-field')[0]?.toString();
      }
      report.msByMethod[method] = (report.msByMethod[method] ?? 0) + Date.now() - t0;
      const name = grpc.status[code] ?? String(code);
      report.byCode[name] = (report.byCode[name] ?? 0) + 1;
      const badInvalid = code === grpc.status.INVALID_ARGUMENT && (!field || !details.startsWith(`${field}:`));
      if (!ALLOWED.has(code) || badInvalid) {
        report.violationCount++;
        if (report.violations.length < 50) report.violations.push({ method, code, details: details.slice(0, 300), field, request: describeReq(req) });
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
  report.ms = Date.now() - started;
  return report;
}
