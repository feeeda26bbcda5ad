// What several views share: the account's devices, refreshed on demand, for names and pickers.

import * as api from './api.js';

export let devices = [];

export async function refreshDevices() {
  devices = await api.get('/iot/device');
  return devices;
}

export function deviceById(id) {
  return devices.find((d) => d.id === id);
}

// A device's name for people: its name, else its HWID, else its Plug-ID.
export function nameOf(id) {
  const d = deviceById(id);
  if (!d) return id;
  return d.name || d.hwid || d.id;
}

export function clearState() {
  devices = [];
}
