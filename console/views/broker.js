// The broker's figures, from GET /metrics (the Prometheus text format), every 5 s while shown,
// with rates from one reading to the next. /metrics answers loopback addresses without a token;
// elsewhere it needs metrics.token (Authorization: Bearer), which the operator pastes here: it
// is kept in this page's memory only.

import * as api from '../api.js';
import {el} from '../dom.js';
import {byLabel, parseMetrics, pick} from '../metrics.js';

const kRefreshMs = 5000;
let token = '';  // metrics.token, in memory only

const int = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString());
function bytes(v) {
  if (v === null || v === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function duration(s) {
  if (s === null || !Number.isFinite(s)) return '—';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min ${Math.floor(s % 60)} s`;
}

function card(title, rows) {
  return el('div', {class: 'card figure-card'}, el('h2', {}, title),
    el('dl', {class: 'figures'}, rows.filter(Boolean).map(([k, v, id]) => [el('dt', {}, k), el('dd', {dataset: id ? {metric: id} : {}}, v)])));
}

export async function render(root) {
  const tokenInput = el('input', {type: 'password', id: 'metrics-token', placeholder: 'metrics.token (optional)',
    value: token, autocomplete: 'off'});
  const form = el('form', {class: 'inline-form', id: 'metrics-form'}, tokenInput,
    el('button', {type: 'submit', id: 'metrics-use'}, 'Use token'));
  const note = el('div', {id: 'metrics-note'});
  const figures = el('div', {class: 'figure-grid', id: 'metrics'});
  const updated = el('span', {class: 'muted small'});
  let previous = null;  // {t, received, delivered, stored}

  async function refresh() {
    let text;
    try {
      text = await api.request('GET', '/metrics', {as: null,
        headers: token ? {Authorization: `Bearer ${token}`} : {}});
    } catch (e) {
      figures.replaceChildren();
      const why = e.status === 403 && !token ?
        'This server answers GET /metrics to loopback addresses only, and this browser is not on ' +
        'the server\'s machine. Set metrics.token in the server\'s configuration (SIGHUP applies it) ' +
        'and paste it above.' :
        e.status === 403 ? 'The server refused this token: it is not the configured metrics.token.' :
          e.status === 401 ? 'The server has a metrics.token: paste it above.' : '';
      note.replaceChildren(el('div', {class: 'callout', id: 'metrics-refused'},
        el('strong', {}, `GET /metrics answered ${e.status || 'nothing'}: `), e.message, why ? el('p', {}, why) : null));
      return;
    }
    note.replaceChildren();
    const s = parseMetrics(typeof text === 'string' ? text : '');
    const now = Date.now();
    const received = pick(s, 'plugmq_messages_received_total');
    const delivered = pick(s, 'plugmq_messages_delivered_total');
    const stored = pick(s, 'plugmq_records_stored_total');
    const rate = (key, value) => {
      if (!previous || value === null || previous[key] === null) return '';
      const dt = (now - previous.t) / 1000;
      return dt > 0 ? ` (${((value - previous[key]) / dt).toFixed(1)}/s)` : '';
    };
    const conns = byLabel(s, 'plugmq_connections', 'listener');
    const dropped = byLabel(s, 'plugmq_messages_dropped_total', 'reason');
    const deliveredQos = byLabel(s, 'plugmq_messages_delivered_total', 'qos');
    const codes = byLabel(s, 'plugmq_http_requests_total', 'code');
    const enroll = byLabel(s, 'plugmq_enrollments_total', 'result');
    const commits = pick(s, 'plugmq_store_commit_seconds_count');
    const commitSum = pick(s, 'plugmq_store_commit_seconds_sum');
    const version = s.find((x) => x.name === 'plugmq_build_info');
    const start = pick(s, 'process_start_time_seconds');
    figures.replaceChildren(
      card('Connections', [
        ...Object.entries(conns).map(([k, v]) => [k, int(v), `connections-${k}`]),
        ['accepted', int(pick(s, 'plugmq_connections_accepted_total'))],
        ['refused', int(pick(s, 'plugmq_connections_refused_total'))],
      ]),
      card('Messages', [
        ['received', int(received) + rate('received', received), 'received'],
        ['delivered', int(delivered) + rate('delivered', delivered), 'delivered'],
        ...Object.entries(deliveredQos).map(([k, v]) => [`  at QoS ${k}`, int(v)]),
        ...Object.entries(dropped).filter(([, v]) => v > 0).map(([k, v]) => [`dropped: ${k}`, int(v)]),
        ['replayed', int(pick(s, 'plugmq_messages_replayed_total'))],
        ['MQTT in / out', `${bytes(pick(s, 'plugmq_mqtt_received_bytes_total'))} / ${bytes(pick(s, 'plugmq_mqtt_sent_bytes_total'))}`],
      ]),
      card('Store', [
        ['records stored', int(stored) + rate('stored', stored), 'stored'],
        ['waiting for the writer', int(pick(s, 'plugmq_store_queue_records'))],
        ['commits', commits ? `${int(commits)}, ${(1000 * commitSum / commits).toFixed(2)} ms each on average` : int(commits)],
        ['expired', int(pick(s, 'plugmq_records_expired_total'))],
        ['database', bytes(pick(s, 'plugmq_store_database_bytes'))],
        ['write-ahead log', bytes(pick(s, 'plugmq_store_wal_bytes'))],
        ['persistent sessions', int(pick(s, 'plugmq_sessions_persistent'))],
        ['retained messages', int(pick(s, 'plugmq_retained_messages'))],
      ]),
      card('HTTP and enrollment', [
        ...Object.entries(codes).filter(([, v]) => v > 0).sort().map(([k, v]) => [`HTTP ${k}`, int(v)]),
        ['enrolled', int(enroll.ok)],
        ['enrollments refused', int(enroll.failed)],
        ['property requests', int(pick(s, 'plugmq_property_requests_total'))],
      ]),
      card('Process', [
        ['version', version ? version.labels.version : '—'],
        ['up for', start ? duration(now / 1000 - start) : '—'],
        ['memory (resident)', bytes(pick(s, 'process_resident_memory_bytes'))],
        ['CPU', `${(pick(s, 'process_cpu_seconds_total') || 0).toFixed(1)} s`],
        ['open files', `${int(pick(s, 'process_open_fds'))} of ${int(pick(s, 'process_max_fds'))}`],
      ]));
    previous = {t: now, received, delivered, stored};
    updated.textContent = `updated ${new Date(now).toLocaleTimeString()}`;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token = tokenInput.value.trim();
    previous = null;
    refresh();
  });
  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Broker'), updated),
    el('p', {class: 'muted'}, 'The server\'s figures from GET /metrics, every 5 s. A token is kept in this page\'s memory only.'),
    form, note),
  figures);
  await refresh();
  const timer = setInterval(() => refresh(), kRefreshMs);
  return () => clearInterval(timer);
}
