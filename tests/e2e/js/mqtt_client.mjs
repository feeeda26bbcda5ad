// An MQTT.js client driven line by line, for tests/e2e/test_websocket.py: each line on stdin is
// a JSON command, each line on stdout a JSON event. One connection at a time; MQTT.js never
// reconnects by itself here (reconnectPeriod 0), so the test sees every close.
//
// Commands:
//   {"op":"connect","url":"ws://127.0.0.1:P/mqtt","username"?,"password"?,"clientId"?,
//    "clean"?:true,"keepalive"?:60,"will"?:{"topic","payload","qos"},"ca"?:PATH}
//       -> {"ev":"connect","sessionPresent":B} | {"ev":"error","code":N,"message":S}
//   {"op":"subscribe","topic":T,"qos":Q}      -> {"ev":"suback","topic":T,"granted":[Q]}
//   {"op":"publish","topic":T,"payload":S,"qos":Q} -> {"ev":"published","topic":T} (QoS 1/2:
//       once acknowledged)
//   {"op":"drop"}   closes the WebSocket's TCP connection without DISCONNECT (the will goes)
//   {"op":"end"}    DISCONNECT, then close
//   {"op":"exit"}   exits
// Events besides the answers: {"ev":"message","topic","payload","qos","retain","dup"},
// {"ev":"close"}, {"ev":"offline"}, {"ev":"error",...}, {"ev":"ready","version":V} at start.
import fs from 'node:fs';
import readline from 'node:readline';
import mqtt from 'mqtt';

let client = null;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function connect(cmd) {
  const options = {
    clientId: cmd.clientId ?? '',
    clean: cmd.clean ?? true,
    keepalive: cmd.keepalive ?? 60,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10000,
  };
  if (cmd.username !== undefined) options.username = cmd.username;
  if (cmd.password !== undefined) options.password = cmd.password;
  if (cmd.will) {
    options.will = {topic: cmd.will.topic, payload: cmd.will.payload, qos: cmd.will.qos ?? 0,
                    retain: false};
  }
  if (cmd.ca) {
    options.ca = fs.readFileSync(cmd.ca);
    options.rejectUnauthorized = true;
  }
  const c = mqtt.connect(cmd.url, options);
  client = c;
  c.on('connect', (connack) => emit({ev: 'connect', sessionPresent: connack.sessionPresent}));
  c.on('message', (topic, payload, packet) => emit({
    ev: 'message', topic, payload: payload.toString('utf8'), qos: packet.qos,
    retain: packet.retain, dup: packet.dup,
  }));
  c.on('error', (err) => emit({ev: 'error', code: err.code ?? null, message: String(err.message)}));
  c.on('close', () => emit({ev: 'close'}));
  c.on('offline', () => emit({ev: 'offline'}));
}

function handle(cmd) {
  switch (cmd.op) {
    case 'connect':
      connect(cmd);
      break;
    case 'subscribe':
      client.subscribe(cmd.topic, {qos: cmd.qos ?? 0}, (err, granted) => {
        if (err) emit({ev: 'error', code: null, message: String(err.message)});
        else emit({ev: 'suback', topic: cmd.topic, granted: granted.map((g) => g.qos)});
      });
      break;
    case 'publish':
      client.publish(cmd.topic, cmd.payload, {qos: cmd.qos ?? 0}, (err) => {
        if (err) emit({ev: 'error', code: null, message: String(err.message)});
        else emit({ev: 'published', topic: cmd.topic});
      });
      break;
    case 'drop':
      client.stream.destroy();  // no DISCONNECT, no WebSocket close frame
      break;
    case 'end':
      client.end(false, () => emit({ev: 'ended'}));
      break;
    case 'exit':
      process.exit(0);
      break;
    default:
      emit({ev: 'error', code: null, message: `unknown op ${cmd.op}`});
  }
}

const lines = readline.createInterface({input: process.stdin});
lines.on('line', (line) => {
  if (line.trim() === '') return;
  try {
    handle(JSON.parse(line));
  } catch (e) {
    emit({ev: 'error', code: null, message: `command ${line}: ${e.message}`});
  }
});
lines.on('close', () => process.exit(0));
emit({ev: 'ready', version: mqtt.MQTTJS_VERSION ?? null});
