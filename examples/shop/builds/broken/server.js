// The example "shop" service, 1.1.0: a price page and a health endpoint. No dependencies.
// 1.1.0 rounds prices to the currency's minor unit before formatting (and has a bug: see MINOR_UNITS).
import { readFileSync } from 'node:fs';
import http from 'node:http';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const version = process.env.FLOTILLA_VERSION ?? pkg.version;
const region = process.env.FLOTILLA_REGION ?? 'unknown';
const locale = process.env.LOCALE ?? 'en-US';
const currency = process.env.CURRENCY ?? 'USD';
const fault = process.env.FLOTILLA_FAULT_HEALTH; // unhealthy | flapping | silent (fault injection)
// fresh-start (fault injection): this build's cold-start path is broken. A fresh host (a first start
// with nothing warm: Flotilla's new-host check) dies at once; a region's own restart is not told.
if (process.env.FLOTILLA_FAULT_START === 'fresh-start') {
  console.error('Error: fresh-start fault: the first start of this build on a new host fails');
  process.exit(1);
}

const products = [
  { name: 'Brass lantern', price: 24.5 },
  { name: 'Signal flag set', price: 89.99 },
  { name: 'Ship in a bottle', price: 1249 },
];

// New in 1.1.0: round to cents (or whatever the currency's minor unit is) before formatting.
// Bug: EUR is missing, so MINOR_UNITS[currency] is undefined and .digits throws a TypeError.
const MINOR_UNITS = { USD: { digits: 2 }, GBP: { digits: 2 }, CHF: { digits: 2 }, JPY: { digits: 0 } };

function roundToMinorUnit(amount) {
  const factor = 10 ** MINOR_UNITS[currency].digits;
  return Math.round(amount * factor) / factor;
}

function formatPrice(amount) {
  return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(roundToMinorUnit(amount));
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

let healthRequests = 0;

function health(res) {
  healthRequests += 1;
  if (fault === 'silent') return; // never answer; the socket stays open
  if (fault === 'unhealthy' || (fault === 'flapping' && healthRequests % 2 === 0)) {
    return send(res, 500, 'application/json', JSON.stringify({ status: 'error', version, region, error: fault }));
  }
  try {
    formatPrice(1234.5); // self-test: the shop is useless if it cannot show prices
    send(res, 200, 'application/json', JSON.stringify({ status: 'ok', version, region }));
  } catch (err) {
    send(res, 500, 'application/json', JSON.stringify({ status: 'error', version, region, error: String(err) }));
  }
}

function pricePage(res) {
  const rows = products.map((p) => `<li>${p.name}: ${formatPrice(p.price)}</li>`).join('\n');
  send(res, 200, 'text/html; charset=utf-8', `<h1>Shop (${region}, ${version})</h1>\n<ul>\n${rows}\n</ul>\n`);
}

const server = http.createServer((req, res) => {
  try {
    if (req.url === '/health') return health(res);
    if (req.url === '/') return pricePage(res);
    send(res, 404, 'text/plain', 'not found\n');
  } catch (err) {
    send(res, 500, 'text/plain', `internal error: ${err}\n`);
  }
});

server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => {
  console.log(`shop ${version} listening on 127.0.0.1:${server.address().port} (${region}, ${locale}, ${currency})`);
});

process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 1000).unref(); // e.g. requests left hanging by the silent fault
});
