// The account's persistent MQTT sessions (clean session 0): GET /iot/session, and
// DELETE /iot/session/ID/CLIENT_ID for one whose client is not connected.

import * as api from '../api.js';
import {ago, el, formatTime, table} from '../dom.js';
import {nameOf, refreshDevices} from '../state.js';

export async function render(root) {
  const body = el('div');
  const note = el('p', {class: 'note', hidden: true, role: 'status'});
  async function load() {
    const [list] = await Promise.all([api.get('/iot/session'), refreshDevices()]);
    const rows = list.map((s) => el('tr', {dataset: {id: s.id, client: s.client_id}},
      el('td', {}, s.id.startsWith('dev-') ? el('a', {href: `#/devices/${s.id}`}, nameOf(s.id)) : 'the account'),
      el('td', {class: 'mono'}, s.client_id),
      el('td', {}, el('span', {class: s.online ? 'dot on' : 'dot off'}), s.online ? ' online' : ' offline'),
      el('td', {class: 'mono small'}, s.subscriptions.map((x) => `${x.filter} (QoS ${x.qos})`).join(', ') || '—'),
      el('td', {class: 'num'}, String(s.waiting)),
      el('td', {title: formatTime(s.last_seen)}, s.online ? 'now' : ago(s.last_seen)),
      el('td', {}, el('button', {type: 'button', class: 'link danger', disabled: s.online,
        title: s.online ? 'connected: it can be deleted once its client has disconnected' : 'delete this session',
        onclick: async () => {
          try {
            await api.del(`/iot/session/${api.seg(s.id)}/${api.seg(s.client_id)}`);
            note.hidden = true;
            await load();
          } catch (e) {
            note.textContent = e.message;
            note.className = 'note error';
            note.hidden = false;
          }
        }}, 'Delete'))));
    body.replaceChildren(list.length ? table(['Login', 'Client id', 'Now', 'Subscriptions', 'Waiting', 'Last seen', ''],
      rows, {id: 'sessions-table'}) : el('p', {class: 'muted'}, 'No persistent sessions.'));
  }
  const refresh = el('button', {type: 'button', class: 'secondary'}, 'Refresh');
  refresh.addEventListener('click', load);
  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Persistent sessions'), refresh),
    el('p', {class: 'muted'}, 'Sessions of clients that connect with clean session 0: their subscriptions and ',
      'the QoS 1/2 messages waiting for them. Unused ones go by themselves after sessions.expiry_days.'),
    body, note));
  await load();
}
