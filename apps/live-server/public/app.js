/* OpenSQT live monitor page: read-only view of the /ws feed (see apps/live-server/src/messages.ts). */
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const GREEN = '#22c55e';
  const RED = '#ef4444';

  /** Test hooks: real state of the page. */
  const hooks = (window.__live = {
    candles: 0, priceLines: 0, markers: 0, fills: 0, messages: {}, played: 0, ws: 'connecting', connector: 'unknown',
    symbol: null, symbols: [], lastClose: null, overview: null, overviews: 0, closeReason: null,
  });

  const state = {
    bars: [], // {time, open, high, low, close, volume} numbers, ascending
    lines: new Map(), // order key -> price line
    orders: new Map(), // order key -> order message
    markers: [],
    fills: [],
    position: null,
    asset: 'USDT',
    buys: 0,
    sells: 0,
    muted: true,
    audio: null,
    precision: 2,
    fitted: false,
    symbol: null, // symbol this connection shows (from the `symbols` message)
    defaultSymbol: null,
    wanted: wantedFromHash(), // symbol asked for in the /ws URL (null = the server's default)
  };

  /** `#symbol=ETHUSDT` in the page URL picks the symbol (bookmarkable). */
  function wantedFromHash() {
    const m = /(?:^#|&)symbol=([^&]+)/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  // ---------- chart ----------
  const chart = LightweightCharts.createChart($('chart'), {
    autoSize: true,
    layout: { background: { type: 'solid', color: '#0b0e14' }, textColor: '#7b8497', fontSize: 11 },
    grid: { vertLines: { color: '#131823' }, horzLines: { color: '#131823' } },
    rightPriceScale: { borderColor: '#1f2633' },
    timeScale: { borderColor: '#1f2633', timeVisible: true, secondsVisible: false, rightOffset: 6 },
    crosshair: { mode: LightweightCharts.CrosshairMode.Normal },
  });
  const candles = chart.addCandlestickSeries({
    upColor: GREEN, downColor: RED, wickUpColor: GREEN, wickDownColor: RED, borderVisible: false,
    // keep open-order lines near the price (±10 %) inside the visible range
    autoscaleInfoProvider: (original) => {
      const r = original();
      const last = state.bars[state.bars.length - 1];
      if (!r || !last || !state.orders.size) return r;
      let lo = r.priceRange.minValue;
      let hi = r.priceRange.maxValue;
      for (const o of state.orders.values()) {
        const p = num(o.price);
        if (Math.abs(p - last.close) <= last.close * 0.1) { lo = Math.min(lo, p); hi = Math.max(hi, p); }
      }
      return { priceRange: { minValue: lo, maxValue: hi }, margins: r.margins };
    },
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.24 } });
  const volume = chart.addHistogramSeries({ priceScaleId: '', priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  // ---------- formatting ----------
  const num = (v) => (v === undefined || v === null || v === '' ? NaN : Number(v));
  const decimalsOf = (s) => { const m = /\.(\d+)$/.exec(String(s)); return m ? m[1].length : 0; };
  const fmt = (v, dp) => (Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: dp, maximumFractionDigits: dp }) : '—');
  const signed = (v, dp = 2) => (Number.isFinite(v) ? (v > 0 ? '+' : '') + fmt(v, dp) : '—');
  const tone = (el, v) => { el.classList.toggle('up', v > 0); el.classList.toggle('down', v < 0); };
  const hhmmss = (sec) => new Date(sec * 1000).toISOString().slice(11, 19);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  function toBar(d) {
    return { time: Number(d.time), open: num(d.open), high: num(d.high), low: num(d.low), close: num(d.close), volume: num(d.volume) || 0 };
  }
  const volBar = (b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? 'rgba(34,197,94,.35)' : 'rgba(239,68,68,.35)' });

  function setPrecision(sample) {
    const p = Math.min(8, Math.max(2, decimalsOf(sample)));
    if (p <= state.precision && state.fitted) return;
    state.precision = Math.max(p, state.precision);
    candles.applyOptions({ priceFormat: { type: 'price', precision: state.precision, minMove: Math.pow(10, -state.precision) } });
  }

  // ---------- header ----------
  function renderPrice() {
    const last = state.bars[state.bars.length - 1];
    if (!last) return;
    const prev = state.bars[state.bars.length - 2];
    const el = $('lastPrice');
    el.textContent = fmt(last.close, state.precision);
    tone(el, prev ? last.close - prev.close : 0);
    renderUnrealized();
  }

  function renderUnrealized() {
    const p = state.position;
    const el = $('upnl');
    if (!p) return;
    const last = state.bars[state.bars.length - 1];
    const size = num(p.amount);
    const entry = num(p.entryPrice);
    // server figure, refreshed with the latest close between position updates (display only)
    const u = last && size && entry > 0 ? (last.close - entry) * size : num(p.unrealizedPnL);
    el.textContent = signed(u) + ' ' + state.asset;
    tone(el, u);
  }

  function renderPosition(p) {
    state.position = p;
    const size = num(p.amount);
    const el = $('position');
    el.textContent = size ? `${signed(size, Math.max(3, decimalsOf(p.amount)))} @ ${fmt(num(p.entryPrice), state.precision)}` : 'flat';
    tone(el, size);
    if (p.realizedPnL !== undefined) renderRealized(p.realizedPnL);
    renderUnrealized();
  }

  function renderRealized(v) {
    const el = $('rpnl');
    el.textContent = signed(num(v)) + ' ' + state.asset;
    tone(el, num(v));
  }

  // ---------- orders ----------
  const keyOf = (o) => String(o.id || `${o.side}-${o.price}`);

  function dropLine(key) {
    const line = state.lines.get(key);
    if (line) candles.removePriceLine(line);
    state.lines.delete(key);
    state.orders.delete(key);
  }

  function applyOrder(o) {
    const key = keyOf(o);
    const open = o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';
    dropLine(key);
    const price = num(o.price);
    if (!open || !(price > 0)) return;
    const buy = o.side === 'BUY';
    state.orders.set(key, o);
    state.lines.set(key, candles.createPriceLine({
      price, color: buy ? GREEN : RED, lineWidth: 1, lineStyle: LightweightCharts.LineStyle.Dashed, axisLabelVisible: true,
      title: (buy ? 'BUY ' : 'SELL ') + (o.quantity || ''),
    }));
  }

  function renderOrders() {
    hooks.priceLines = state.lines.size;
    $('orderCount').textContent = String(state.orders.size);
    const rows = [...state.orders.values()].sort((a, b) => num(b.price) - num(a.price));
    $('orderList').innerHTML = rows.length
      ? rows.map((o) => `<div class="row"><span class="${o.side === 'BUY' ? 'up' : 'down'}">${o.side === 'BUY' ? 'BUY' : 'SELL'}</span>`
          + `<span class="r">${esc(fmt(num(o.price), state.precision))}</span><span class="r t">${esc(o.quantity ?? '')}</span></div>`).join('')
      : '<div class="empty">No open orders</div>';
  }

  /** Forgets everything of the previous symbol (chart, lines, markers, fills, position, counters). */
  function resetSymbolView() {
    for (const key of [...state.lines.keys()]) dropLine(key);
    state.bars = [];
    state.markers = [];
    state.fills = [];
    state.position = null;
    state.buys = 0;
    state.sells = 0;
    state.fitted = false;
    state.precision = 2;
    candles.applyOptions({ priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
    candles.setData([]);
    volume.setData([]);
    candles.setMarkers([]);
    Object.assign(hooks, { candles: 0, markers: 0, fills: 0, lastClose: null });
    for (const id of ['lastPrice', 'position', 'upnl', 'rpnl', 'fees']) { $(id).textContent = '—'; $(id).classList.remove('up', 'down'); }
    $('totalBuys').textContent = '0';
    $('totalSells').textContent = '0';
    $('fillCount').textContent = '0';
    $('fillList').innerHTML = '<div class="empty">No fills yet</div>';
    renderOrders();
  }

  // ---------- symbols and account overview ----------
  function renderSymbols(d) {
    state.symbol = d.current;
    state.defaultSymbol = d.default;
    hooks.symbol = d.current;
    hooks.symbols = d.symbols.slice();
    const sel = $('symbolSelect');
    sel.innerHTML = d.symbols.map((x) => `<option value="${esc(x)}">${esc(x)}</option>`).join('');
    sel.value = d.current;
    sel.hidden = d.symbols.length < 2;
    $('symbol').hidden = !sel.hidden;
    $('symbol').textContent = d.current;
    document.title = `${d.current} · OpenSQT Live`;
  }

  function renderOverview(d) {
    hooks.overview = d;
    hooks.overviews++;
    const a = d.asset || state.asset;
    $('ovEquity').textContent = `${fmt(num(d.equity), 2)} ${a}`;
    $('ovWallet').textContent = `${fmt(num(d.walletBalance), 2)} ${a}`;
    const u = num(d.unrealizedPnL);
    $('ovUpnl').textContent = `${signed(u)} ${a}`;
    tone($('ovUpnl'), u);
    $('ovAvailable').textContent = `${fmt(num(d.available), 2)} ${a}`;
    const mr = d.marginRatio === null || d.marginRatio === undefined ? NaN : num(d.marginRatio) * 100;
    const mrEl = $('ovMarginRatio');
    mrEl.textContent = Number.isFinite(mr) ? `${fmt(mr, 2)} %` : '—';
    mrEl.classList.toggle('down', mr >= 80);
    mrEl.classList.toggle('warnText', mr >= 50 && mr < 80);
    const rows = d.positions || [];
    $('ovPositions').innerHTML = rows.length
      ? rows.map((p) => {
          const size = num(p.amount);
          const up = num(p.unrealizedPnL);
          const liq = num(p.liquidationPrice);
          const dist = p.liquidationDistancePct === null ? NaN : num(p.liquidationDistancePct);
          const dp = Math.max(2, decimalsOf(p.markPrice));
          return `<tr data-symbol="${esc(p.symbol)}" class="${p.symbol === state.symbol ? 'current' : ''}">`
            + `<td>${esc(p.symbol)}</td>`
            + `<td class="${size > 0 ? 'up' : size < 0 ? 'down' : ''}">${size ? esc(signed(size, Math.max(3, decimalsOf(p.amount)))) : 'flat'}</td>`
            + `<td>${size ? esc(fmt(num(p.entryPrice), dp)) : '—'}</td>`
            + `<td>${num(p.markPrice) > 0 ? esc(fmt(num(p.markPrice), dp)) : '—'}</td>`
            + `<td>${size ? esc(fmt(num(p.notional), 2)) : '—'}</td>`
            + `<td class="${up > 0 ? 'up' : up < 0 ? 'down' : ''}">${size ? esc(signed(up)) : '—'}</td>`
            + `<td>${liq > 0 ? esc(fmt(liq, dp)) : '—'}</td>`
            + `<td class="${dist < 10 ? 'down' : dist < 25 ? 'warnText' : ''}">${Number.isFinite(dist) ? esc(fmt(dist, 2)) + ' %' : '—'}</td>`
            + `<td>${esc(signed(num(p.realizedPnL)))}</td></tr>`;
        }).join('')
      : '<tr><td colspan="9" class="empty">No symbols</td></tr>';
  }

  $('ovPositions').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-symbol]');
    if (tr) switchSymbol(tr.getAttribute('data-symbol'));
  });
  $('symbolSelect').addEventListener('change', (ev) => switchSymbol(ev.target.value));

  // ---------- fills ----------
  function toast(text, cls) {
    const el = document.createElement('div');
    el.className = 'toast ' + cls;
    el.textContent = text;
    $('toast').appendChild(el);
    setTimeout(() => el.remove(), 2300);
  }

  function ensureAudio() {
    if (!state.audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      state.audio = new Ctx();
    }
    if (state.audio.state === 'suspended') state.audio.resume().catch(() => undefined);
    return state.audio;
  }

  /** A short two-tone "coin" blip synthesized with WebAudio. */
  function playCoin() {
    if (state.muted) return;
    const ctx = ensureAudio();
    if (!ctx) return;
    const t = ctx.currentTime + 0.01;
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.01);
    gain.gain.setValueAtTime(0.15, t + 0.08);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.45);
    gain.connect(ctx.destination);
    const osc = ctx.createOscillator();
    osc.type = 'square';
    osc.frequency.setValueAtTime(987.77, t); // B5
    osc.frequency.setValueAtTime(1318.51, t + 0.08); // E6
    osc.connect(gain);
    osc.start(t);
    osc.stop(t + 0.5);
    hooks.played++;
  }

  function onTrade(d) {
    const buy = d.side === 'buy';
    const sec = Number(d.time) || Math.floor(Date.now() / 1000);
    if (buy) state.buys++; else state.sells++;
    hooks.fills = state.buys + state.sells;
    $('totalBuys').textContent = String(state.buys);
    $('totalSells').textContent = String(state.sells);
    state.markers.push({
      time: Math.floor(sec / 60) * 60,
      position: buy ? 'belowBar' : 'aboveBar',
      color: buy ? GREEN : RED,
      shape: buy ? 'arrowUp' : 'arrowDown',
      text: (buy ? 'B ' : 'S ') + fmt(num(d.price), state.precision),
    });
    state.markers = state.markers.slice(-100).sort((a, b) => a.time - b.time);
    candles.setMarkers(state.markers);
    hooks.markers = state.markers.length;
    state.fills.unshift(d);
    state.fills.length = Math.min(state.fills.length, 50);
    $('fillCount').textContent = String(hooks.fills);
    $('fillList').innerHTML = state.fills.map((f) => {
      const b = f.side === 'buy';
      return `<div class="row"><span class="t">${hhmmss(Number(f.time) || 0)}</span><span class="${b ? 'up' : 'down'}">${b ? 'BUY' : 'SELL'}</span>`
        + `<span class="r">${esc(fmt(num(f.price), state.precision))}</span><span class="r t">${esc(f.amount ?? '')}</span></div>`;
    }).join('');
    toast(`${buy ? 'BOUGHT' : 'SOLD'} ${d.amount ?? ''} @ ${fmt(num(d.price), state.precision)}`, buy ? 'up' : 'down');
    playCoin();
  }

  // ---------- messages ----------
  const handlers = {
    history(data) {
      const byTime = new Map();
      for (const d of data) { const b = toBar(d); if (Number.isFinite(b.time) && Number.isFinite(b.close)) byTime.set(b.time, b); }
      state.bars = [...byTime.values()].sort((a, b) => a.time - b.time);
      if (data.length) setPrecision(data[data.length - 1].close);
      candles.setData(state.bars.map(({ volume: _v, ...b }) => b));
      volume.setData(state.bars.map(volBar));
      if (state.markers.length) candles.setMarkers(state.markers);
      if (!state.fitted && state.bars.length) { chart.timeScale().fitContent(); state.fitted = true; }
      hooks.candles = state.bars.length;
      hooks.lastClose = state.bars.length ? state.bars[state.bars.length - 1].close : null;
      renderPrice();
    },
    kline(d) {
      const b = toBar(d);
      const last = state.bars[state.bars.length - 1];
      if (last && b.time < last.time) return; // older bar: the chart can only update the last one
      if (last && b.time === last.time) state.bars[state.bars.length - 1] = b; else state.bars.push(b);
      if (state.bars.length > 5000) state.bars.shift();
      candles.update({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close });
      volume.update(volBar(b));
      hooks.candles = state.bars.length;
      hooks.lastClose = b.close;
      renderPrice();
    },
    orders(data) {
      if (Array.isArray(data)) {
        // full set of open orders: drop lines that are not in it
        const keep = new Set(data.map(keyOf));
        for (const key of [...state.lines.keys()]) if (!keep.has(key)) dropLine(key);
        data.forEach(applyOrder);
      } else applyOrder(data);
      renderOrders();
    },
    trade_event: onTrade,
    account(d) {
      if (!d || !d.asset) return;
      state.asset = d.asset;
      $('symbol').textContent = d.symbol || d.asset;
      const bal = num(d.balance || d.marginBalance || d.free);
      $('balance').textContent = `${fmt(bal, 2)} ${d.asset}`;
      if (d.realizedPnL !== undefined) renderRealized(d.realizedPnL);
      if (d.fees !== undefined) $('fees').textContent = `${fmt(num(d.fees), 4)} ${d.asset}`;
    },
    position(d) {
      if (d.symbol) $('symbol').textContent = d.symbol;
      renderPosition(d);
    },
    connector(d) {
      setConnector(d.state === 'connected' ? 'connected' : 'disconnected');
    },
    symbols: renderSymbols,
    account_overview: renderOverview,
  };

  function setPill(id, cls, text) {
    const el = $(id);
    el.className = 'pill ' + cls;
    el.lastElementChild.textContent = text;
  }
  function setConnector(s) {
    hooks.connector = s;
    setPill('connectorState', s === 'connected' ? 'ok' : 'bad', s === 'connected' ? 'Connector' : 'Connector down');
  }

  // ---------- socket ----------
  let attempt = 0;
  let current = null; // the open (or opening) socket; messages of any other one are stale
  let switching = false;

  /** Shows `symbol` instead: drops the current socket and opens one for it (fresh snapshot). */
  function switchSymbol(symbol) {
    if (!symbol || symbol === state.symbol && current && current.readyState === WebSocket.OPEN) return;
    state.wanted = symbol;
    history.replaceState(null, '', symbol === state.defaultSymbol ? location.pathname + location.search : `#symbol=${encodeURIComponent(symbol)}`);
    resetSymbolView();
    switching = true;
    if (current) current.close(1000, 'switching symbol');
    else connect();
  }

  function connect() {
    const q = new URLSearchParams({ overview: '1' });
    if (state.wanted) q.set('symbol', state.wanted);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?' + q.toString();
    const ws = new WebSocket(url);
    current = ws;
    hooks.ws = 'connecting';
    setPill('wsState', 'warn', attempt ? `Reconnecting (${attempt})…` : 'Connecting…');
    ws.onopen = () => {
      if (ws !== current) return;
      attempt = 0;
      hooks.ws = 'open';
      setPill('wsState', 'ok', 'Live');
      fetch('/health', { cache: 'no-store' })
        .then((r) => r.json())
        .then((h) => setConnector(h.connector === 'connected' ? 'connected' : 'disconnected'))
        .catch(() => undefined);
    };
    ws.onmessage = (ev) => {
      if (ws !== current) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        console.error('bad message', e);
        return;
      }
      hooks.messages[msg.type] = (hooks.messages[msg.type] || 0) + 1;
      const h = handlers[msg.type];
      if (!h) return;
      try {
        h(msg.data);
      } catch (e) {
        console.error(`error handling ${msg.type}`, e);
      }
    };
    ws.onclose = (ev) => {
      if (ws !== current) return;
      current = null;
      hooks.ws = 'closed';
      if (switching) {
        switching = false;
        connect();
        return;
      }
      if (ev.code === 4404 || ev.code === 4400) {
        // the symbol asked for is not served (e.g. an old bookmark): say so, fall back to the default
        hooks.closeReason = ev.reason;
        toast(ev.reason || 'unknown symbol', 'down');
        state.wanted = null;
        history.replaceState(null, '', location.pathname + location.search);
        resetSymbolView();
        connect();
        return;
      }
      const delay = Math.min(10_000, 500 * Math.pow(2, attempt++)) * (0.8 + Math.random() * 0.2);
      setPill('wsState', 'bad', `Offline · retry ${Math.round(delay / 100) / 10}s`);
      setTimeout(connect, delay);
    };
  }

  // ---------- sound toggle ----------
  $('muteBtn').addEventListener('click', () => {
    state.muted = !state.muted;
    const btn = $('muteBtn');
    btn.setAttribute('aria-pressed', String(state.muted));
    $('muteLabel').textContent = state.muted ? 'Muted' : 'Sound on';
    $('muteIcon').setAttribute('d', state.muted ? 'm23 9-6 6m0-6 6 6' : 'M15.5 8.5a5 5 0 0 1 0 7M19 5a10 10 0 0 1 0 14');
    if (!state.muted) ensureAudio(); // the click is the user gesture that unlocks audio
  });

  connect();
})();
