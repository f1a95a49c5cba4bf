/**
 * Venue order ids that are not int64 (Bybit UUIDs) over the contract, from clients built only from
 * a descriptor set (no code of ours, field names as in the .proto — what a Go or Python client sees):
 *
 * - the published v1 contract (`../shared/contracts/opensqt-exchange-v1.binpb`): place, cancel and
 *   look up by the synthetic int64 `order_id`;
 * - the grown contract (our proto/ compiled by `buf build`): cancel by `client_order_id`, batch
 *   cancel by `client_order_ids`;
 * - a connector restart with ORDER_ID_MAP_FILE keeps the synthetic ids resolvable (also for orders
 *   no longer open); without the file a terminal order's synthetic id is unknown after a restart.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT, SHARED, stopApp } from '@mm/testing';
import { type CcxtConnector, type FakeVenue, DIALECTS, startCcxtConnector, startFakeVenue } from '../support/fake-venue';

jest.setTimeout(120_000);
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opensqt-order-ids-'));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Client = any;

/** A raw grpc-js client of ExchangeService from a FileDescriptorSet: proto field names, int64 as strings. */
function clientFrom(descriptorSet: Buffer, address: string): Client {
  const def = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet, { keepCase: true, longs: String, enums: String, defaults: true });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Ctor = pkg.opensqt.market_maker.v1.ExchangeService;
  return new Ctor(address, grpc.credentials.createInsecure());
}

