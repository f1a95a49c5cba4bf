import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type ArbBacktestOptions, type ArbBacktestReport, type ArbBacktestRun, type ArbSymbolInput, type BacktestProgress, buildArbReport, renderArbReportHtml, renderArbReportJson, runArbBacktest } from '@mm/backtest';
import { Dec, roundToIncrement } from '@mm/domain';
import { ConfigError } from '@mm/platform';
import { SymbolFileListError, defaultSpotRules, defaultSymbolRules, loadFundingCsv, loadKlineCsv, loadMarkPriceCsv, parseSymbolFiles } from '@mm/sim-exchange';
import { assertKnownKeys } from './backtest-config';
import { UsageError, writeFilesAtomically } from './backtest-job';

/**
 * `npm run backtest -- --strategy funding-arb …`: the funding-rate arbitrage (issue 10) on market
 * time over the in-process sim, a perp market and a spot market per symbol (see `runArbBacktest`).
 * Files per symbol as `SYMBOL=path` lists (the format of the connector's `SIM_DATA`); strategy
 * parameters from an optional YAML (`--config`, schema {@link arbConfigSchema}; unknown keys are errors).
 */

const dec = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v), { message: 'must be a decimal number' });
const nonNeg = dec.refine((v) => !new Dec(v).isNegative(), { message: 'must be ≥ 0' });
const pos = dec.refine((v) => new Dec(v).gt(0), { message: 'must be > 0' });
const ms = (def: number, min = 0) => z.number().int().min(min).default(def);
const perSymbol = (schema: z.ZodTypeAny) => z.record(z.string().regex(/^[A-Z0-9]{2,20}$/, 'must be an upper-case symbol'), schema);

/**
 * The funding-arb backtest YAML (all keys optional). Decimals as strings or numbers; times in ms
 * of market time; APRs and fees as fractions (0.05 = 5 %, 0.001 = 10 bp).
 */
export const arbConfigSchema = z
  .object({
    /** Base quantity per entry and leg, per symbol; a symbol not listed trades `order_notional` ÷ its first perp price (rounded down to the step size). */
    order_qty: perSymbol(pos).default({}),
    order_notional: pos.default('5000'),
    /** Largest |spot net base + perp size| outside a workflow (base units), per symbol; default: the perp step size. */
    delta_tolerance: perSymbol(nonNeg).default({}),
    /** Spot margin interest per hour by base asset (fraction); `borrow_rate_hourly_default` for others; 0 = no short spot. */
    borrow_rate_hourly: perSymbol(nonNeg).default({}),
    borrow_rate_hourly_default: nonNeg.default('0.0000025'),
    thresholds: z
      .object({
        entry_apr: dec.default('0.05'),
        exit_apr: dec.default('0'),
        min_above_threshold_ms: ms(0),
        min_lead_before_funding_ms: ms(600_000),
        expected_hold_ms: ms(30 * 86_400_000, 1),
        basis_haircut_apr: nonNeg.default('0.01'),
        max_leg_price_spread: nonNeg.default('0.003'),
        max_funding_age_ms: ms(300_000, 1),
      })
      .strict()
      .default({}),
    fees: z
      .object({
        spot: z.object({ maker: dec.default('0.001'), taker: dec.default('0.001') }).strict().default({}),
        perp: z.object({ maker: dec.default('0.0002'), taker: dec.default('0.0005') }).strict().default({}),
      })
      .strict()
      .default({}),
    balances: z.object({ spot_usdt: pos.default('100000'), perp_usdt: pos.default('100000') }).strict().default({}),
    perp_leverage: z.number().int().min(1).max(125).default(10),
    decision_interval_ms: ms(300_000, 1000),
    funding_poll_ms: ms(60_000, 1000),
    max_entry_attempts_per_funding: z.number().int().min(1).default(1),
    /** Position management (see `ArbRiskSettings`): rebalance beyond `delta_tolerance`, toxic-basis and emergency exits. */
    risk: z
      .object({
        max_rebalance_attempts_per_funding: z.number().int().min(1).default(2),
        max_adverse_basis: pos.default('0.02'),
        emergency_liquidation_distance: pos.default('0.1'),
        emergency_margin_ratio: pos.default('0.8'),
        stop_opening_liquidation_distance: pos.default('0.15'),
        stop_opening_margin_ratio: pos.default('0.6'),
        poll_ms: ms(60_000, 1000),
        recovery_ms: ms(3_600_000),
      })
      .strict()
      .default({}),
    /** Driver step (market ms): both sims advance this much, then the strategy's timers run. */
    step_ms: ms(60_000, 1000),
    /** Path points within a 1-minute candle, both sims (market ms). */
    tick_interval_ms: ms(15_000, 1000),
  })
  .strict();
export type ArbConfig = z.infer<typeof arbConfigSchema>;

/**
 * Loads the funding-arb YAML (defaults only when `file` is undefined).
 * @throws ConfigError naming the file (missing, invalid YAML) or the key (unknown, invalid value).
 */
