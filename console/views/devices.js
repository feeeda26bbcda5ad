// The account's devices: online now, last seen, kind, name, HWID, model, status. Refreshed
// every 2 s while shown (GET /iot/device reads the server's database, which records every
// login and disconnect as it happens).

import {ago, el, formatTime, table} from '../dom.js';
import {refreshDevices} from '../state.js';

const kRefreshMs = 2000;

function row(d) {
  return el('tr', {dataset: {id: d.id, online: d.online ? 'yes' : 'no'}, class: 'clickable',
    onclick: () => { location.hash = `#/devices/${d.id}`; }},
  el('td', {}, el('span', {class: d.online ? 'dot on' : 'dot off', title: d.online ? 'online' : 'offline'}),
    el('span', {class: 'sr'}, d.online ? 'online' : 'offline')),
  el('td', {class: 'name'}, el('a', {href: `#/devices/${d.id}`}, d.name || '(no name)'),
    el('div', {class: 'muted mono small'}, d.id)),
  el('td', {class: 'wide'}, d.kind),
  el('td', {class: 'mono wide'}, d.hwid || ''),
  el('td', {class: 'mono small wide'}, d.model || ''),
  el('td', {}, el('span', {class: `status ${d.status}`}, d.status)),
  el('td', {class: 'last-seen', title: d.last_seen ? formatTime(d.last_seen) : ''},
    d.online ? 'now' : ago(d.last_seen)));
}

export async function render(root) {
  const summary = el('span', {class: 'muted'});
  const body = el('div');
  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Devices'), summary),
    body,
    el('p', {class: 'muted small'}, 'Prototypes are made with ', el('code', {}, 'plugmq prototype add'),
      ' or POST /iot/device; things enroll from a template\'s serials.')));

  let last = '';
  async function refresh() {
    const list = await refreshDevices();
    const online = list.filter((d) => d.online).length;
    summary.textContent = `${list.length} device${list.length === 1 ? '' : 's'}, ${online} online`;
    const key = JSON.stringify(list.map((d) => [d.id, d.online, ago(d.last_seen), d.name, d.status]));
    if (key === last) return;
    last = key;
    body.replaceChildren(list.length ? table(['', 'Name', ['Kind', 'wide'], ['HWID', 'wide'], ['Model', 'wide'], 'Status', 'Last seen'],
      list.map(row), {id: 'devices-table'}) : el('p', {class: 'muted'}, 'No devices yet.'));
  }
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), kRefreshMs);
  return () => clearInterval(timer);
}