function call(c: Client, method: string, req: object): Promise<any> {
  return new Promise((resolve, reject) => c[method](req, { deadline: Date.now() + 15_000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}

describe('non-int64 venue order ids (Bybit UUIDs) through descriptor-only clients', () => {
  let fake: FakeVenue;
  let c: CcxtConnector | undefined;
  const mapFile = path.join(logDir, 'order-ids.sqlite');
  const v1 = fs.readFileSync(path.join(SHARED, 'contracts/opensqt-exchange-v1.binpb'));
  const grownFile = path.join(logDir, 'grown.binpb');
  execFileSync(path.join(ROOT, 'node_modules/.bin/buf'), ['build', '-o', grownFile], { cwd: ROOT });
  const grown = fs.readFileSync(grownFile);
  const ids: { cancelled?: string; cid?: string } = {};

  beforeAll(async () => {
    fake = await startFakeVenue(DIALECTS.bybit!(), { apiKey: 'fake-api-key' });
    c = await startCcxtConnector('bybit', logDir, { ORDER_ID_MAP_FILE: mapFile }, 'fake-api-key', fake);
  });
  afterAll(async () => {
    await stopApp(c?.conn);
    await fake?.close();
  });

  const restingBuy = (client_order_id: string) => ({
    symbol: 'BTCUSDT',
    side: 'ORDER_SIDE_BUY',
    type: 'ORDER_TYPE_LIMIT',
    time_in_force: 'TIME_IN_FORCE_GTC',
    quantity: { value: '0.001' },
    price: { value: ((i) => i.price.mul('0.9').div(i.tick).floor().mul(i.tick).toFixed())(fake.engine.inst('BTCUSDT')) },
    client_order_id,
  });

  it('v1 contract client: place, get and cancel by the synthetic int64 order id', async () => {
    const old = clientFrom(v1, c!.address);
    try {
      const o = await call(old, 'PlaceOrder', restingBuy('oid1'));
      const venueIds = [...fake.engine.orders.keys()];
      expect(venueIds).toHaveLength(1);
      expect(venueIds[0]).toMatch(UUID);
      // A decimal int64 in [2^62, 2^63): never a UUID, never a number that loses precision on the way.
      expect(o.order_id).toMatch(/^\d{19}$/);
      expect(BigInt(o.order_id) >= 1n << 62n && BigInt(o.order_id) < 1n << 63n).toBe(true);
      expect((await call(old, 'GetOrder', { symbol: 'BTCUSDT', order_id: o.order_id })).client_order_id).toBe('oid1');
      const open = await call(old, 'GetOpenOrders', { symbol: 'BTCUSDT' });
      expect(open.orders.map((x: { order_id: string }) => x.order_id)).toEqual([o.order_id]);
      await call(old, 'CancelOrder', { symbol: 'BTCUSDT', order_id: o.order_id });
      expect(fake.engine.orders.get(venueIds[0])!.status).toBe('canceled');
      expect((await call(old, 'GetOrder', { symbol: 'BTCUSDT', order_id: o.order_id })).status).toBe('ORDER_STATUS_CANCELED');
      const again = await failure(call(old, 'CancelOrder', { symbol: 'BTCUSDT', order_id: o.order_id }));
      expect(grpc.status[again.code]).toBe('FAILED_PRECONDITION');
      const unknown = await failure(call(old, 'CancelOrder', { symbol: 'BTCUSDT', order_id: '5000000000000000001' }));
      expect(grpc.status[unknown.code]).toBe('NOT_FOUND');
      ids.cancelled = o.order_id;
    } finally {
      old.close();
    }
  });

  it('grown contract client: cancel by client_order_id and batch cancel by client_order_ids', async () => {
    const cl = clientFrom(grown, c!.address);
    try {
      const a = await call(cl, 'PlaceOrder', restingBuy('cid-a'));
      const b = await call(cl, 'PlaceOrder', restingBuy('cid-b'));
      await call(cl, 'CancelOrder', { symbol: 'BTCUSDT', client_order_id: 'cid-a' });
      expect(fake.engine.findByClientId('cid-a')!.status).toBe('canceled');
      expect(fake.engine.findByClientId('cid-b')!.status).toBe('new');
      expect((await call(cl, 'GetOrder', { symbol: 'BTCUSDT', order_id: a.order_id })).status).toBe('ORDER_STATUS_CANCELED');
      const res = await call(cl, 'BatchCancelOrders', { symbol: 'BTCUSDT', client_order_ids: ['cid-b', 'cid-none'] });
      expect(res.errors.map((e: { index: number; client_order_id: string; code: number }) => [e.index, e.client_order_id, grpc.status[e.code]])).toEqual([[1, 'cid-none', 'NOT_FOUND']]);
      expect(fake.engine.findByClientId('cid-b')!.status).toBe('canceled');
      expect((await call(cl, 'GetOrder', { symbol: 'BTCUSDT', client_order_id: 'cid-b' })).order_id).toBe(b.order_id);
      ids.cid = b.order_id;
    } finally {
      cl.close();
    }
  });

  it('keeps synthetic ids resolvable across a connector restart with ORDER_ID_MAP_FILE (and not without)', async () => {
    expect(ids.cancelled).toBeDefined();
    await stopApp(c!.conn);
    c = await startCcxtConnector('bybit', logDir, { ORDER_ID_MAP_FILE: mapFile }, 'fake-api-key', fake);
    const cl = clientFrom(v1, c.address);
    try {
      const got = await call(cl, 'GetOrder', { symbol: 'BTCUSDT', order_id: ids.cancelled });
      expect([got.status, got.client_order_id]).toEqual(['ORDER_STATUS_CANCELED', 'oid1']);
      // A new order after the restart gets a distinct id that resolves too.
      const o = await call(cl, 'PlaceOrder', restingBuy('after-restart'));
      expect(new Set([o.order_id, ids.cancelled, ids.cid]).size).toBe(3);
      await call(cl, 'CancelOrder', { symbol: 'BTCUSDT', order_id: o.order_id });
      expect(fake.engine.findByClientId('after-restart')!.status).toBe('canceled');
    } finally {
      cl.close();
    }
    await stopApp(c.conn);
    c = await startCcxtConnector('bybit', logDir, {}, 'fake-api-key', fake);
    const noFile = clientFrom(v1, c.address);
    try {
      const e = await failure(call(noFile, 'GetOrder', { symbol: 'BTCUSDT', order_id: ids.cancelled }));
      expect(grpc.status[e.code]).toBe('NOT_FOUND');
      // Open orders are still recovered from the venue without the file.
      const o = await call(noFile, 'PlaceOrder', restingBuy('open-before-restart'));
      await stopApp(c.conn);
      c = await startCcxtConnector('bybit', logDir, {}, 'fake-api-key', fake);
      const again = clientFrom(v1, c.address);
      try {
        await call(again, 'CancelOrder', { symbol: 'BTCUSDT', order_id: o.order_id });
        expect(fake.engine.findByClientId('open-before-restart')!.status).toBe('canceled');
      } finally {
        again.close();
      }
    } finally {
      noFile.close();
    }
  });
});
