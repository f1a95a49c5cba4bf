import * as fs from 'node:fs';
import type { ExchangeVenue, Order, OrderRequest } from '@mm/domain';
import type { ArbJournal, fundingArb } from '@mm/trading';

/** Fault points of the funding arbitrage (`MM_CRASH_POINT`), test only. */
export const ARB_CRASH_POINTS = ['arb_between_legs', 'arb_after_first_send'] as const;
export type ArbCrashPoint = (typeof ARB_CRASH_POINTS)[number];

/** Writes why the process dies synchronously (a SIGKILL loses buffered log lines), then SIGKILLs itself. */
function die(point: ArbCrashPoint, detail: string): void {
  fs.writeSync(process.stderr.fd, `fault injection: SIGKILL at ${point} (${detail})\n`);
  process.kill(process.pid, 'SIGKILL');
}

const chosen = (env: NodeJS.ProcessEnv): { point: ArbCrashPoint; probability: number } | undefined => {
  const point = env.MM_CRASH_POINT as ArbCrashPoint | undefined;
  if (!point || !(ARB_CRASH_POINTS as readonly string[]).includes(point)) return undefined;
  return { point, probability: Number(env.MM_CRASH_PROBABILITY ?? '0') };
};

/**
 * Test-only fault injection into the arbitrage journal, from `MM_CRASH_POINT=arb_between_legs` with
 * probability `MM_CRASH_PROBABILITY`: once the outcome of an entry's first leg is durable (the first
 * leg executed, the hedge not yet journaled or sent), the process SIGKILLs itself — the instant
 * between the first and the second leg. The journal itself when the env selects no such point.
 */
export function arbFaultJournal(journal: ArbJournal, env: NodeJS.ProcessEnv = process.env): ArbJournal {
  const c = chosen(env);
  if (!c || c.point !== 'arb_between_legs') return journal;
  return {
    entries: () => journal.entries(),
    append: async (e: fundingArb.JournalEntry) => {
      await journal.append(e);
      if (e.t === 'outcome' && e.outcome.clientOrderId.endsWith('-f') && Math.random() < c.probability) die(c.point, `${e.outcome.clientOrderId} ${e.outcome.status} ${e.outcome.executedQty} journaled, hedge not sent`);
    },
  };
}

/**
 * Test-only fault injection into a leg's venue, from `MM_CRASH_POINT=arb_after_first_send`: after the
 * venue answered an entry's first-leg order (`…-f`) and before its outcome is journaled, the process
 * SIGKILLs itself with probability `MM_CRASH_PROBABILITY` (the restart must find the order by its
 * client order id, not send it again). The venue itself when the env selects no such point.
 */
export function arbFaultVenue<V extends ExchangeVenue>(venue: V, env: NodeJS.ProcessEnv = process.env): V {
  const c = chosen(env);
  if (!c || c.point !== 'arb_after_first_send') return venue;
  return new Proxy(venue, {
    get(target, prop, receiver) {
      if (prop === 'placeOrder')
        return async (req: OrderRequest): Promise<Order> => {
          const o = await target.placeOrder(req);
          if (req.clientOrderId?.startsWith('fa-') && req.clientOrderId.endsWith('-f') && Math.random() < c.probability) die(c.point, `${req.clientOrderId} answered ${o.status}, outcome not journaled`);
          return o;
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