export function loadArbConfig(file: string | undefined): ArbConfig {
  let raw: unknown = {};
  if (file !== undefined) {
    if (!fs.existsSync(file)) throw new ConfigError(file, 'file not found');
    try {
      raw = parseYaml(fs.readFileSync(file, 'utf8')) ?? {};
    } catch (e) {
      throw new ConfigError(file, `invalid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(file, 'top level must be a mapping');
  }
  assertKnownKeys(arbConfigSchema, raw);
  const r = arbConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConfigError(issue.path.join('.') || '(root)', issue.message);
  }
  const t = r.data.thresholds;
  if (new Dec(t.exit_apr).gt(new Dec(t.entry_apr))) throw new ConfigError('thresholds.exit_apr', 'must be ≤ thresholds.entry_apr');
  return r.data;
}

/** A funding-arb backtest as the CLI describes it (paths as given; times Unix ms). */
export interface ArbJob {
  /** `--symbols`: which symbols to run (default: every `--data` symbol). */
  symbols?: string[];
  /** `--data`, `--funding`, `--mark-price`, `--spot-data`: `SYMBOL=path[,SYMBOL=path…]`. */
  data?: string;
  funding?: string;
  markPrice?: string;
  spotData?: string;
  config?: string;
  fromMs?: number;
  toMs?: number;
  /** `--balance`: starting USDT of each market (spot and perp), over the YAML's `balances`. */
  balance?: string;
}

function fileList(flag: string, value: string | undefined, single: string | undefined): Map<string, string> {
  let m: Map<string, string>;
  try {
    m = parseSymbolFiles(value, single ?? '', flag);
  } catch (e) {
    if (e instanceof SymbolFileListError) throw new UsageError(e.message);
    throw e;
  }
  if (m.has('')) throw new UsageError(`${flag}: give SYMBOL=path items (a plain path needs exactly one --symbols symbol)`);
  return m;
}

/** Loads config and files into runner options (writes nothing). @throws UsageError / ConfigError / MarketDataError naming the flag, key or file+line. */
export function arbOptionsFromJob(job: ArbJob, onProgress?: (p: BacktestProgress) => void): ArbBacktestOptions {
  const cfg = loadArbConfig(job.config);
  const single = job.symbols?.length === 1 ? job.symbols[0] : undefined;
  const data = fileList('--data', job.data, single);
  const funding = fileList('--funding', job.funding, single);
  const mark = fileList('--mark-price', job.markPrice, single);
  const spotData = fileList('--spot-data', job.spotData, single);
  const symbols = job.symbols ?? [...data.keys()];
  if (!symbols.length) throw new UsageError('--data SYMBOL=<perp 1m klines.csv>[,…] is required for --strategy funding-arb');
  for (const sym of symbols) {
    if (!/^[A-Z0-9]{3,20}$/.test(sym)) throw new UsageError(`--symbols: "${sym}" is not an upper-case symbol like BTCUSDT`);
    try {
      defaultSpotRules(sym);
    } catch {
      throw new UsageError(`--symbols: ${sym}: the sim has spot trading rules for BTCUSDT and ETHUSDT only`);
    }
    if (!data.has(sym)) throw new UsageError(`--data: no perp klines for ${sym}`);
    if (!funding.has(sym)) throw new UsageError(`--funding: no funding-rate file for ${sym}`);
  }
  for (const [flag, m] of [['--data', data], ['--funding', funding], ['--mark-price', mark], ['--spot-data', spotData]] as const)
    for (const sym of m.keys()) if (!symbols.includes(sym)) throw new UsageError(`${flag}: ${sym} is not one of the symbols (${symbols.join(', ')})`);
  for (const [key, m] of [['order_qty', cfg.order_qty], ['delta_tolerance', cfg.delta_tolerance]] as const)
    for (const sym of Object.keys(m)) if (!symbols.includes(sym)) throw new ConfigError(`${key}.${sym}`, `not one of the symbols (${symbols.join(', ')})`);
  const inputs: ArbSymbolInput[] = symbols.map((symbol) => {
    const perpCandles = loadKlineCsv(data.get(symbol)!, symbol);
    const spot = spotData.get(symbol);
    const perpRules = defaultSymbolRules(symbol, perpCandles[0]?.open);
    const spotRules = defaultSpotRules(symbol);
    const step = Dec.max(perpRules.stepSize, spotRules.stepSize);
    let qty: Dec;
    if (cfg.order_qty[symbol] !== undefined) {
      qty = new Dec(cfg.order_qty[symbol]);
      if (!roundToIncrement(qty, step, 'down').eq(qty)) throw new ConfigError(`order_qty.${symbol}`, `must be a multiple of the step size ${step}`);
    } else {
      qty = roundToIncrement(new Dec(cfg.order_notional).div(perpCandles[0].close), step, 'down');
      if (!qty.gt(0)) throw new ConfigError('order_notional', `${cfg.order_notional} USDT buys less than one step (${step}) of ${symbol}`);
    }
    const base = spotRules.baseAsset;
    return {
      symbol,
      perpCandles,
      fundingRates: loadFundingCsv(funding.get(symbol)!),
      markPrices: mark.has(symbol) ? loadMarkPriceCsv(mark.get(symbol)!) : undefined,
      spotCandles: spot ? loadKlineCsv(spot, symbol) : undefined,
      orderQty: qty,
      deltaTolerance: new Dec(cfg.delta_tolerance[symbol] ?? perpRules.stepSize),
      borrowRateHourly: new Dec(cfg.borrow_rate_hourly[base] ?? cfg.borrow_rate_hourly_default),
    };
  });
  const t = cfg.thresholds;
  const source: Record<string, string> = {};
  for (const sym of symbols) {
    source[`${sym}.perp`] = path.basename(data.get(sym)!);
    source[`${sym}.funding`] = path.basename(funding.get(sym)!);
    source[`${sym}.markPrice`] = mark.has(sym) ? path.basename(mark.get(sym)!) : 'none (funding settles at the last price)';
    source[`${sym}.spot`] = spotData.has(sym) ? path.basename(spotData.get(sym)!) : 'derived from the perp path (basis −4.5 bp)';
  }
  if (job.config) source.config = path.basename(job.config);
  const balance = job.balance;
  return {
    symbols: inputs,
    thresholds: {
      entryApr: new Dec(t.entry_apr),
      exitApr: new Dec(t.exit_apr),
      minAboveThresholdMs: t.min_above_threshold_ms,
      minLeadBeforeFundingMs: t.min_lead_before_funding_ms,
      expectedHoldMs: t.expected_hold_ms,
      basisHaircutApr: new Dec(t.basis_haircut_apr),
      maxLegPriceSpread: new Dec(t.max_leg_price_spread),
      maxFundingAgeMs: t.max_funding_age_ms,
    },
    spotFees: { maker: new Dec(cfg.fees.spot.maker), taker: new Dec(cfg.fees.spot.taker) },
    perpFees: { maker: new Dec(cfg.fees.perp.maker), taker: new Dec(cfg.fees.perp.taker) },
    spotBalance: new Dec(balance ?? cfg.balances.spot_usdt),
    perpBalance: new Dec(balance ?? cfg.balances.perp_usdt),
    perpLeverage: cfg.perp_leverage,
    decisionIntervalMs: cfg.decision_interval_ms,
    fundingPollMs: cfg.funding_poll_ms,
    maxEntryAttemptsPerFunding: cfg.max_entry_attempts_per_funding,
    risk: {
      maxRebalanceAttemptsPerFunding: cfg.risk.max_rebalance_attempts_per_funding,
      maxAdverseBasis: new Dec(cfg.risk.max_adverse_basis),
      emergencyLiquidationDistance: new Dec(cfg.risk.emergency_liquidation_distance),
      emergencyMarginRatio: new Dec(cfg.risk.emergency_margin_ratio),
      stopOpeningLiquidationDistance: new Dec(cfg.risk.stop_opening_liquidation_distance),
      stopOpeningMarginRatio: new Dec(cfg.risk.stop_opening_margin_ratio),
      pollMs: cfg.risk.poll_ms,
      recoveryMs: cfg.risk.recovery_ms,
    },
    stepMs: cfg.step_ms,
    tickIntervalMs: cfg.tick_interval_ms,
    fromMs: job.fromMs,
    toMs: job.toMs,
    config: { ...cfg, order_qty: Object.fromEntries(inputs.map((i) => [i.symbol, i.orderQty.toString()])) },
    source,
    onProgress,
  };
}

/** Loads, runs and builds the report (writes nothing). */
export async function executeArbJob(job: ArbJob, onProgress?: (p: BacktestProgress) => void, hooks: Pick<ArbBacktestOptions, 'onVenues'> = {}): Promise<{ run: ArbBacktestRun; report: ArbBacktestReport }> {
  const run = await runArbBacktest({ ...arbOptionsFromJob(job, onProgress), ...hooks });
  return { run, report: buildArbReport(run) };
}

/** fills.csv of a funding-arb run: every execution on both markets, oldest first. */
export function arbFillsCsv(run: ArbBacktestRun): string {
  const rows = ['time,time_ms,symbol,market,side,price,qty,fee,liquidity,client_order_id'];
  for (const f of run.fills) rows.push(`${new Date(f.timeMs).toISOString()},${f.timeMs},${f.symbol},${f.market},${f.side},${f.price.toFixed()},${f.qty.toFixed()},${f.fee.toFixed()},${f.liquidity},${f.clientOrderId}`);
  return `${rows.join('\n')}\n`;
}

/** Writes report.json, report.html and fills.csv into `out` (created; each file written to a temp name, then renamed). Returns the paths. */
export function writeArbOutputs(out: string, run: ArbBacktestRun, report: ArbBacktestReport): string[] {
  const files: [string, string][] = [
    ['report.json', renderArbReportJson(report)],
    ['report.html', renderArbReportHtml(report)],
    ['fills.csv', arbFillsCsv(run)],
  ];
  return writeFilesAtomically(out, files);
}
