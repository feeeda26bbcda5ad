// One device: its name, status and permissions (editable: PATCH /iot/device/ID), its additional
// properties (set, change, delete: PATCH and DELETE /iot/device/ID/NAME), its channels (to the
// chart and the records), and, for a controller, the things it controls.

import * as api from '../api.js';
import {ago, el, formatTime, say, show, table} from '../dom.js';
import {nameOf, refreshDevices} from '../state.js';

// A permission list editor: every device (null), none ([]) or these Plug-IDs.
function permEditor(label, value, idPrefix) {
  const mode = el('select', {id: `${idPrefix}-mode`},
    el('option', {value: 'all', selected: value === null}, 'every device of the account'),
    el('option', {value: 'none', selected: Array.isArray(value) && value.length === 0}, 'none (only itself)'),
    el('option', {value: 'list', selected: Array.isArray(value) && value.length > 0}, 'these devices'));
  const list = el('textarea', {id: `${idPrefix}-list`, rows: 2, placeholder: 'dev-…, dev-…',
    value: Array.isArray(value) ? value.join(', ') : ''});
  const sync = () => { list.hidden = mode.value !== 'list'; };
  mode.addEventListener('change', sync);
  sync();
  return {
    node: el('label', {}, label, mode, list),
    value() {
      if (mode.value === 'all') return null;
      if (mode.value === 'none') return [];
      return list.value.split(/[\s,]+/).filter(Boolean);
    },
  };
}

function settings(info, reload) {
  const name = el('input', {id: 'dev-name', value: info.name});
  const status = el('select', {id: 'dev-status'},
    ['ok', 'disabled', 'reactivate'].map((s) => el('option', {value: s, selected: info.status === s}, s)));
  const read = permEditor('Reads', info.perm.of.r, 'perm-r');
  const write = permEditor('Writes', info.perm.of.w, 'perm-w');
  const ctrl = el('select', {id: 'perm-ctrl'},
    [['rw', 'read and write'], ['r', 'read'], ['', 'no controllers']].map(([v, t]) =>
      el('option', {value: v, selected: info.perm.ctrl === v}, t)));
  const note = el('p', {class: 'note', hidden: true, role: 'status'});
  const save = el('button', {type: 'submit', id: 'dev-save'}, 'Save');
  const form = el('form', {class: 'grid-form', id: 'dev-settings'},
    el('label', {}, 'Name', name),
    el('label', {}, 'Status', status),
    read.node, write.node,
    el('label', {}, 'Its controllers may', ctrl),
    el('div', {class: 'actions'}, save, note));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api.patch(`/iot/device/${api.seg(info.id)}`, {
        name: name.value, status: status.value,
        perm: {of: {r: read.value(), w: write.value()}, ctrl: ctrl.value},
      });
      say(note, 'Saved.', true);
      await reload();
    } catch (err) {
      say(note, err.message);
    } finally {
      save.disabled = false;
    }
  });
  return el('div', {class: 'card'}, el('h2', {}, 'Settings'), form);
}

