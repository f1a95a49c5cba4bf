import { Controller, HttpCode, HttpException, Inject, Post, Query } from '@nestjs/common';
import type { ExchangeVenue } from '@mm/domain';
import { SimExchange } from '@mm/sim-exchange';
import { CONNECTOR_CONFIG, type ConnectorConfig } from '../connector.config';
import { VENUE } from '../venue/venue.provider';

/** Env switch of the test hooks: `SIM_TEST_BURST=1`. Never set it in production. */
export const TEST_HOOKS_ENV = 'SIM_TEST_BURST';

/** True when the test-only HTTP hooks are to be registered. */
export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TEST_HOOKS_ENV] === '1';
}

/** Most ticks one burst may emit. */
export const MAX_BURST = 1_000_000;

/**
 * TEST-ONLY HTTP hooks on the connector's HTTP port, registered only when `SIM_TEST_BURST=1` and
 * the venue is the simulator. Not part of any contract.
 *
 * `POST /test/burst?n=50000[&symbol=BTCUSDT]`: the sim delivers `n` price ticks to the price
 * subscribers synchronously (current price, timestamps `firstTimestampMs + i`), for back-pressure
 * tests of the stream fan-out. Answers `{symbol, n, firstTimestampMs}`.
 */
@Controller('test')
export class TestHooksController {
  constructor(
    @Inject(VENUE) private readonly venue: ExchangeVenue,
    @Inject(CONNECTOR_CONFIG) private readonly config: ConnectorConfig,
  ) {}

  @Post('burst')
  @HttpCode(200)
  burst(@Query('n') n: string, @Query('symbol') symbol?: string): { symbol: string; n: number; firstTimestampMs: number } {
    if (!(this.venue instanceof SimExchange)) throw new HttpException('burst needs the sim venue', 409);
    const count = Number(n);
    if (!Number.isInteger(count) || count < 1 || count > MAX_BURST) throw new HttpException(`n must be an integer 1..${MAX_BURST}`, 400);
    const sym = symbol || this.config.sim.symbol;
    try {
      return { symbol: sym, ...this.venue.emitPriceBurst(sym, count) };
    } catch (e) {
      throw new HttpException((e as Error).message, 404);
    }
  }
}
