import { describe, expect, it } from 'vitest';
import { passEnvProblem, serviceEnvironment } from '../../core/service-env.ts';
import { parseEdited, problemsOf, setAt } from '../config/fixtures.ts';

/** An orchestrator with every kind of secret Flotilla may hold, and a few ordinary variables. */
const orchestrator = {
  PATH: '/usr/local/bin:/usr/bin',
  HOME: '/home/flotilla',
  FLOTILLA_GITHUB_SECRET: 'gh-secret',
  FLOTILLA_SLACK_BOT_TOKEN: 'xoxb-token',
  FLOTILLA_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/x',
  FLOTILLA_FAULT_HEALTH: 'unhealthy',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  SECRET_X: 'x',
  TZ: 'Europe/Dublin',
};

const base = {
  orchestrator,
  targetEnv: { CURRENCY: 'EUR' },
  service: 'shop',
  region: 'eu-west-1',
  version: '1.2.3',
  port: 7101,
};

describe('serviceEnvironment', () => {
  it('is exactly the allow-list: PATH, the target env and what Flotilla tells every service', () => {
    expect(serviceEnvironment(base)).toEqual({
      PATH: '/usr/local/bin:/usr/bin',
      CURRENCY: 'EUR',
      PORT: '7101',
      FLOTILLA_VERSION: '1.2.3',
      FLOTILLA_REGION: 'eu-west-1',
      FLOTILLA_SERVICE: 'shop',
    });
  });

  it('passes on the names passEnv lists, only when the orchestrator has them', () => {
    const env = serviceEnvironment({ ...base, passEnv: ['TZ', 'HOME', 'NOT_SET'] });
    expect(env.TZ).toBe('Europe/Dublin');
    expect(env.HOME).toBe('/home/flotilla');
    expect('NOT_SET' in env).toBe(false);
    expect('SECRET_X' in env).toBe(false);
  });

  it('never passes a FLOTILLA_* variable of the orchestrator, even when passEnv names it', () => {
    const env = serviceEnvironment({
      ...base,
      passEnv: ['FLOTILLA_GITHUB_SECRET', 'FLOTILLA_SLACK_BOT_TOKEN', 'flotilla_slack_webhook_url', 'A=B', ''],
    });
    for (const value of Object.values(env)) {
      expect(['gh-secret', 'xoxb-token', 'https://hooks.slack.com/x']).not.toContain(value);
    }
    expect(Object.keys(env).sort()).toEqual(Object.keys(serviceEnvironment(base)).sort());
  });

  it("sets FLOTILLA_FAULT_HEALTH only for an injected health fault, never from the orchestrator's or the target's env", () => {
    expect('FLOTILLA_FAULT_HEALTH' in serviceEnvironment(base)).toBe(false);
    const fromTarget = serviceEnvironment({ ...base, targetEnv: { FLOTILLA_FAULT_HEALTH: 'silent' } });
    expect('FLOTILLA_FAULT_HEALTH' in fromTarget).toBe(false);
    expect(serviceEnvironment({ ...base, healthFault: 'flapping' }).FLOTILLA_FAULT_HEALTH).toBe('flapping');
  });

  it("sets FLOTILLA_FAULT_START only for an injected fresh-start fault, never from the target's env", () => {
    expect('FLOTILLA_FAULT_START' in serviceEnvironment(base)).toBe(false);
    const fromTarget = serviceEnvironment({ ...base, targetEnv: { FLOTILLA_FAULT_START: 'fresh-start' } });
    expect('FLOTILLA_FAULT_START' in fromTarget).toBe(false);
    expect(serviceEnvironment({ ...base, startFault: 'fresh-start' }).FLOTILLA_FAULT_START).toBe('fresh-start');
  });

  it("lets the target's env win over PATH and passEnv, and Flotilla's own values win over the target's", () => {
    const env = serviceEnvironment({
      ...base,
      passEnv: ['TZ'],
      targetEnv: { PATH: '/opt/bin', TZ: 'UTC', PORT: '1', FLOTILLA_VERSION: 'forged' },
    });
    expect(env).toMatchObject({ PATH: '/opt/bin', TZ: 'UTC', PORT: '7101', FLOTILLA_VERSION: '1.2.3' });
  });

  it('has no PATH when the orchestrator has none', () => {
    expect('PATH' in serviceEnvironment({ ...base, orchestrator: {} })).toBe(false);
  });
});

describe('passEnvProblem', () => {
  it.each(['TZ', 'HOME', '_X', 'a1', 'LANG_2'])('accepts %s', (name) => {
    expect(passEnvProblem(name)).toBeNull();
  });
  it.each(['', 'A=B', '1X', 'A B', 'A-B', 'X\n'])('refuses %j as not a name', (name) => {
    expect(passEnvProblem(name)).toMatch(/is not an environment variable name/);
  });
  it.each(['FLOTILLA_GITHUB_SECRET', 'FLOTILLA_SLACK_BOT_TOKEN', 'flotilla_anything'])(
    'refuses %s as a Flotilla variable',
    (name) => {
      expect(passEnvProblem(name)).toMatch(/never passed to a service/);
    },
  );
});

describe('passEnv in flotilla.yml', () => {
  it('accepts POSIX names and keeps them', () => {
    const result = parseEdited((d) => setAt(d, 'regions[0].target.passEnv', ['TZ', 'HOME']));
    expect(result.ok && result.config.regions[0]?.target).toMatchObject({ passEnv: ['TZ', 'HOME'] });
  });

  it('refuses a FLOTILLA_* name and a name that is not POSIX, each with its path', () => {
    const problems = problemsOf(
      parseEdited((d) => setAt(d, 'regions[0].target.passEnv', ['FLOTILLA_GITHUB_SECRET', 'A=B', 'TZ'])),
    );
    expect(problems.map((p) => p.path)).toEqual(['regions[0].target.passEnv[0]', 'regions[0].target.passEnv[1]']);
    expect(problems[0]?.message).toMatch(/FLOTILLA_GITHUB_SECRET is one of Flotilla's own variables/);
    expect(problems[1]?.message).toMatch(/"A=B" is not an environment variable name/);
  });

  it('is optional: a target without it parses as before', () => {
    const result = parseEdited(() => {});
    expect(result.ok && 'passEnv' in (result.config.regions[0]?.target ?? {})).toBe(false);
  });
});
