import { describe, expect, it } from 'vitest';
import {
  MAX_BLOCKS,
  MAX_FALLBACK_CHARS,
  MAX_HEADER_CHARS,
  MAX_SECTION_CHARS,
  renderReleaseMessage,
  renderThreadReply,
} from '../../adapters/slack/blocks.ts';
import { foldEvent, type ReleaseView, regionsNamedBy } from '../../adapters/slack/view.ts';
import { isNotable, notableKey } from '../../core/notable.ts';
import type { Stamped } from '../../ports/events.ts';
import { ALARM_SIGNAL, notableOnly, rolledBackRelease, SIGNAL, stamper } from './events.ts';
import { textOf } from './fake-slack.ts';

const fold = (events: Stamped[], from?: ReleaseView) => events.reduce<ReleaseView | undefined>(foldEvent, from);
const foldAll = (events: Stamped[]) => fold(events) as ReleaseView;

interface Block {
  type: string;
  text?: { type: string; text: string };
  elements?: { type: string; text: string }[];
}
const blocksOf = (view: ReleaseView, links = {}) => renderReleaseMessage(view, links).blocks as Block[];
const all = (view: ReleaseView, links = {}) => textOf({ blocks: renderReleaseMessage(view, links).blocks });

/** Every Block Kit limit we rely on. */
function expectWithinLimits(message: { text: string; blocks: object[] }) {
  expect(message.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
  expect(message.text.length).toBeLessThanOrEqual(MAX_FALLBACK_CHARS);
  for (const block of message.blocks as Block[]) {
    if (block.type === 'header') expect(block.text?.text.length).toBeLessThanOrEqual(MAX_HEADER_CHARS);
    if (block.type === 'section') expect(block.text?.text.length).toBeLessThanOrEqual(MAX_SECTION_CHARS);
    if (block.type === 'context') for (const e of block.elements ?? []) expect(e.text.length).toBeLessThanOrEqual(3000);
  }
}

describe('foldEvent', () => {
  const events = rolledBackRelease();
  const after = (n: number) => foldAll(events.slice(0, n));

  it.each([
    {
      name: 'release-started lays out the waves, every region waiting',
      n: 1,
      check: (v: ReleaseView) => {
        expect(v.version).toBe('1.1.0');
        expect(v.waves.map((w) => [w.name, w.regions, w.state])).toEqual([
          ['canary', ['us-east-1'], 'waiting'],
          ['europe-west', ['eu-central-1', 'us-west-2'], 'waiting'],
          ['rest', ['ap-southeast-2'], 'waiting'],
        ]);
        expect(Object.values(v.regions).every((r) => r.state === 'waiting')).toBe(true);
      },
    },
    {
      name: 'wave-started and a region deploying',
      n: 3,
      check: (v: ReleaseView) => {
        expect(v.waves[0]?.state).toBe('deploying');
        expect(v.regions['us-east-1']).toMatchObject({ state: 'deploying', version: '1.1.0', wave: 0 });
      },
    },
    {
      name: 'a baking gate bakes the wave’s deployed regions',
      n: 5,
      check: (v: ReleaseView) => {
        expect(v.waves[0]?.state).toBe('baking');
        expect(v.regions['us-east-1']?.state).toBe('baking');
      },
    },
    {
      name: 'a passed gate passes them',
      n: 6,
      check: (v: ReleaseView) => {
        expect(v.waves[0]?.state).toBe('passed');
        expect(v.regions['us-east-1']?.state).toBe('passed');
      },
    },
    {
      name: 'a failed gate: the wave, the region its signal names, the signal',
      n: 13,
      check: (v: ReleaseView) => {
        expect(v.waves[1]?.state).toBe('failed');
        expect(v.failure).toEqual({ kind: 'gate-failed', wave: 1, regions: ['eu-central-1'], signals: [SIGNAL] });
        expect(v.regions['eu-central-1']?.state).toBe('unhealthy');
        // The other region of the wave and the earlier wave are not blamed.
        expect(v.regions['us-west-2']?.state).toBe('baking');
        expect(v.regions['us-east-1']?.state).toBe('passed');
      },
    },
    {
      name: 'rollback-started: what goes back',
      n: 14,
      check: (v: ReleaseView) => {
        expect(v.rollingBack).toBe(true);
        expect(v.status).toBe('RUNNING');
        expect(v.rollback?.regions).toEqual(['us-east-1', 'eu-central-1', 'us-west-2']);
        expect(v.regions['us-east-1']?.state).toBe('rolling-back');
      },
    },
    {
      name: 'rolled-back regions carry the version they went back to',
      n: 20,
      check: (v: ReleaseView) => {
        expect(v.regions['eu-central-1']).toMatchObject({ state: 'rolled-back', version: '1.0.0' });
      },
    },
    {
      name: 'release-finished: the terminal status and reason; an unreached wave says so',
      n: events.length,
      check: (v: ReleaseView) => {
        expect(v.status).toBe('ROLLED_BACK');
        expect(v.rollingBack).toBe(false);
        expect(v.reason).toContain('rolled back us-east-1');
        expect(v.waves[2]?.state).toBe('not-reached');
        expect(v.regions['ap-southeast-2']).toMatchObject({ state: 'untouched', version: '1.0.0' });
        expect(v.failure?.signals).toEqual([SIGNAL]);
      },
    },
  ])('$name', ({ n, check }) => check(after(n)));

  it('handles wave-blocked: the wave, the region the signal names', () => {
    const s = stamper();
    const view = foldAll([
      s({ kind: 'release-started', version: '2.0.0', waves: [{ name: 'one', regions: ['us-east-1', 'eu-west-1'] }] }),
      s({
        kind: 'wave-blocked',
        wave: 0,
        signals: ['eu-west-1 was already unhealthy on 1.9.0 before the wave: eu-west-1: 3/3 probes failed'],
      }),
      s({
        kind: 'release-finished',
        outcome: {
          releaseId: 'shop-1.1.0',
          service: 'shop',
          version: '2.0.0',
          status: 'BLOCKED',
          reason: 'wave 1 blocked before deploying: …; no region had been touched',
          regions: [
            { region: 'us-east-1', version: '1.9.0', phase: 'pending' },
            { region: 'eu-west-1', version: '1.9.0', phase: 'pending' },
          ],
        },
      }),
    ]);
    expect(view.status).toBe('BLOCKED');
    expect(view.failure).toMatchObject({ kind: 'wave-blocked', wave: 0, regions: ['eu-west-1'] });
    expect(view.waves[0]?.state).toBe('blocked');
    const text = all(view);
    expect(text).toContain('BLOCKED');
    expect(text).toContain('already unhealthy on 1.9.0');
  });

  it('an inconclusive gate names the silent region', () => {
    const s = stamper();
    const view = foldAll([
      s({ kind: 'release-started', version: '1.0.0', waves: [{ name: 'one', regions: ['eu-west-1'] }] }),
      s({
        kind: 'gate',
        wave: 0,
        regions: ['eu-west-1'],
        evaluation: { kind: 'Inconclusive', signals: ['eu-west-1: only 0 of 3 required samples answered'] },
      }),
    ]);
    expect(view.failure?.kind).toBe('gate-inconclusive');
    expect(view.regions['eu-west-1']?.state).toBe('no-data');
    expect(all(view)).toContain('INCONCLUSIVE');
  });

  it('is idempotent: every event twice gives the same view (SNS may deliver twice)', () => {
    const events = rolledBackRelease();
    expect(fold(events.flatMap((e) => [e, e]))).toEqual(fold(events));
  });

  it('a late event after the end adds its detail but never changes the outcome', () => {
    const events = notableOnly(rolledBackRelease());
    const finished = events.at(-1) as Stamped;
    // SNS order is not guaranteed: the end first, then the gate and the rollback.
    const view = foldAll([finished, ...events.slice(0, -1)]);
    expect(view.status).toBe('ROLLED_BACK');
    expect(view.rollingBack).toBe(false);
    expect(view.regions['eu-central-1']?.state).toBe('rolled-back');
    expect(view.failure?.signals).toEqual([SIGNAL]);
    expect(view.rollback?.regions).toHaveLength(3);
  });

  it('ignores an event kind it does not know (a newer publisher)', () => {
    const [first] = rolledBackRelease();
    const view = foldAll([first as Stamped]);
    const odd = {
      kind: 'something-new',
      service: 'shop',
      releaseId: 'shop-1.1.0',
      at: first?.at,
    } as unknown as Stamped;
    expect(foldEvent(view, odd)).toEqual(view);
  });

  it('names regions by the start of their signals, the longest name first', () => {
    expect(
      regionsNamedBy(['eu-west-10: bad', 'eu-west-1 was already unhealthy', 'nobody'], ['eu-west-1', 'eu-west-10']),
    ).toEqual(['eu-west-10', 'eu-west-1']);
  });
});

describe('renderReleaseMessage', () => {
  const final = foldAll(rolledBackRelease());

  it('a gate failure shows the wave, the region, the signal and each region’s rollback result', () => {
    const message = renderReleaseMessage(final, { executionUrl: 'https://console.example/exec/1' });
    const blocks = message.blocks as Block[];
    expect(blocks[0]?.type).toBe('header');
    expect(blocks[0]?.text?.text).toContain('shop 1.1.0');
    expect(blocks[0]?.text?.text).toContain('ROLLED_BACK');
    const text = textOf({ blocks });
    expect(text).toContain('Gate FAILED in wave 2 (europe-west)');
    expect(text).toContain('`eu-central-1`');
    // The signal, with Slack's control characters escaped.
    expect(text).toContain('cannot format EUR &lt;price&gt;');
    expect(text).toContain('`us-east-1` rolled back to 1.0.0');
    expect(text).toContain('`eu-central-1` rolled back to 1.0.0');
    expect(text).toContain('`us-west-2` rolled back to 1.0.0');
    expect(text).toMatch(/Wave 3\* · rest — not reached/);
    expect(text).toContain('`ap-southeast-2` not deployed');
    // The context block ends the message, with the execution link.
    const context = blocks.at(-1);
    expect(context?.type).toBe('context');
    expect(context?.elements?.[0]?.text).toContain('<https://console.example/exec/1|Execution>');
    expect(message.text).toContain('shop 1.1.0: ROLLED_BACK');
    expect(message.text).toContain('eu-central-1');
    expectWithinLimits(message);
  });

  it('shows the alarm name and state when an alarm failed the gate', () => {
    const text = all(foldAll(rolledBackRelease(ALARM_SIGNAL)));
    expect(text).toContain('alarm shop-eu-central-1-5xx is ALARM');
  });

  it('links the version to its commit when known', () => {
    const text = all(final, { commitUrl: 'https://git.example/shop/commit/abc123' });
    expect(text).toContain('<https://git.example/shop/commit/abc123|1.1.0>');
  });

  it.each([
    ['RUNNING', ':hourglass_flowing_sand:'],
    ['SUCCEEDED', ':white_check_mark:'],
    ['ROLLED_BACK', ':leftwards_arrow_with_hook:'],
    ['ROLLBACK_FAILED', ':rotating_light:'],
    ['ABORTED', ':octagonal_sign:'],
    ['BLOCKED', ':no_entry:'],
    ['FAILED', ':x:'],
  ] as const)('status %s has its emoji in the header', (status, emoji) => {
    const header = blocksOf({ ...final, status, rollingBack: false })[0]?.text?.text;
    expect(header).toContain(status);
    expect(header?.startsWith(emoji)).toBe(true);
  });

  it('says it is rolling back while it does', () => {
    const events = rolledBackRelease();
    const view = foldAll(events.slice(0, 14));
    expect(blocksOf(view)[0]?.text?.text).toContain('RUNNING · rolling back');
    expect(all(view)).toContain('Rolling back* 3 regions');
  });

  it('a rollback that failed names the region and why', () => {
    const events = rolledBackRelease().slice(0, -4);
    const s = stamper('shop', 'shop-1.1.0');
    const view = foldAll([
      ...events,
      s({ kind: 'region', wave: 0, region: 'us-east-1', state: 'rolled-back', version: '1.0.0' }),
      s({
        kind: 'region',
        wave: 1,
        region: 'eu-central-1',
        state: 'rollback-failed',
        version: '1.0.0',
        message: 'unhealthy after rollback to 1.0.0',
      }),
      s({ kind: 'region', wave: 1, region: 'us-west-2', state: 'rolled-back', version: '1.0.0' }),
    ]);
    const text = all(view);
    expect(text).toContain('`eu-central-1` rollback FAILED: unhealthy after rollback to 1.0.0');
  });

  it('keeps 60 regions in one wave within Block Kit limits, naming the ones in trouble', () => {
    const regions = Array.from({ length: 60 }, (_, i) => `region-with-a-long-name-${String(i).padStart(2, '0')}`);
    const s = stamper();
    const atGate = foldAll([
      s({ kind: 'release-started', version: '3.0.0', waves: [{ name: 'everything', regions }] }),
      s({ kind: 'wave-started', wave: 0, name: 'everything', regions }),
      ...regions.map((region) => s({ kind: 'region', wave: 0, region, state: 'deployed', version: '3.0.0' })),
      s({
        kind: 'gate',
        wave: 0,
        regions,
        evaluation: {
          kind: 'Failed',
          signals: [`${regions[59]}: ${'x'.repeat(5000)}`, ...regions.slice(50, 59).map((r) => `${r}: bad`)],
        },
      }),
    ]);
    const gateMessage = renderReleaseMessage(atGate);
    expectWithinLimits(gateMessage);
    expect(textOf({ blocks: gateMessage.blocks })).toMatch(/…and \d+ more regions/);
    // The failing region is named in the wave line even though most regions are not.
    const waveLine = (gateMessage.blocks as Block[]).find((b) => b.text?.text.startsWith('*Wave 1*'))?.text?.text ?? '';
    for (const failing of regions.slice(50)) expect(waveLine).toContain(`${failing}\` unhealthy`);

    const rollingBack = foldEvent(atGate, s({ kind: 'rollback-started', regions, reason: 'y'.repeat(5000) }));
    const message = renderReleaseMessage(rollingBack);
    expectWithinLimits(message);
    const text = textOf({ blocks: message.blocks });
    expect(text).toMatch(/Rolling back\* 60 regions/);
    expect(text).toMatch(/…and \d+ more regions/);
    expect(text).toMatch(/…and \d+ more signals?/);
  });

  it('keeps 60 waves of 60 regions within 50 blocks', () => {
    const waves = Array.from({ length: 60 }, (_, w) => ({
      name: `wave-${w}`,
      regions: Array.from({ length: 60 }, (_, r) => `r${w}-${r}`),
    }));
    const s = stamper();
    const view = foldAll([
      s({ kind: 'release-started', version: '1.0.0', waves }),
      s({ kind: 'gate', wave: 3, regions: ['r3-1'], evaluation: { kind: 'Failed', signals: ['r3-1: down'] } }),
      s({ kind: 'rollback-started', regions: waves.slice(0, 4).flatMap((w) => w.regions), reason: 'r3-1: down' }),
    ]);
    const message = renderReleaseMessage(view, {}, { actions: { type: 'actions', elements: [] } });
    expectWithinLimits(message);
    const text = textOf({ blocks: message.blocks });
    expect(text).toMatch(/…and \d+ more waves \(\d+ regions\)/);
    // The failure, the rollback, the actions and the context are never the ones cut.
    const types = (message.blocks as Block[]).map((b) => b.type);
    expect(types.slice(-2)).toEqual(['actions', 'context']);
    expect(text).toContain('Gate FAILED in wave 4');
  });

  it('cuts a very long service name or version to the header limit', () => {
    const view = { ...final, service: 's'.repeat(200), version: 'v'.repeat(200) };
    expectWithinLimits(renderReleaseMessage(view));
  });

  it('renders the AWS case: only the notable events, no release-started', () => {
    const view = foldAll(notableOnly(rolledBackRelease()));
    const message = renderReleaseMessage(view);
    expectWithinLimits(message);
    const text = textOf({ blocks: message.blocks });
    expect(text).toContain('Gate FAILED in wave 2');
    expect(text).toContain('`eu-central-1` rolled back to 1.0.0');
    expect(text).toContain('`ap-southeast-2` not deployed');
    // Before the end, the version is not known yet from the events: the release id stands in.
    const early = foldAll(notableOnly(rolledBackRelease()).slice(0, 1));
    expect(blocksOf(early)[0]?.text?.text).toContain('release shop-1.1.0');
  });
});

describe('notable events and threaded replies', () => {
  const events = rolledBackRelease();

  it('isNotable and notableKey select exactly the notable events: failed or inconclusive gates, blocks, rollback, end', () => {
    expect(notableOnly(events).length).toBeGreaterThan(0);
    expect(notableOnly(events).length).toBeLessThan(events.length);
    expect(events.filter(isNotable)).toEqual(notableOnly(events));
    for (const event of events) expect(notableKey(event) !== null).toBe(isNotable(event));
  });

  it('says once per wave that it has no new host, and why, in a reply of its own', () => {
    const stamp = stamper();
    const started = stamp({
      kind: 'release-started',
      version: '1.1.0',
      waves: [{ name: 'canary', regions: ['us-east-1'] }],
    });
    const baking = stamp({
      kind: 'gate',
      wave: 0,
      regions: ['us-east-1'],
      evaluation: { kind: 'Baking', remainingMs: 60_000 },
      noNewHost: 'EC2/Server deployment groups get no new host on AWS',
    });
    const passed = stamp({ ...baking, evaluation: { kind: 'Passed' } } as never);
    expect(isNotable(baking) && isNotable(passed)).toBe(true);
    // The same key: the notifier says it once however many gate events of the wave carry it.
    expect(notableKey(baking)).toBe(notableKey(passed));
    expect(notableKey(baking)).not.toBe(
      notableKey({ ...baking, evaluation: { kind: 'Failed', signals: [] } } as Stamped),
    );
    const reply = renderThreadReply(foldAll([started, baking]), baking);
    expect(textOf({ blocks: reply?.blocks ?? [] })).toContain(
      'has no new host:* EC2/Server deployment groups get no new host on AWS',
    );
  });

  it('a reply for the failed gate, the rollback and the end; none for progress', () => {
    let view: ReleaseView | undefined;
    const replies: string[] = [];
    for (const event of events) {
      view = foldEvent(view, event);
      const reply = renderThreadReply(view, event);
      if (reply) replies.push(textOf({ blocks: reply.blocks }));
    }
    expect(replies).toHaveLength(3);
    expect(replies[0]).toContain('Gate FAILED in wave 2 (europe-west)');
    expect(replies[0]).toContain('eu-central-1: 3/3 probes of /health failed');
    expect(replies[1]).toContain('Rolling back 3 regions');
    expect(replies[2]).toContain('ROLLED_BACK');
    expect(replies[2]).toContain('`us-west-2` rolled back to 1.0.0');
  });
});
