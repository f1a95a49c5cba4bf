import { Controller, Inject, UseInterceptors } from '@nestjs/common';
import { ObserveUnaryCalls, RpcLoggingInterceptor, RpcObserver } from './rpc-logging';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import { type ExchangeVenue, type FundingRate, type OrderEvent, type OrderRef, type PriceTick, VenueError, invalidArgument } from '@mm/domain';
import {
  accountToWire,
  candleToWire,
  fundingToWire,
  orderEventToWire,
  orderRequestFromWire,
  orderToWire,
  pb,
  positionToWire,
  priceToWire,
  symbolRulesToWire,
  tickerToWire,
  toDec,
  toGrpcError,
} from '@mm/contracts';
import { GrpcMethod } from '@nestjs/microservices';
import { VENUE } from '../venue/venue.provider';
import { StreamHub, topicSource } from './stream-hub';
import { OrderEntryChecks } from './order-entry';

type Call = ServerWritableStream<unknown, object>;
const SERVICE = 'ExchangeService';
const MAX_BATCH = 100;
const KLINE_LIMIT_MAX = 1500;

function requireSymbol(symbol: string, field = 'symbol'): string {
  if (!symbol) throw invalidArgument(field, 'is required');
  if (!/^[A-Za-z0-9._/:-]{2,40}$/.test(symbol)) throw invalidArgument(field, `invalid symbol "${symbol.slice(0, 40)}"`);
  return symbol;
}

function clientOrderIdOf(raw: string, field = 'client_order_id'): string {
  if (!/^[A-Za-z0-9_.:\-]{1,64}$/.test(raw)) throw invalidArgument(field, 'must be 1–64 characters of [A-Za-z0-9_.:-]');
  return raw;
}

function orderIdOf(raw: string, field = 'order_id'): string {
  if (!raw || raw === '0') throw invalidArgument(field, 'is required');
  if (!/^\d{1,20}$/.test(raw)) throw invalidArgument(field, 'must be a positive integer');
  return raw;
}

/**
 * `opensqt.market_maker.v1.ExchangeService` over the connector's one venue. Translates wire ↔ domain
 * and validates request shape; venue rules (tick, step, min notional) are the venue's to enforce.
 * Errors leave as gRPC statuses via `GrpcExceptionFilter` (INVALID_ARGUMENT names the field in the
 * message and in the `x-error-field` trailer).
 */
