// A time chart of one channel of one device (uPlot): its numeric history (GET /iot/data), then
// every new value as it is published (MQTT over WebSocket), the oldest points dropping off as
// new ones come.

import * as api from '../api.js';
import * as live from '../live.js';
import {el, formatTime, show} from '../dom.js';
import {devices, refreshDevices} from '../state.js';

// A record's data as a number, or null: numbers, numeric strings, true/false.
function numeric(data) {
  if (typeof data === 'number') return Number.isFinite(data) ? data : null;
  if (typeof data === 'boolean') return data ? 1 : 0;
  if (typeof data === 'string' && data.trim() !== '' && Number.isFinite(Number(data))) return Number(data);
  return null;
}

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export async function render(root, query) {
  await refreshDevices();
  const device = el('select', {id: 'chart-device'},
    devices.map((d) => el('option', {value: d.id, selected: query.get('of') === d.id}, `${d.name || d.id} (${d.kind})`)));
  const channel = el('select', {id: 'chart-channel'});
  const points = el('select', {id: 'chart-points'},
    [100, 500, 1000, 5000].map((n) => el('option', {value: n, selected: n === 500}, `last ${n} points`)));
  const latest = el('div', {class: 'latest', id: 'chart-latest'}, '—');
  const latestAt = el('div', {class: 'muted small', id: 'chart-latest-at'});
  const info = el('p', {class: 'muted small', id: 'chart-info'});
  const box = el('div', {class: 'chart-box', id: 'chart'});
  let plot = null;
  let unsubscribe = null;
  let xs = [];
  let ys = [];
  let observer = null;
  let loading = 0;

  function draw() {
    box.dataset.points = String(xs.length);
    if (ys.length) box.dataset.last = String(ys[ys.length - 1]);
    if (plot) plot.setData([xs, ys]);
  }

  function makePlot(label) {
    if (plot) plot.destroy();
    const width = Math.max(280, box.clientWidth);
    const height = window.innerWidth < 640 ? 240 : 340;
    const accent = cssVar('--accent', '#1f6feb');
    const ink = cssVar('--muted', '#667');
    const grid = cssVar('--line', '#e3e6ea');
    const axis = {stroke: ink, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
    plot = new globalThis.uPlot({
      width, height,
      scales: {x: {time: true}},
      axes: [axis, {...axis, size: 60}],
      series: [{}, {label, stroke: accent, width: 2, fill: `${accent}22`, points: {show: xs.length < 60}}],
      legend: {show: true},
    }, [xs, ys], box);
  }

  async function loadChannels() {
    const list = device.value ? await api.get(`/iot/channel/%23?of=${encodeURIComponent(device.value)}&limit=1000`) : [];
    const want = query.get('channel');
    channel.replaceChildren(...list.map((c) => el('option', {value: c, selected: c === want}, c)));
    if (!list.length) channel.append(el('option', {value: ''}, '(no data yet)'));
  }

  // `seed`: a record just received live, which the history may not hold yet (QoS 0 records are
  // committed within storage.commit_interval_ms).
  async function load(seed) {
    const mine = ++loading;
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
    xs = [];
    ys = [];
    const of = device.value;
    const ch = channel.value;
    if (!of || !ch) {
      info.textContent = of ? 'This device has no data yet: its first channel shows here as it publishes.' :
        'Pick a device and one of its channels.';
      if (plot) plot.destroy();
      plot = null;
      draw();
      if (of) {
        // The first record of the device picks its channel.
        unsubscribe = live.subscribe(`${of}/data/#`, async (msg) => {
          if (mine !== loading || channel.value) return;
          query.set('channel', msg.channel);
          await loadChannels();
          await load(msg);
        });
      }
      return;
    }
    const limit = Number(points.value);
    const records = await api.get(`/iot/data/${api.seg(ch)}?of=${encodeURIComponent(of)}&limit=${limit}`);
    if (mine !== loading) return;
    if (seed && seed.channel === ch && seed.of === of && !records.some((r) => r.id === seed.id)) {
      records.unshift({id: seed.id, data: seed.data, at: seed.at});
    }
    let skipped = 0;
    for (const r of records.reverse()) {
      const y = numeric(r.data);
      if (y === null) { skipped++; continue; }
      xs.push(r.at / 1000);
      ys.push(y);
    }
    info.textContent = `${xs.length} stored value${xs.length === 1 ? '' : 's'}` +
      (skipped ? ` (${skipped} not numeric, left out)` : '') + '; new values arrive live.';
    if (records.length) {
      const last = records[records.length - 1];
      latest.textContent = show(last.data, true);
      latestAt.textContent = formatTime(last.at, true);
    } else {
      latest.textContent = '—';
      latestAt.textContent = '';
    }
    makePlot(ch);
    draw();
    unsubscribe = live.subscribe(`${of}/data/${ch}`, (msg) => {
      latest.textContent = show(msg.data, true);
      latestAt.textContent = formatTime(msg.at, true);
      const y = numeric(msg.data);
      if (y === null) return;
      // Records arrive in order; one published with an older "at" is put in its place.
      const x = msg.at / 1000;
      let i = xs.length;
      while (i > 0 && xs[i - 1] > x) i--;
      xs.splice(i, 0, x);
      ys.splice(i, 0, y);
      while (xs.length > limit) { xs.shift(); ys.shift(); }
      draw();
    });
  }

  device.addEventListener('change', async () => { await loadChannels(); await load(); });
  channel.addEventListener('change', () => load());
  points.addEventListener('change', () => load());
  const reload = el('button', {type: 'button', class: 'secondary', id: 'chart-reload'}, 'Reload');
  reload.addEventListener('click', async () => { await loadChannels(); await load(); });

  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Chart'), el('div', {class: 'readout'}, latest, latestAt)),
    el('div', {class: 'inline-form'}, device, channel, points, reload),
    info, box));
  // Back after a lost connection: the history again, for what was published meanwhile.
  let wasConnected = false;
  const stopWatching = live.onState((state) => {
    if (state === 'connected' && wasConnected === 'lost') load().catch(() => {});
    if (state === 'connected') wasConnected = true;
    else if (wasConnected) wasConnected = 'lost';
  });
  observer = new ResizeObserver(() => {
    if (plot) plot.setSize({width: Math.max(280, box.clientWidth), height: window.innerWidth < 640 ? 240 : 340});
  });
  observer.observe(box);
  await loadChannels();
  await load();
  return () => {
    loading++;
    stopWatching();
    if (unsubscribe) unsubscribe();
    if (observer) observer.disconnect();
    if (plot) plot.destroy();
  };
}
