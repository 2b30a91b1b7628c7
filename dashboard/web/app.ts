/**
 * The dashboard page: plain DOM, no framework. It renders the state the server sends over
 * server-sent events (dashboard/view.ts DashboardState) and posts steering requests to the same
 * origin; every value from the server goes in as text, never as HTML.
 */
import type { DashboardState, GateView, ReleaseView, WaveView } from '../view.ts';
import './app.css';

type Intent = DashboardState['history'][number]['intents'][number];

let state: DashboardState | undefined;
/** Server clock minus ours, so countdowns match the server's bake ends. */
let skew = 0;
let connected = false;
let message: { text: string; error: boolean } | undefined;
let reason = '';
let skipRegion = '';

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleTimeString() : '–');
const dateTime = (iso: string | null | undefined) =>
  iso ? `${new Date(iso).toLocaleDateString()} ${new Date(iso).toLocaleTimeString()}` : '–';

function ago(iso: string | null): string {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() + skew - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function badge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.toLowerCase()}`, 'data-testid': 'status' }, status);
}

function matrix(s: DashboardState): HTMLElement {
  const versions = s.versions;
  const head = h(
    'tr',
    {},
    h('th', {}, 'region'),
    h('th', {}, 'wave'),
    ...versions.map((v) => h('th', { class: 'version-col' }, v)),
    h('th', {}, 'since'),
    h('th', {}, 'by release'),
    h('th', {}, 'health'),
  );
  const rows = s.regions.map((r) =>
    h(
      'tr',
      { 'data-region': r.region, 'data-version': r.version ?? '' },
      h('td', { class: 'mono' }, r.region),
      h('td', { class: 'muted' }, `${r.wave + 1} ${r.waveName}`),
      ...versions.map((v) =>
        h(
          'td',
          { class: `cell ${r.version === v ? `on health-${r.health}` : ''}`, title: r.version === v ? v : '' },
          r.version === v ? '●' : '',
        ),
      ),
      h('td', { title: dateTime(r.since) }, r.version ? ago(r.since) : 'nothing deployed'),
      h('td', { class: 'mono muted' }, r.releaseId ?? '–'),
      h('td', { class: `health health-${r.health}`, title: r.healthDetail ?? '' }, r.health),
    ),
  );
  return h(
    'section',
    { id: 'matrix' },
    h('h2', {}, `Versions × regions`, h('span', { class: 'muted' }, ` ${s.regions.length} regions`)),
    h('table', { class: 'matrix' }, h('thead', {}, head), h('tbody', {}, ...rows)),
  );
}

function gateText(gate: GateView): string {
  switch (gate.kind) {
    case 'Baking':
      return 'baking';
    case 'Passed':
      return 'gate passed';
    case 'Failed':
      return 'gate FAILED';
    case 'Inconclusive':
      return 'gate INCONCLUSIVE';
  }
}

function wave(w: WaveView, release: ReleaseView): HTMLElement {
  const gate = w.gate;
  const baking = gate?.kind === 'Baking' && gate.bakeUntil !== undefined && release.status === 'RUNNING';
  return h(
    'li',
    { class: `wave wave-${w.state}`, 'data-wave': String(w.index), 'data-state': w.state },
    h(
      'div',
      { class: 'wave-head' },
      h('strong', {}, `${w.index + 1}. ${w.name}`),
      h('span', { class: 'muted' }, ` ${w.state} · bake ${w.bakeSeconds}s`),
      gate
        ? h(
            'span',
            { class: `gate gate-${gate.kind.toLowerCase()}`, 'data-testid': 'gate', 'data-gate': gate.kind },
            gateText(gate),
            gate.decidedBy ? ` (${gate.decidedBy})` : '',
            gate.early ? h('span', { class: 'gate-early', 'data-testid': 'gate-early' }, ` (${gate.early})`) : null,
            gate.newHosts && gate.newHosts.length > 0 ? ` · with ${gate.newHosts.join(', ')}` : '',
          )
        : null,
      baking
        ? h(
            'span',
            {
              class: 'bake',
              'data-testid': 'bake',
              'data-bake-until': String(gate.bakeUntil),
              'data-estimated': gate.estimated ? 'yes' : undefined,
            },
            countdown(gate.bakeUntil ?? 0, gate.estimated === true),
          )
        : null,
    ),
    gate && gate.signals.length > 0
      ? h('ul', { class: 'signals', 'data-testid': 'signals' }, ...gate.signals.map((sig) => h('li', {}, sig)))
      : null,
    h(
      'div',
      { class: 'regions' },
      ...w.regions.map((r) =>
        h(
          'span',
          {
            class: `phase phase-${r.phase}`,
            'data-region': r.region,
            'data-phase': r.phase,
            title: r.message ?? (r.before ? `before: ${r.before}` : ''),
          },
          `${r.region} `,
          h('em', {}, r.phase === 'pending' ? 'waiting' : r.phase),
          r.message ? h('small', {}, ` ${r.message}`) : null,
        ),
      ),
    ),
  );
}

function countdown(until: number, estimated: boolean): string {
  const left = Math.max(0, Math.ceil((until - (Date.now() + skew)) / 1000));
  return `${estimated ? '~' : ''}${left}s left`;
}

function audit(intents: readonly Intent[]): HTMLElement | null {
  if (intents.length === 0) return null;
  return h(
    'ol',
    { class: 'audit', 'data-testid': 'audit' },
    ...intents.map((i) =>
      h(
        'li',
        { 'data-verb': i.verb },
        h('span', { class: 'muted' }, `${dateTime(i.at)} `),
        h('strong', {}, i.verb),
        i.region ? ` ${i.region}` : i.regions?.length ? ` ${i.regions.join(', ')}` : '',
        ' by ',
        h('span', { class: 'mono' }, i.actor),
        ': ',
        i.reason,
      ),
    ),
  );
}

function isPaused(release: ReleaseView): boolean {
  let paused = false;
  for (const i of release.intents) {
    if (i.verb === 'pause') paused = true;
    if (i.verb === 'resume') paused = false;
  }
  return paused;
}

function controls(release: ReleaseView): HTMLElement {
  const active = release.status === 'RUNNING' || release.status === 'QUEUED';
  const paused = isPaused(release);
  const button = (verb: string, label: string, enabled: boolean, danger = false) =>
    h('button', { type: 'button', 'data-verb': verb, class: danger ? 'danger' : '', disabled: !enabled }, label);
  const input = h('input', {
    type: 'text',
    id: 'reason',
    placeholder: 'reason (kept in the audit trail)',
    value: reason,
    'aria-label': 'reason',
  });
  input.addEventListener('input', () => {
    reason = input.value;
  });
  const regionSelect = h(
    'select',
    { id: 'skip-region', 'aria-label': 'region to skip' },
    h('option', { value: '' }, 'region…'),
    ...release.waves.flatMap((w) =>
      w.regions
        .filter((r) => r.phase === 'pending')
        .map((r) => h('option', { value: r.region, selected: r.region === skipRegion }, r.region)),
    ),
  );
  regionSelect.addEventListener('change', () => {
    skipRegion = regionSelect.value;
  });
  const bar = h(
    'div',
    { class: 'controls' },
    input,
    button('pause', 'Pause', active && !paused),
    button('resume', 'Resume', active && paused),
    button('promote', 'Promote', release.status === 'RUNNING'),
    button('abort', 'Abort…', active, true),
    button('rollback', 'Roll back…', !active && release.status !== 'SUPERSEDED', true),
    regionSelect,
    button('skip-region', 'Skip region', active),
  );
  bar.addEventListener('click', (event) => {
    const target = (event.target as HTMLElement).closest('button');
    const verb = target?.dataset.verb;
    if (!verb || target.disabled) return;
    void steer(verb, release);
  });
  return bar;
}

function releaseSection(release: ReleaseView): HTMLElement {
  return h(
    'section',
    { id: 'release', 'data-release': release.releaseId },
    h(
      'h2',
      {},
      `Release ${release.releaseId} `,
      badge(release.status),
      h('span', { class: 'muted' }, ` ${release.version} · started ${time(release.startedAt)}`),
      release.endedAt ? h('span', { class: 'muted' }, ` · ended ${time(release.endedAt)}`) : null,
    ),
    release.rollbackOf ? h('p', { class: 'muted' }, `rolls back ${release.rollbackOf}`) : null,
    release.reason ? h('p', { class: 'reason', 'data-testid': 'reason' }, release.reason) : null,
    release.hold
      ? h(
          'div',
          { class: 'hold', 'data-testid': 'hold' },
          h('strong', {}, `Held before wave ${release.hold.wave + 1} since ${time(release.hold.since)}`),
          h(
            'ul',
            {},
            ...release.hold.reasons.map((r) =>
              h(
                'li',
                { 'data-kind': r.kind },
                r.text,
                r.actor && !r.text.includes(r.actor) ? h('span', { class: 'muted' }, ` (${r.actor})`) : null,
              ),
            ),
          ),
        )
      : null,
    release.rollback
      ? h(
          'div',
          { class: 'rollback', 'data-testid': 'rollback' },
          h('strong', {}, `Rolling back ${release.rollback.regions.join(', ') || '(nothing was touched)'}`),
          h('div', {}, release.rollback.reason),
        )
      : null,
    controls(release),
    h('ol', { class: 'waves' }, ...release.waves.map((w) => wave(w, release))),
    h('h3', {}, 'Audit'),
    audit(release.intents) ?? h('p', { class: 'muted' }, 'no one steered this release'),
  );
}

function history(s: DashboardState): HTMLElement {
  return h(
    'section',
    { id: 'history' },
    h('h2', {}, 'History'),
    s.history.length === 0
      ? h('p', { class: 'muted' }, `no releases of ${s.service} yet`)
      : h(
          'table',
          { class: 'history' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'started'),
              h('th', {}, 'release'),
              h('th', {}, 'version'),
              h('th', {}, 'status'),
              h('th', {}, 'why / who'),
            ),
          ),
          h(
            'tbody',
            {},
            ...s.history.map((r) =>
              h(
                'tr',
                { 'data-release': r.releaseId },
                h('td', { class: 'muted' }, dateTime(r.startedAt)),
                h('td', { class: 'mono' }, r.releaseId),
                h('td', {}, r.version),
                h('td', {}, badge(r.status)),
                h('td', {}, r.reason ?? '', audit(r.intents)),
              ),
            ),
          ),
        ),
    s.serviceIntents.length > 0 ? h('h3', {}, `Every ${s.service} release`) : null,
    audit(s.serviceIntents),
  );
}

function render(): void {
  const root = document.getElementById('app');
  if (!root) return;
  const focused = document.activeElement?.id;
  if (!state) {
    root.replaceChildren(h('p', { class: 'loading' }, connected ? 'Loading…' : 'Connecting…'));
    return;
  }
  const s = state;
  const parts: (Node | null)[] = [
    h(
      'header',
      {},
      h('h1', {}, 'Flotilla ', h('span', { class: 'mono' }, s.service)),
      h('span', { class: 'muted' }, ` ${s.backend} backend`),
      h(
        'span',
        { class: `conn ${connected ? 'live' : 'down'}`, 'data-testid': 'connection' },
        connected ? 'live' : 'reconnecting…',
      ),
    ),
    s.frozen ? h('div', { class: 'frozen' }, `${s.service} is FROZEN by ${s.frozen.actor}: ${s.frozen.reason}`) : null,
    message
      ? h(
          'div',
          { class: `message ${message.error ? 'error' : ''}`, role: 'status', 'data-testid': 'message' },
          message.text,
        )
      : null,
    h(
      'main',
      {},
      s.release ? releaseSection(s.release) : h('section', {}, h('p', { class: 'muted' }, 'no release yet')),
      matrix(s),
      history(s),
    ),
  ];
  root.replaceChildren(...parts.filter((p): p is Node => p !== null));
  if (focused) document.getElementById(focused)?.focus();
}

// Outside #app: a redraw while it is open must not close it.
const confirmDialog = h('dialog', { id: 'confirm' });
document.body.append(confirmDialog);

/** Resolves true when the person confirms `text` (abort and roll back only). */
function confirmAction(title: string, text: string, action: string): Promise<boolean> {
  return new Promise((ok) => {
    const yes = h('button', { type: 'button', class: 'danger', 'data-confirm': 'yes' }, action);
    const no = h('button', { type: 'button', 'data-confirm': 'no' }, 'Cancel');
    confirmDialog.replaceChildren(h('h3', {}, title), h('p', {}, text), h('div', { class: 'controls' }, no, yes));
    const close = (answer: boolean) => {
      confirmDialog.close();
      ok(answer);
    };
    yes.addEventListener('click', () => close(true));
    no.addEventListener('click', () => close(false));
    confirmDialog.addEventListener('cancel', () => ok(false), { once: true });
    confirmDialog.showModal();
  });
}

async function steer(verb: string, release: ReleaseView): Promise<void> {
  const why = reason.trim();
  if (!why) {
    message = { text: `${verb} needs a reason: it is kept in the audit trail`, error: true };
    render();
    return;
  }
  if (verb === 'abort') {
    const sure = await confirmAction(
      `Abort ${release.releaseId}?`,
      'Every region touched so far goes back to what it ran before, and the release ends ABORTED.',
      'Abort the release',
    );
    if (!sure) return;
  }
  if (verb === 'rollback') {
    const sure = await confirmAction(
      `Roll back ${release.releaseId}?`,
      `Every region still on ${release.version} from this release goes back to what it ran before it.`,
      'Roll back',
    );
    if (!sure) return;
  }
  if (verb === 'skip-region' && !skipRegion) {
    message = { text: 'choose the region to skip', error: true };
    render();
    return;
  }
  const body =
    verb === 'rollback'
      ? { releaseId: release.releaseId, reason: why }
      : { verb, releaseId: release.releaseId, reason: why, ...(verb === 'skip-region' ? { region: skipRegion } : {}) };
  const answer = await fetch(verb === 'rollback' ? '/api/rollbacks' : '/api/intents', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const result = (await answer.json().catch(() => ({}))) as { error?: string; releaseId?: string };
  message = answer.ok
    ? { text: verb === 'rollback' ? `started ${result.releaseId}` : `${verb} recorded`, error: false }
    : { text: `${verb} refused: ${result.error ?? answer.statusText}`, error: true };
  if (answer.ok) reason = '';
  render();
}

function connect(): void {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    connected = true;
    render();
  });
  source.addEventListener('state', (event) => {
    state = JSON.parse((event as MessageEvent<string>).data) as DashboardState;
    skew = state.now - Date.now();
    connected = true;
    render();
  });
  source.addEventListener('error', () => {
    connected = false;
    render();
  });
}

setInterval(() => {
  for (const el of document.querySelectorAll<HTMLElement>('[data-bake-until]')) {
    el.textContent = countdown(Number(el.dataset.bakeUntil), el.dataset.estimated === 'yes');
  }
}, 250);

render();
connect();
