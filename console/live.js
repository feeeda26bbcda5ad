// One MQTT connection per signed-in page: MQTT.js over WebSocket (ws://HOST/mqtt, wss:// on
// https), logged in as the account (username = its email, password = its password: SPEC 3's
// account login, which may read every device of the account). Views subscribe to filters and
// get the records {"id","data","at"} of the topics PLUG_ID/data/CHANNEL that match.

import * as api from './api.js';

let client = null;
let state = 'off';
const stateListeners = new Set();
const subscriptions = new Map();  // filter -> Set of callbacks

function setState(s, detail = '') {
  state = s;
  for (const f of stateListeners) f(s, detail);
}

export function onState(f) {
  stateListeners.add(f);
  f(state, '');
  return () => stateListeners.delete(f);
}

export function mqttUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
}

// The MQTT topic filter `filter` matches `topic` (MQTT 3.1.1 4.7).
export function matches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export function connect() {
  if (client || !api.signedIn()) return;
  if (!globalThis.mqtt) {
    setState('error', 'MQTT.js did not load');
    return;
  }
  setState('connecting');
  const id = `console-${Math.random().toString(16).slice(2, 10)}`;
  client = globalThis.mqtt.connect(mqttUrl(), {
    protocolVersion: 4,
    clientId: id,
    clean: true,
    username: api.email(),
    password: api.password(),
    keepalive: 60,
    reconnectPeriod: 3000,
    connectTimeout: 10000,
    // Plain timers: MQTT.js's default in a browser runs them in a Worker made from a blob: URL,
    // which the Content-Security-Policy refuses (no blob: scripts). A background tab's timers
    // may then be throttled and its connection dropped; it reconnects on its own, and at once
    // when the tab is shown again (below).
    timerVariant: 'native',
  });
  client.on('connect', () => {
    setState('connected');
    for (const filter of subscriptions.keys()) client.subscribe(filter, {qos: 0});
  });
  client.on('reconnect', () => setState('connecting'));
  client.on('close', () => { if (client) setState('connecting', 'connection closed'); });
  client.on('error', (e) => setState('error', e && e.message ? e.message : String(e)));
  client.on('message', (topic, payload) => {
    let record;
    try {
      record = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return;  // not a data record
    }
    const sep = topic.indexOf('/data/');
    if (sep < 0) return;
    const msg = {topic, of: topic.slice(0, sep), channel: topic.slice(sep + 6), ...record};
    for (const [filter, callbacks] of subscriptions) {
      if (!matches(filter, topic)) continue;
      for (const f of callbacks) f(msg);
    }
  });
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && client && !client.connected && !client.disconnecting) {
    client.reconnect();
  }
});

export function disconnect() {
  subscriptions.clear();
  if (client) {
    const c = client;
    client = null;
    c.end(true);
  }
  setState('off');
}

// Calls f(msg) for every record on a topic matching `filter`; returns the unsubscribe.
export function subscribe(filter, f) {
  connect();
  let callbacks = subscriptions.get(filter);
  if (!callbacks) {
    callbacks = new Set();
    subscriptions.set(filter, callbacks);
    if (client && client.connected) client.subscribe(filter, {qos: 0});
  }
  callbacks.add(f);
  return () => {
    callbacks.delete(f);
    if (callbacks.size === 0 && subscriptions.get(filter) === callbacks) {
      subscriptions.delete(filter);
      if (client && client.connected) client.unsubscribe(filter);
    }
  };
}
