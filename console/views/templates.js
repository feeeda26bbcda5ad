// The account's production templates (GET /iot/template) and a new one (POST /iot/template).

import * as api from '../api.js';
import {el, formatTime, say, table} from '../dom.js';

const permText = (list) => (list === null ? 'every device' : list.length ? list.join(', ') : 'only itself');

export async function render(root) {
  const list = await api.get('/iot/template');
  const name = el('input', {id: 'template-name', placeholder: 'name, e.g. thermostat'});
  const ctrl = el('select', {id: 'template-ctrl'},
    el('option', {value: 'rw'}, 'controllers read and write its things'),
    el('option', {value: 'r'}, 'controllers only read its things'),
    el('option', {value: ''}, 'no controllers'));
  const note = el('p', {class: 'note', hidden: true, role: 'status'});
  const form = el('form', {class: 'inline-form', id: 'template-form'}, name, ctrl,
    el('button', {type: 'submit', id: 'template-add'}, 'Create template'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const t = await api.post('/iot/template', {name: name.value, ctrl: ctrl.value});
      location.hash = `#/templates/${t.id}`;
    } catch (err) {
      say(note, err.message);
    }
  });
  const rows = list.map((t) => el('tr', {dataset: {id: t.id}, class: 'clickable',
    onclick: () => { location.hash = `#/templates/${t.id}`; }},
  el('td', {}, el('a', {href: `#/templates/${t.id}`}, t.name || '(no name)')),
  el('td', {class: 'mono small'}, t.id),
  el('td', {class: 'small'}, `reads ${permText(t.thing_perm.of.r)}; writes ${permText(t.thing_perm.of.w)}; ` +
    `controllers: ${t.thing_perm.ctrl || 'none'}`),
  el('td', {}, formatTime(t.created_at))));
  root.append(el('div', {class: 'card'},
    el('h1', {}, 'Templates'),
    el('p', {class: 'muted'}, 'A production template gives its things their permissions; register the ' +
      'serial numbers (HWIDs) of its things with their enroll passwords, and they enroll over MQTT or HTTP.'),
    list.length ? table(['Name', 'Model', 'Things get', 'Created'], rows, {id: 'templates-table'}) :
      el('p', {class: 'muted'}, 'No templates yet.'),
    el('h2', {}, 'New template'), form, note));
}
