// Stored records, newest first, a page at a time (GET /iot/data/MASK?of=&before=&limit=):
// "Older" asks for the records before the last one shown; "Newer" goes back a page.

import * as api from '../api.js';
import {el, formatTime, show} from '../dom.js';
import {devices, nameOf, refreshDevices} from '../state.js';

export async function render(root, query) {
  await refreshDevices();
  const mask = el('input', {id: 'records-mask', value: query.get('mask') || '#', placeholder: 'channel mask'});
  const device = el('select', {id: 'records-device'},
    el('option', {value: ''}, 'every device'),
    devices.map((d) => el('option', {value: d.id, selected: query.get('of') === d.id}, `${d.name || d.id} (${d.kind})`)));
  const limit = el('select', {id: 'records-limit'},
    [20, 50, 100, 500].map((n) => el('option', {value: n, selected: n === 50}, `${n} a page`)));
  const tbody = el('tbody');
  const newer = el('button', {type: 'button', class: 'secondary', id: 'records-newer', disabled: true}, '← Newer');
  const older = el('button', {type: 'button', class: 'secondary', id: 'records-older', disabled: true}, 'Older →');
  const where = el('span', {class: 'muted', id: 'records-page'});
  const error = el('p', {class: 'error', hidden: true});
  const stack = [];  // the `before` of each page shown before this one
  let before = null;
  let lastId = null;

  async function load() {
    const params = new URLSearchParams({limit: limit.value});
    if (device.value) params.set('of', device.value);
    if (before) params.set('before', before);
    const m = mask.value.trim() || '#';
    error.hidden = true;
    let list;
    try {
      list = await api.get(`/iot/data/${api.seg(m)}?${params}`);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      return;
    }
    tbody.replaceChildren(...list.map((r) => el('tr', {dataset: {id: r.id}},
      el('td', {class: 'nowrap'}, formatTime(r.at, true)),
      el('td', {}, el('a', {href: `#/devices/${r.of}`}, nameOf(r.of))),
      el('td', {class: 'mono'}, r.channel),
      el('td', {class: 'mono value'}, show(r.data)),
      el('td', {class: 'mono small muted'}, r.id))));
    if (!list.length) tbody.append(el('tr', {}, el('td', {colspan: 5, class: 'muted'}, 'No records.')));
    lastId = list.length ? list[list.length - 1].id : null;
    older.disabled = list.length < Number(limit.value);
    newer.disabled = stack.length === 0;
    where.textContent = `page ${stack.length + 1}` + (list.length ? `, ${list.length} record${list.length === 1 ? '' : 's'}` : '');
  }

  function restart() {
    stack.length = 0;
    before = null;
    return load();
  }
  older.addEventListener('click', () => {
    if (!lastId) return;
    stack.push(before);
    before = lastId;
    load();
  });
  newer.addEventListener('click', () => {
    if (!stack.length) return;
    before = stack.pop();
    load();
  });
  const form = el('form', {class: 'inline-form', id: 'records-form'}, mask, device, limit,
    el('button', {type: 'submit', id: 'records-go'}, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  limit.addEventListener('change', restart);
  device.addEventListener('change', restart);

  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Records'), where),
    form, error,
    el('div', {class: 'table-wrap'}, el('table', {id: 'records-table'},
      el('thead', {}, el('tr', {}, ['Time', 'Device', 'Channel', 'Data', 'Id'].map((h) => el('th', {}, h)))),
      tbody)),
    el('div', {class: 'actions pager'}, newer, older)));
  await load();
}