@Controller()
@ObserveUnaryCalls()
export class ExchangeController {
  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    private readonly hub: StreamHub,
    readonly rpcObserver: RpcObserver,
    private readonly entry: OrderEntryChecks,
  ) {}

  private async checked(req: pb.PlaceOrderRequest, prefix = '') {
    const r = orderRequestFromWire(req, prefix);
    await this.entry.check(r);
    return r;
  }

  @GrpcMethod(SERVICE, 'GetName')
  getName(): pb.GetNameResponse {
    return { name: this.venue.name };
  }

  @GrpcMethod(SERVICE, 'GetType')
  getType(): pb.GetTypeResponse {
    return {
      type: this.venue.marketType === 'spot' ? pb.ExchangeType.EXCHANGE_TYPE_SPOT : pb.ExchangeType.EXCHANGE_TYPE_FUTURES,
      isUnifiedMargin: false,
    };
  }

  @GrpcMethod(SERVICE, 'PlaceOrder')
  async placeOrder(req: pb.PlaceOrderRequest): Promise<pb.Order> {
    return orderToWire(await this.venue.placeOrder(await this.checked(req)));
  }

  /** Places each order independently; per-order failures are reported in `errors`, not as a status. */
  @GrpcMethod(SERVICE, 'BatchPlaceOrders')
  async batchPlaceOrders(req: pb.BatchPlaceOrdersRequest): Promise<pb.BatchPlaceOrdersResponse> {
    const orders = req.orders ?? [];
    if (orders.length === 0) throw invalidArgument('orders', 'must not be empty');
    if (orders.length > MAX_BATCH) throw invalidArgument('orders', `at most ${MAX_BATCH} orders per batch`);
    const placed: pb.Order[] = [];
    const errors: pb.BatchOrderError[] = [];
    for (let i = 0; i < orders.length; i++) {
      try {
        placed.push(orderToWire(await this.venue.placeOrder(await this.checked(orders[i], `orders[${i}].`))));
      } catch (e) {
        const g = toGrpcError(e);
        errors.push({ index: i, clientOrderId: orders[i].clientOrderId ?? '', errorMessage: g.details, code: g.code });
      }
    }
    return { orders: placed, allSuccess: errors.length === 0, errors };
  }

  /** Cancels by `order_id`, or by `client_order_id` when `order_id` is 0/absent. */
  @GrpcMethod(SERVICE, 'CancelOrder')
  async cancelOrder(req: pb.CancelOrderRequest): Promise<pb.CancelOrderResponse> {
    const symbol = requireSymbol(req.symbol);
    if ((!req.orderId || req.orderId === '0') && req.clientOrderId) await this.venue.cancelOrderByClientOrderId(symbol, clientOrderIdOf(req.clientOrderId));
    else await this.venue.cancelOrder(symbol, orderIdOf(req.orderId));
    return {};
  }

  @GrpcMethod(SERVICE, 'BatchCancelOrders')
  async batchCancelOrders(req: pb.BatchCancelOrdersRequest): Promise<pb.BatchCancelOrdersResponse> {
    const symbol = requireSymbol(req.symbol);
    const ids = req.orderIds ?? [];
    const cids = req.clientOrderIds ?? [];
    if (ids.length + cids.length === 0) throw invalidArgument('order_ids', 'must not be empty (or give client_order_ids)');
    if (ids.length + cids.length > MAX_BATCH) throw invalidArgument('order_ids', `at most ${MAX_BATCH} ids per batch (order_ids + client_order_ids)`);
    ids.forEach((id, i) => orderIdOf(id, `order_ids[${i}]`));
    cids.forEach((id, i) => clientOrderIdOf(id, `client_order_ids[${i}]`));
    const errors: pb.BatchOrderError[] = [];
    for (let i = 0; i < ids.length; i++) {
      try {
        await this.venue.cancelOrder(symbol, ids[i]);
      } catch (e) {
        const g = toGrpcError(e);
        errors.push({ index: i, clientOrderId: '', errorMessage: g.details, code: g.code });
      }
    }
    // Client order ids continue the index after order_ids.
    for (let i = 0; i < cids.length; i++) {
      try {
        await this.venue.cancelOrderByClientOrderId(symbol, cids[i]);
      } catch (e) {
        const g = toGrpcError(e);
        errors.push({ index: ids.length + i, clientOrderId: cids[i], errorMessage: g.details, code: g.code });
      }
    }
    return { errors };
  }

  @GrpcMethod(SERVICE, 'CancelAllOrders')
  async cancelAllOrders(req: pb.CancelAllOrdersRequest): Promise<pb.CancelAllOrdersResponse> {
    await this.venue.cancelAllOrders(requireSymbol(req.symbol));
    return {};
  }

  /** Looks an order up by `order_id`, or by `client_order_id` when no order id is given. */
  @GrpcMethod(SERVICE, 'GetOrder')
  async getOrder(req: pb.GetOrderRequest): Promise<pb.Order> {
    const symbol = requireSymbol(req.symbol);
    let ref: OrderRef;
    if (req.orderId && req.orderId !== '0') ref = { orderId: orderIdOf(req.orderId) };
    else if (req.clientOrderId) ref = { clientOrderId: clientOrderIdOf(req.clientOrderId) };
    else throw invalidArgument('order_id', 'order_id or client_order_id is required');
    return orderToWire(await this.venue.getOrder(symbol, ref));
  }

  @GrpcMethod(SERVICE, 'GetOpenOrders')
  async getOpenOrders(req: pb.GetOpenOrdersRequest): Promise<pb.GetOpenOrdersResponse> {
    const symbol = req.symbol ? requireSymbol(req.symbol) : undefined;
    return { orders: (await this.venue.getOpenOrders(symbol)).map(orderToWire) };
  }

  @GrpcMethod(SERVICE, 'GetAccount')
  async getAccount(): Promise<pb.Account> {
    return accountToWire(await this.venue.getAccount());
  }

  @GrpcMethod(SERVICE, 'GetPositions')
  async getPositions(req: pb.GetPositionsRequest): Promise<pb.GetPositionsResponse> {
    const symbol = req.symbol ? requireSymbol(req.symbol) : undefined;
    return { positions: (await this.venue.getPositions(symbol)).map(positionToWire) };
  }

  @GrpcMethod(SERVICE, 'GetBalance')
  async getBalance(req: pb.GetBalanceRequest): Promise<pb.GetBalanceResponse> {
    if (!req.asset) throw invalidArgument('asset', 'is required');
    if (!/^[A-Za-z0-9]{1,20}$/.test(req.asset)) throw invalidArgument('asset', `invalid asset "${req.asset.slice(0, 20)}"`);
    return { balance: toDec(await this.venue.getBalance(req.asset)) };
  }

  @GrpcMethod(SERVICE, 'GetLatestPrice')
  async getLatestPrice(req: pb.GetLatestPriceRequest): Promise<pb.GetLatestPriceResponse> {
    return { price: toDec(await this.venue.getLatestPrice(requireSymbol(req.symbol))) };
  }

  @GrpcMethod(SERVICE, 'GetTickers')
  async getTickers(): Promise<pb.GetTickersResponse> {
    return { tickers: (await this.venue.getTickers()).map(tickerToWire) };
  }

  @GrpcMethod(SERVICE, 'GetOpenInterest')
  async getOpenInterest(req: pb.GetOpenInterestRequest): Promise<pb.GetOpenInterestResponse> {
    return { openInterest: toDec(await this.venue.getOpenInterest(requireSymbol(req.symbol))) };
  }

  @GrpcMethod(SERVICE, 'GetHistoricalKlines')
  async getHistoricalKlines(req: pb.GetHistoricalKlinesRequest): Promise<pb.GetHistoricalKlinesResponse> {
    const symbol = requireSymbol(req.symbol);
    const limit = req.limit || 500;
    if (limit < 1 || limit > KLINE_LIMIT_MAX) throw invalidArgument('limit', `must be 1..${KLINE_LIMIT_MAX}`);
    const candles = await this.venue.getHistoricalKlines(symbol, req.interval || '1m', limit);
    return { candles: candles.map(candleToWire) };
  }

  /** Markets are loaded at startup; this only checks the symbol exists. */
  @GrpcMethod(SERVICE, 'FetchExchangeInfo')
  async fetchExchangeInfo(req: pb.FetchExchangeInfoRequest): Promise<pb.FetchExchangeInfoResponse> {
    if (req.symbol) await this.venue.getSymbolRules(requireSymbol(req.symbol));
    return {};
  }

  @GrpcMethod(SERVICE, 'GetSymbolInfo')
  async getSymbolInfo(req: pb.GetSymbolInfoRequest): Promise<pb.SymbolInfo> {
    return symbolRulesToWire(await this.venue.getSymbolRules(requireSymbol(req.symbol)));
  }

  @GrpcMethod(SERVICE, 'GetSymbols')
  async getSymbols(): Promise<pb.GetSymbolsResponse> {
    return { symbols: await this.venue.getSymbols() };
  }

  @GrpcMethod(SERVICE, 'GetFundingRate')
  async getFundingRate(req: pb.GetFundingRateRequest): Promise<pb.FundingRate> {
    return fundingToWire(await this.venue.getFundingRate(requireSymbol(req.symbol)), this.venue.name);
  }

  @GrpcMethod(SERVICE, 'GetFundingRates')
  async getFundingRates(): Promise<pb.GetFundingRatesResponse> {
    return { rates: (await this.venue.getFundingRates()).map((f) => fundingToWire(f, this.venue.name)) };
  }

  @GrpcMethod(SERVICE, 'GetHistoricalFundingRates')
  async getHistoricalFundingRates(req: pb.GetHistoricalFundingRatesRequest): Promise<pb.GetHistoricalFundingRatesResponse> {
    const limit = req.limit || 100;
    if (limit < 1 || limit > 1000) throw invalidArgument('limit', 'must be 1..1000');
    const rates = await this.venue.getHistoricalFundingRates(requireSymbol(req.symbol), limit);
    return { rates: rates.map((f) => fundingToWire(f, this.venue.name)) };
  }

  // ---- server streams: fanned out by StreamHub, one venue subscription per key ----

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribePrice')
  async subscribePrice(req: pb.SubscribePriceRequest, _meta: unknown, call: Call): Promise<Observable<never>> {
    const symbols = [...new Set(req.symbols ?? [])];
    if (symbols.length === 0) throw invalidArgument('symbols', 'must name at least one symbol');
    await this.checkSymbols(symbols, 'symbols');
    const name = this.venue.name;
    return this.hub.attach(
      call,
      symbols.map((s) => ({
        key: `price:${s}`,
        stream: 'price',
        source: topicSource<PriceTick>((o) => this.venue.watchPrice(s, o), (p) => priceToWire(p, name)),
      })),
    );
  }

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribeOrders')
  subscribeOrders(_req: pb.SubscribeOrdersRequest, _meta: unknown, call: Call): Observable<never> {
    const name = this.venue.name;
    return this.hub.attach(call, [
      { key: 'orders', stream: 'orders', source: topicSource<OrderEvent>((o) => this.venue.watchOrders(o), (e) => orderEventToWire(e, name)) },
    ]);
  }

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribeKlines')
  async subscribeKlines(req: pb.SubscribeKlinesRequest, _meta: unknown, call: Call): Promise<Observable<never>> {
    const symbols = [...new Set(req.symbols ?? [])];
    if (symbols.length === 0) throw invalidArgument('symbols', 'must name at least one symbol');
    await this.checkSymbols(symbols, 'symbols');
    const interval = req.interval || '1m';
    if (!/^\d+[smhdwM]$/.test(interval)) throw invalidArgument('interval', `invalid interval "${interval.slice(0, 10)}"`);
    return this.hub.attach(
      call,
      symbols.map((s) => ({
        key: `klines:${s}:${interval}`,
        stream: 'klines',
        source: topicSource((o) => this.venue.watchKlines(s, interval, o), candleToWire),
      })),
    );
  }

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribeAccount')
  subscribeAccount(_req: pb.SubscribeAccountRequest, _meta: unknown, call: Call): Observable<never> {
    return this.hub.attach(call, [
      { key: 'account', stream: 'account', source: topicSource((o) => this.venue.watchAccount(o), accountToWire) },
    ]);
  }

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribePositions')
  async subscribePositions(req: pb.SubscribePositionsRequest, _meta: unknown, call: Call): Promise<Observable<never>> {
    const symbol = req.symbol ?? '';
    if (symbol) await this.checkSymbols([symbol], 'symbol');
    return this.hub.attach(call, [
      {
        key: `positions:${symbol || '*'}`,
        stream: 'positions',
        source: topicSource((o) => this.venue.watchPositions(symbol, o), positionToWire),
      },
    ]);
  }

  @UseInterceptors(RpcLoggingInterceptor)
  @GrpcMethod(SERVICE, 'SubscribeFundingRate')
  async subscribeFundingRate(req: pb.SubscribeFundingRateRequest, _meta: unknown, call: Call): Promise<Observable<never>> {
    const symbol = requireSymbol(req.symbol);
    await this.checkSymbols([symbol], 'symbol');
    const name = this.venue.name;
    return this.hub.attach(call, [
      {
        key: `funding:${symbol}`,
        stream: 'funding',
        source: topicSource<FundingRate>((o) => this.venue.watchFundingRate(symbol, o), (f) => fundingToWire(f, name)),
      },
    ]);
  }

  private async checkSymbols(symbols: string[], field: string): Promise<void> {
    for (let i = 0; i < symbols.length; i++) {
      const f = symbols.length > 1 || field.endsWith('s') ? `${field}[${i}]` : field;
      requireSymbol(symbols[i], f);
      try {
        await this.venue.getSymbolRules(symbols[i]);
      } catch (e) {
        if (e instanceof VenueError && e.code === 'NOT_FOUND') throw invalidArgument(f, `unknown symbol ${symbols[i]}`, 'UNKNOWN_SYMBOL');
        throw e;
      }
    }
  }
}
