// The account's session: its credentials, in this module's memory only (never localStorage,
// sessionStorage or a cookie), and the HTTP API calls made with them.

let creds = null;  // {email, password}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function signedIn() { return creds !== null; }
export function email() { return creds ? creds.email : ''; }
export function password() { return creds ? creds.password : ''; }

// Basic with the UTF-8 bytes of "email:password" (header values must be Latin-1 text).
function authorization(c) {
  const bytes = new TextEncoder().encode(`${c.email}:${c.password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

// One call: the parsed JSON answer, or an ApiError with the server's {"err","msg"}.
// credentials 'omit': no cookies, and no browser login prompt on a 401.
export async function request(method, path, {body, csv, as = creds, headers = {}} = {}) {
  const init = {method, credentials: 'omit', cache: 'no-store', headers: {...headers}};
  if (as) init.headers.Authorization = authorization(as);
  if (csv !== undefined) {
    init.headers['Content-Type'] = 'text/csv';
    init.body = csv;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `the server cannot be reached (${e.message})`);
  }
  const text = await res.text();
  let value = null;
  if (text) {
    try { value = JSON.parse(text); } catch { value = text; }
  }
  if (!res.ok) {
    const msg = value && typeof value === 'object' && value.msg ? value.msg : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg);
  }
  return value;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, {...opts, body});
export const patch = (path, body, opts = {}) => request('PATCH', path, {...opts, body});
export const del = (path, opts) => request('DELETE', path, opts);

// Checks the credentials with a call that needs the account (listing its devices); keeps them
// when the server accepts them.
export async function signIn(email, password) {
  const candidate = {email, password};
  await request('GET', '/iot/device', {as: candidate});
  creds = candidate;
}

export function signOut() { creds = null; }

// A path segment: "/" and the rest percent-encoded (the API decodes %2F to '/' in a mask).
export const seg = (s) => encodeURIComponent(s);
