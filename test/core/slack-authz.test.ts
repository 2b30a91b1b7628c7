import { describe, expect, it } from 'vitest';
import { allowedFor, authorizeClick, type SlackSettings } from '../../core/slack-authz.ts';

const SETTINGS: SlackSettings = {
  teamId: 'T0001',
  allow: { promote: ['U1', 'U2'], abort: ['U1'], pause: ['*'], '*': ['U9'] },
};

describe('authorizeClick: workspace × user × verb → allowed, or refused with why and whom to ask', () => {
  it.each<
    [string, { team: string | undefined; user: string; verb: string }, SlackSettings | undefined, string, string[]]
  >([
    // [case, click, settings, result ('ok' or the refusal reason), whom to ask]
    ['a listed user, for their verb', { team: 'T0001', user: 'U1', verb: 'abort' }, SETTINGS, 'ok', []],
    [
      'another listed user, for a verb listing both',
      { team: 'T0001', user: 'U2', verb: 'promote' },
      SETTINGS,
      'ok',
      [],
    ],
    ["a user listed under '*', for any verb", { team: 'T0001', user: 'U9', verb: 'rollback' }, SETTINGS, 'ok', []],
    [
      "anyone in the workspace, for a verb allowing '*'",
      { team: 'T0001', user: 'U7', verb: 'pause' },
      SETTINGS,
      'ok',
      [],
    ],
    [
      'a listed user, for a verb they are not listed for',
      { team: 'T0001', user: 'U2', verb: 'abort' },
      SETTINGS,
      'not-allowed',
      ['U1', 'U9'],
    ],
    ['an unlisted user', { team: 'T0001', user: 'U7', verb: 'promote' }, SETTINGS, 'not-allowed', ['U1', 'U2', 'U9']],
    [
      "only '*' users, for a verb nobody is listed under",
      { team: 'T0001', user: 'U1', verb: 'resume' },
      SETTINGS,
      'not-allowed',
      ['U9'],
    ],
    ['a click with no user id', { team: 'T0001', user: '', verb: 'abort' }, SETTINGS, 'not-allowed', ['U1', 'U9']],
    ['a listed user of another workspace', { team: 'T0EVIL', user: 'U1', verb: 'abort' }, SETTINGS, 'other-team', []],
    [
      "anyone of another workspace, for a '*' verb",
      { team: 'T0EVIL', user: 'U7', verb: 'pause' },
      SETTINGS,
      'other-team',
      [],
    ],
    ['a click naming no workspace', { team: undefined, user: 'U1', verb: 'abort' }, SETTINGS, 'other-team', []],
    ['no slack section', { team: 'T0001', user: 'U1', verb: 'abort' }, undefined, 'no-team', []],
    [
      'a slack section without teamId',
      { team: 'T0001', user: 'U1', verb: 'abort' },
      { allow: SETTINGS.allow },
      'no-team',
      [],
    ],
    [
      'a workspace with nobody allowed',
      { team: 'T0001', user: 'U1', verb: 'abort' },
      { teamId: 'T0001', allow: {} },
      'not-allowed',
      [],
    ],
  ])('%s', (_, click, settings, expected, mayAsk) => {
    const result = authorizeClick(click, settings);
    if (expected === 'ok') {
      expect(result).toEqual({ ok: true });
      return;
    }
    expect(result).toMatchObject({ ok: false, reason: expected, mayAsk });
  });

  it('says what an admin must set when nothing is configured, and which workspace counts', () => {
    expect(authorizeClick({ team: 'T0001', user: 'U1', verb: 'abort' }, undefined)).toMatchObject({
      why: expect.stringContaining('set slack.teamId'),
    });
    expect(authorizeClick({ team: 'T0EVIL', user: 'U1', verb: 'abort' }, SETTINGS)).toMatchObject({
      why: 'this Slack workspace (T0EVIL) may not steer releases; only T0001 may',
    });
    expect(authorizeClick({ team: 'T0001', user: 'U1', verb: 'abort' }, { teamId: 'T0001', allow: {} })).toMatchObject({
      why: expect.stringContaining('slack.allow.abort'),
    });
  });

  it("lists whom to ask once each, the verb's own users first", () => {
    expect(allowedFor('abort', { teamId: 'T0001', allow: { abort: ['U1', 'U9'], '*': ['U9', 'U3'] } })).toEqual([
      'U1',
      'U9',
      'U3',
    ]);
    expect(allowedFor('abort', undefined)).toEqual([]);
  });
});
