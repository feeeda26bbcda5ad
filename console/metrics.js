// The Prometheus text format (what GET /metrics answers), parsed into samples:
// {name, labels: {k: v}, value}. Enough of the format for plugmq's exposition: comments,
// label values with escapes, NaN and ±Inf.

export function parseMetrics(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && /[A-Za-z0-9_:]/.test(line[i])) i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const key = line.slice(i, eq).trim();
        i = eq + 2;  // past ="
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\') {
            i++;
            value += line[i] === 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          i++;
        }
        labels[key] = value;
        i++;  // the closing quote
        if (line[i] === ',') i++;
      }
      i++;  // '}'
    }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = Number(rest[0] === '+Inf' ? Infinity : rest[0] === '-Inf' ? -Infinity : rest[0]);
    if (name) samples.push({name, labels, value});
  }
  return samples;
}

// The value of `name` whose labels include `match`, summed over the matching samples.
export function pick(samples, name, match = {}) {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : null;
}

// {labelValue: value} of `name` by one label.
export function byLabel(samples, name, label) {
  const out = {};
  for (const s of samples) {
    if (s.name === name && label in s.labels) out[s.labels[label]] = (out[s.labels[label]] || 0) + s.value;
  }
  return out;
}
