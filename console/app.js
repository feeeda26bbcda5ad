// The console's entry point: sign-in, the navigation (location.hash: #/devices,
// #/devices/ID, #/templates, #/templates/MODEL, #/live, #/chart, #/records, #/sessions,
// #/broker) and the views' lifecycle.

import * as api from './api.js';
import * as live from './live.js';
import {$, clear, el} from './dom.js';
import {clearState} from './state.js';
import * as devices from './views/devices.js';
import * as device from './views/device.js';
import * as templates from './views/templates.js';
import * as template from './views/template.js';
import * as liveView from './views/live.js';
import * as chart from './views/chart.js';
import * as records from './views/records.js';
import * as sessions from './views/sessions.js';
import * as broker from './views/broker.js';

const routes = [
  [/^\/devices\/(.+)$/, 'devices', device],
  [/^\/devices$/, 'devices', devices],
  [/^\/templates\/(.+)$/, 'templates', template],
  [/^\/templates$/, 'templates', templates],
  [/^\/live$/, 'live', liveView],
  [/^\/chart$/, 'chart', chart],
  [/^\/records$/, 'records', records],
  [/^\/sessions$/, 'sessions', sessions],
  [/^\/broker$/, 'broker', broker],
];

let cleanup = null;
let generation = 0;

// "#/chart?of=dev-1&channel=t" -> ["/chart", URLSearchParams]
function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/devices';
  const q = hash.indexOf('?');
  const path = decodeURIComponent(q < 0 ? hash : hash.slice(0, q));
  return [path, new URLSearchParams(q < 0 ? '' : hash.slice(q + 1))];
}

async function show() {
  if (cleanup) {
    try { cleanup(); } catch (e) { console.warn(e); }
    cleanup = null;
  }
  const mine = ++generation;
  const view = $('#view');
  if (!api.signedIn()) {
    $('#signin').hidden = false;
    view.hidden = true;
    $('#nav').hidden = true;
    $('#who').hidden = true;
    $('#signin-email').focus();
    return;
  }
  $('#signin').hidden = true;
  view.hidden = false;
  $('#nav').hidden = false;
  $('#who').hidden = false;
  const [path, query] = parseHash();
  const route = routes.find(([re]) => re.test(path));
  if (!route) {
    location.hash = '#/devices';
    return;
  }
  const [re, name, module] = route;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.view === name);
  }
  clear(view);
  view.dataset.view = name;
  const args = path.match(re).slice(1);
  try {
    const done = await module.render(view, ...args, query);
    if (mine !== generation) {
      if (typeof done === 'function') done();  // the user moved on meanwhile
    } else {
      cleanup = typeof done === 'function' ? done : null;
    }
  } catch (e) {
    if (mine !== generation) return;
    clear(view);
    view.append(el('div', {class: 'card'}, el('p', {class: 'error'}, e.message)));
  }
}

async function onSignIn(event) {
  event.preventDefault();
  const error = $('#signin-error');
  error.hidden = true;
  const button = $('#signin-submit');
  button.disabled = true;
  try {
    await api.signIn($('#signin-email').value.trim(), $('#signin-password').value);
    $('#signin-password').value = '';
    $('#who-email').textContent = api.email();
    live.connect();
    if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/devices';
    await show();
  } catch (e) {
    error.textContent = e.status === 401 ? 'Wrong email or password.' : e.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  live.disconnect();
  api.signOut();
  clearState();
  location.hash = '';
  show();
}

function init() {
  $('#signin-form').addEventListener('submit', onSignIn);
  $('#signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', show);
  live.onState((s, detail) => {
    const pill = $('#mqtt-state');
    pill.textContent = `MQTT: ${s}`;
    pill.dataset.state = s;
    pill.title = detail ? `MQTT over WebSocket: ${detail}` : `MQTT over WebSocket (${live.mqttUrl()})`;
  });
  show();
}

init();