function properties(info, resolved, reload) {
  const path = (n) => `/iot/device/${api.seg(info.id)}/${api.seg(n)}`;
  const nameInput = el('input', {id: 'prop-name', placeholder: 'name', required: true});
  const valueInput = el('input', {id: 'prop-value', placeholder: 'JSON value, or text'});
  const note = el('p', {class: 'note', hidden: true, role: 'status'});
  const names = Object.keys(info.props).sort();
  const rows = names.map((n) => {
    const raw = info.props[n];
    const link = raw && typeof raw === 'object' && !Array.isArray(raw) && typeof raw.channel === 'string' &&
      Object.keys(raw).length === 1;
    return el('tr', {dataset: {prop: n}},
      el('td', {class: 'mono'}, n),
      el('td', {class: 'mono value'}, link ? `${show(resolved[n])}` : show(raw)),
      el('td', {class: 'muted small'}, link ? `last data on channel "${raw.channel}"` : ''),
      el('td', {class: 'row-actions'},
        el('button', {type: 'button', class: 'link', onclick: () => {
          nameInput.value = n;
          valueInput.value = JSON.stringify(raw);
          valueInput.focus();
        }}, 'Edit'),
        el('button', {type: 'button', class: 'link danger', onclick: async () => {
          try {
            await api.del(path(n));
            await reload();
          } catch (err) {
            say(note, err.message);
          }
        }}, 'Delete')));
  });
  const form = el('form', {class: 'inline-form', id: 'prop-form'}, nameInput, valueInput,
    el('button', {type: 'submit', id: 'prop-save'}, 'Set'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      // The value as typed: JSON when it parses, else the server takes it as text.
      await api.request('PATCH', path(nameInput.value.trim()), {body: valueInput.value === '' ? '""' : valueInput.value});
      nameInput.value = '';
      valueInput.value = '';
      await reload();
    } catch (err) {
      say(note, err.message);
    }
  });
  return el('div', {class: 'card'}, el('h2', {}, 'Properties'),
    names.length ? table(['Name', 'Value', '', ''], rows, {id: 'props-table'}) :
      el('p', {class: 'muted'}, 'No properties.'),
    form, note,
    el('p', {class: 'muted small'}, '{"channel":"CH"} links a property to the last data on channel CH.'));
}

function channels(info, list) {
  return el('div', {class: 'card'}, el('h2', {}, 'Channels'),
    list.length ? el('ul', {class: 'chips'}, list.map((c) => el('li', {},
      el('span', {class: 'mono'}, c), ' ',
      el('a', {href: `#/chart?of=${encodeURIComponent(info.id)}&channel=${encodeURIComponent(c)}`}, 'chart'), ' ',
      el('a', {href: `#/records?of=${encodeURIComponent(info.id)}&mask=${encodeURIComponent(c)}`}, 'records')))) :
      el('p', {class: 'muted'}, 'No data stored yet.'));
}

export async function render(root, id) {
  async function load() {
    const [info, resolved, chans, list] = await Promise.all([
      api.get(`/iot/device/${api.seg(id)}`),
      api.get(`/iot/device/${api.seg(id)}/`),
      api.get(`/iot/channel/%23?of=${encodeURIComponent(id)}&limit=200`),
      refreshDevices(),
    ]);
    const entry = list.find((d) => d.id === info.id) || {};
    root.replaceChildren(
      el('p', {}, el('a', {href: '#/devices'}, '← Devices')),
      el('div', {class: 'card'},
        el('div', {class: 'card-head'},
          el('h1', {id: 'device-title'}, info.name || '(no name)'),
          el('span', {class: entry.online ? 'pill on' : 'pill', id: 'device-online'},
            entry.online ? 'online' : `offline, seen ${ago(entry.last_seen)}`)),
        el('dl', {class: 'facts'},
          el('dt', {}, 'Plug-ID'), el('dd', {class: 'mono'}, info.id),
          el('dt', {}, 'Kind'), el('dd', {}, info.kind),
          el('dt', {}, 'HWID'), el('dd', {class: 'mono'}, info.hwid || '—'),
          el('dt', {}, 'Model'), el('dd', {class: 'mono'}, info.model ? el('a', {href: `#/templates/${info.model}`}, info.model) : '—'),
          el('dt', {}, 'Last client id'), el('dd', {class: 'mono'}, entry.last_client_id || '—'),
          el('dt', {}, 'Last seen'), el('dd', {}, entry.last_seen ? formatTime(entry.last_seen) : 'never'),
          info.controls ? [el('dt', {}, 'Controls'), el('dd', {}, info.controls.map((t) =>
            el('a', {href: `#/devices/${t}`, class: 'chip'}, nameOf(t))))] : null)),
      el('div', {class: 'columns'}, settings(info, load), properties(info, resolved, load)),
      channels(info, chans));
  }
  await load();
}
