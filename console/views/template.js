// One template's serials (GET /iot/template/MODEL/serial), one more (POST, JSON) or many from
// CSV (POST, text/csv: hwid,enroll_pass[,control_pass] lines, all or none).

import * as api from '../api.js';
import {el, say, table} from '../dom.js';
import {nameOf, refreshDevices} from '../state.js';

export async function render(root, model) {
  const base = `/iot/template/${api.seg(model)}/serial`;
  async function load() {
    const [templates, serials] = await Promise.all([api.get('/iot/template'), api.get(base),
      refreshDevices()]);
    const t = templates.find((x) => x.id === model.toLowerCase()) || {id: model, name: ''};

    const hwid = el('input', {id: 'serial-hwid', placeholder: 'HWID (serial number)', required: true});
    const enroll = el('input', {id: 'serial-enroll', type: 'password', placeholder: 'enroll password',
      autocomplete: 'new-password', required: true});
    const control = el('input', {id: 'serial-control', type: 'password', placeholder: 'control password (optional)',
      autocomplete: 'new-password'});
    const note = el('p', {class: 'note', hidden: true, role: 'status', id: 'serial-note'});
    const one = el('form', {class: 'stack-form', id: 'serial-form'}, hwid, enroll, control,
      el('button', {type: 'submit', id: 'serial-add'}, 'Register'));
    one.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {hwid: hwid.value, enroll_pass: enroll.value};
      if (control.value) body.control_pass = control.value;
      try {
        await api.post(base, body);
        await load();
        say(document.getElementById('serial-note'), `Registered ${body.hwid}.`, true);
      } catch (err) {
        say(note, err.message);
      }
    });

    const file = el('input', {type: 'file', id: 'csv-file', accept: '.csv,text/csv,text/plain'});
    const text = el('textarea', {id: 'csv-text', rows: 4,
      placeholder: 'hwid,enroll_pass,control_pass\nSN-0001,factory1,owner1\nSN-0002,factory2'});
    file.addEventListener('change', async () => {
      if (file.files[0]) text.value = await file.files[0].text();
    });
    const csvNote = el('p', {class: 'note', hidden: true, role: 'status', id: 'csv-note'});
    const csv = el('form', {class: 'stack-form', id: 'csv-form'}, file, text,
      el('button', {type: 'submit', id: 'csv-import'}, 'Import CSV'));
    csv.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const r = await api.request('POST', base, {csv: text.value});
        await load();
        say(document.getElementById('csv-note'), `Registered ${r.added} serial${r.added === 1 ? '' : 's'}.`, true);
      } catch (err) {
        say(csvNote, err.message);
      }
    });

    const rows = serials.map((s) => el('tr', {dataset: {hwid: s.hwid}},
      el('td', {class: 'mono'}, s.hwid),
      el('td', {}, s.control ? 'enabled' : 'disabled'),
      el('td', {}, s.thing ? el('a', {href: `#/devices/${s.thing}`}, nameOf(s.thing)) : el('span', {class: 'muted'}, 'not enrolled'))));
    root.replaceChildren(
      el('p', {}, el('a', {href: '#/templates'}, '← Templates')),
      el('div', {class: 'card'},
        el('div', {class: 'card-head'}, el('h1', {}, t.name || '(no name)'),
          el('span', {class: 'mono muted'}, t.id)),
        el('p', {class: 'muted small'}, 'A thing enrolls by subscribing to ', el('code', {}, `${t.id}/thing/ENROLL_PASS`),
          ' with its HWID as client id; a controller with ', el('code', {}, `${t.id}/ctrl/HWID/CONTROL_PASS`), '.'),
        serials.length ? table(['HWID', 'Control', 'Thing'], rows, {id: 'serials-table'}) :
          el('p', {class: 'muted'}, 'No serials registered.')),
      el('div', {class: 'columns'},
        el('div', {class: 'card'}, el('h2', {}, 'Register a serial'), one, note),
        el('div', {class: 'card'}, el('h2', {}, 'Import from CSV'),
          el('p', {class: 'muted small'}, 'One serial a line: hwid,enroll_pass[,control_pass]; a header line, ' +
            'blank lines and lines starting with # are skipped. Every line is checked first: all or none.'),
          csv, csvNote)));
  }
  await load();
}
