// The live data of a channel mask, as it is published: an MQTT subscription to
// DEVICE/data/MASK (every device: +/data/MASK) over the page's MQTT connection (live.js).

import * as live from '../live.js';
import {el, formatTime, show} from '../dom.js';
import {devices, nameOf, refreshDevices} from '../state.js';

const kMaxRows = 200;

export async function render(root, query) {
  await refreshDevices();
  const device = el('select', {id: 'live-device'},
    el('option', {value: '+'}, 'every device'),
    devices.map((d) => el('option', {value: d.id, selected: query.get('of') === d.id}, `${d.name || d.id} (${d.kind})`)));
  const mask = el('input', {id: 'live-mask', value: query.get('mask') || '#', placeholder: 'channel mask: #, room/+/temp'});
  const filterText = el('code', {id: 'live-filter'});
  const count = el('span', {class: 'muted', id: 'live-count'}, '0 messages');
  const tbody = el('tbody');
  const pause = el('button', {type: 'button', class: 'secondary', id: 'live-pause'}, 'Pause');
  const clearButton = el('button', {type: 'button', class: 'secondary', id: 'live-clear'}, 'Clear');
  let paused = false;
  let n = 0;
  let unsubscribe = null;

  function add(msg) {
    n++;
    count.textContent = `${n} message${n === 1 ? '' : 's'}`;
    if (paused) return;
    tbody.prepend(el('tr', {dataset: {of: msg.of, channel: msg.channel}},
      el('td', {class: 'nowrap'}, formatTime(msg.at, true)),
      el('td', {}, el('a', {href: `#/devices/${msg.of}`}, nameOf(msg.of))),
      el('td', {class: 'mono'}, msg.channel),
      el('td', {class: 'mono value'}, show(msg.data))));
    while (tbody.children.length > kMaxRows) tbody.lastChild.remove();
  }

  function start() {
    if (unsubscribe) unsubscribe();
    const m = mask.value.trim() || '#';
    const filter = `${device.value}/data/${m}`;
    filterText.textContent = filter;
    unsubscribe = live.subscribe(filter, add);
  }

  const form = el('form', {class: 'inline-form', id: 'live-form'}, device, mask,
    el('button', {type: 'submit', id: 'live-go'}, 'Watch'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    start();
  });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
  });
  clearButton.addEventListener('click', () => {
    tbody.replaceChildren();
    n = 0;
    count.textContent = '0 messages';
  });

  root.append(el('div', {class: 'card'},
    el('div', {class: 'card-head'}, el('h1', {}, 'Live data'), count),
    el('p', {class: 'muted'}, 'Records as they are published, from MQTT over WebSocket as this account. ',
      'Subscribed to ', filterText, '.'),
    form,
    el('div', {class: 'actions'}, pause, clearButton),
    el('div', {class: 'table-wrap'}, el('table', {id: 'live-table'},
      el('thead', {}, el('tr', {}, ['Time', 'Device', 'Channel', 'Data'].map((h) => el('th', {}, h)))),
      tbody))));
  start();
  return () => { if (unsubscribe) unsubscribe(); };
}
