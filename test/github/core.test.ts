/** core/github.ts: signatures, which pushes release, and the release id of a commit. No mocks. */
import { describe, expect, it } from 'vitest';
import {
  type BranchHead,
  branchRef,
  orderPush,
  pushTimes,
  releaseFromPush,
  releaseIdForCommit,
  signatureOf,
  verifySignature,
  versionForCommit,
} from '../../core/github.ts';
import { executionName } from '../../core/plan.ts';
import { mainDeleted, pushExamples, pushToMain, pushToMaster, SECRET, sign, tagPush } from './deliveries.ts';

const body = JSON.stringify(pushToMain());
const good = sign(SECRET, body);
const hex = good.slice('sha256='.length);

describe('verifySignature', () => {
  it("matches GitHub's documented test vector", () => {
    // docs.github.com, "Validating webhook deliveries": secret "It's a Secret to Everybody", payload "Hello, World!".
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verifySignature("It's a Secret to Everybody", 'Hello, World!', header)).toBe(true);
    expect(signatureOf("It's a Secret to Everybody", 'Hello, World!')).toBe(header);
  });

  const flipped = `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
  it.each([
    ['the signature of the body', SECRET, body, good, true],
    ['the same, body as a Buffer', SECRET, Buffer.from(body, 'utf8'), good, true],
    ['upper-case hex', SECRET, body, `sha256=${hex.toUpperCase()}`, true],
    ['no header', SECRET, body, undefined, false],
    ['an empty header', SECRET, body, '', false],
    ['another secret', 'not-the-secret', body, good, false],
    ['an empty secret, even with a signature made under it', '', body, sign('', body), false],
    ['one byte more in the body', SECRET, `${body} `, good, false],
    ['one hex digit changed', SECRET, body, `sha256=${flipped}`, false],
    ['no sha256= prefix', SECRET, body, hex, false],
    ['the legacy sha1= prefix', SECRET, body, `sha1=${hex}`, false],
    ['a short digest', SECRET, body, `sha256=${hex.slice(0, 62)}`, false],
    ['a long digest', SECRET, body, `sha256=${hex}00`, false],
    ['non-hex digits', SECRET, body, `sha256=${'z'.repeat(64)}`, false],
    ['trailing text', SECRET, body, `${good} `, false],
    ['two signatures', SECRET, body, `${good},${good}`, false],
  ])('%s → %s', (_what, secret, raw, header, expected) => {
    expect(verifySignature(secret, raw, header)).toBe(expected);
  });

  it('signs the bytes, not the text: a body that differs only in its encoding does not verify', () => {
    const text = '{"msg":"café"}';
    const latin1 = Buffer.from(text, 'latin1');
    expect(verifySignature(SECRET, latin1, sign(SECRET, text))).toBe(false);
    expect(verifySignature(SECRET, text, sign(SECRET, Buffer.from(text, 'utf8')))).toBe(true);
  });
});

describe('releaseFromPush (real payloads from @octokit/webhooks-examples)', () => {
  it('starts a release for a push to the branch, with the commit it moved to', () => {
    const push = pushToMain();
    expect(releaseFromPush(push, { branch: 'main' })).toEqual({
      kind: 'release',
      commit: push.after,
      ref: 'refs/heads/main',
      repository: 'Codertocat/Hello-World',
      // repository.pushed_at 1557933657 (Unix seconds); head_commit.timestamp 2019-05-15T15:19:25Z.
      pushedAt: 1557933657000,
      committedAt: Date.parse('2019-05-15T15:19:25Z'),
      pusher: 'Codertocat',
      compareUrl: push.compare,
    });
  });

  it('takes an unchanged real payload for its own branch (master)', () => {
    expect(releaseFromPush(pushToMaster(), { branch: 'master' })).toMatchObject({
      kind: 'release',
      commit: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
    });
    expect(releaseFromPush(pushToMaster(), { branch: 'refs/heads/master' }).kind).toBe('release');
  });

  it('has every example either release or be ignored, and only branch pushes release', () => {
    for (const example of pushExamples()) {
      const decision = releaseFromPush(example, { branch: 'master' });
      expect(decision.kind, example.ref).toBe(
        example.ref === 'refs/heads/master' && !example.deleted ? 'release' : 'ignored',
      );
    }
  });

  it.each([
    ['another branch', pushToMaster(), 'push to refs/heads/master, not refs/heads/main'],
    ['a tag', tagPush(), 'push to refs/tags/simple-tag, not refs/heads/main'],
    ['the branch deleted', mainDeleted(), 'refs/heads/main was deleted'],
    [
      'after all zeros',
      { ...pushToMain(), after: '0'.repeat(40) },
      'refs/heads/main points at no commit after the push',
    ],
    ['after not a sha', { ...pushToMain(), after: 'HEAD' }, 'the push names no commit sha in "after"'],
    ['after a short sha', { ...pushToMain(), after: '6113728' }, 'the push names no commit sha in "after"'],
    ['no after', { ...pushToMain(), after: undefined }, 'the push names no commit sha in "after"'],
    ['no repository', { ...pushToMain(), repository: undefined }, 'the push names no repository'],
    [
      'a branch named like main',
      { ...pushToMain(), ref: 'refs/heads/main-old' },
      'push to refs/heads/main-old, not refs/heads/main',
    ],
    ['a ping payload', { zen: 'Design for failure.', hook_id: 1 }, 'the payload has no ref: not a push'],
    ['an array', [pushToMain()], 'the payload is not a JSON object'],
    ['null', null, 'the payload is not a JSON object'],
    ['a string', 'refs/heads/main', 'the payload is not a JSON object'],
  ])('ignores %s, saying why', (_what, event, why) => {
    expect(releaseFromPush(event, { branch: 'main' })).toEqual({ kind: 'ignored', why });
  });

  it('releases a push that creates the branch or forces it: it still moves the branch to a commit', () => {
    expect(releaseFromPush({ ...pushToMain(), created: true, forced: true }, { branch: 'main' }).kind).toBe('release');
  });

  it('omits pusher and compare URL when the payload lacks them', () => {
    const decision = releaseFromPush({ ...pushToMain(), pusher: undefined, compare: undefined }, { branch: 'main' });
    expect(decision).toEqual({
      kind: 'release',
      commit: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      ref: 'refs/heads/main',
      repository: 'Codertocat/Hello-World',
      pushedAt: 1557933657000,
      committedAt: Date.parse('2019-05-15T15:19:25Z'),
    });
  });

  it('knows refs/heads/ prefixes', () => {
    expect(branchRef('main')).toBe('refs/heads/main');
    expect(branchRef('refs/heads/release/2')).toBe('refs/heads/release/2');
  });
});

describe('releaseIdForCommit and versionForCommit', () => {
  const sha = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';

  it('names a commit service-<first 12 of the sha>, version the first 12', () => {
    expect(versionForCommit(sha)).toBe('6113728f27ae');
    expect(releaseIdForCommit('shop', sha)).toBe('shop-6113728f27ae');
    expect(releaseIdForCommit('shop', sha.toUpperCase())).toBe('shop-6113728f27ae');
  });

  it('is the name `flotilla release --version <first 12>` gives (so CI and the webhook agree)', () => {
    expect(releaseIdForCommit('shop', sha)).toBe(executionName('shop', versionForCommit(sha), 1));
  });

  it('names commits by their first 12 characters: a difference there changes the name, one after it does not', () => {
    const differsInFirst12 = `${sha.slice(0, 11)}0${sha.slice(12)}`;
    const differsAfter12 = `${sha.slice(0, 12)}${'0'.repeat(28)}`;
    expect(releaseIdForCommit('shop', differsInFirst12)).toBe('shop-6113728f27a0');
    expect(releaseIdForCommit('shop', differsAfter12)).toBe('shop-6113728f27ae');
    expect(releaseIdForCommit('cart', sha)).toBe('cart-6113728f27ae');
  });

  it.each([['shop'], ['a'.repeat(40)], ['s'.repeat(200)], ['my service/with:odd*chars']])(
    'is a valid execution name (1-80 chars, no forbidden ones) and keeps the sha: %s',
    (service) => {
      const id = releaseIdForCommit(service, sha);
      expect(id.length).toBeLessThanOrEqual(80);
      expect(id).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(id.endsWith('-6113728f27ae')).toBe(true);
    },
  );

  it.each([['HEAD'], ['6113728'], [`${sha}00`], ['g'.repeat(40)]])('refuses %s as a commit', (commit) => {
    expect(() => releaseIdForCommit('shop', commit)).toThrow(TypeError);
    expect(() => versionForCommit(commit)).toThrow(TypeError);
  });
});

describe('pushTimes: what orders pushes of a branch', () => {
  it('takes repository.pushed_at (Unix seconds, or an ISO string) first, head_commit.timestamp as the tie-breaker', () => {
    expect(pushTimes({ pushed_at: 1557933657 }, { timestamp: '2019-05-15T15:19:25Z' })).toEqual({
      pushedAt: 1557933657000,
      committedAt: Date.parse('2019-05-15T15:19:25Z'),
    });
    expect(pushTimes({ pushed_at: '2019-05-15T15:20:57Z' }, null)).toEqual({
      pushedAt: Date.parse('2019-05-15T15:20:57Z'),
    });
  });

  it('falls back to head_commit.timestamp without pushed_at, and has nothing without either', () => {
    const committed = Date.parse('2019-05-15T15:19:25-07:00');
    expect(pushTimes({ pushed_at: null }, { timestamp: '2019-05-15T15:19:25-07:00' })).toEqual({
      pushedAt: committed,
      committedAt: committed,
    });
    expect(pushTimes({}, {})).toBeUndefined();
    expect(pushTimes({ pushed_at: 'yesterday' }, { timestamp: 12 })).toBeUndefined();
    expect(pushTimes(undefined, undefined)).toBeUndefined();
  });

  it('ignores a push that carries no time to order it by', () => {
    const push = pushToMain() as unknown as Record<string, unknown>;
    const decision = releaseFromPush(
      { ...push, repository: { ...(push.repository as object), pushed_at: null }, head_commit: null },
      { branch: 'main' },
    );
    expect(decision).toEqual({
      kind: 'ignored',
      why: 'the push carries no time (repository.pushed_at, head_commit.timestamp) to order it by',
    });
  });
});

describe('orderPush: a push against the newest seen for its branch', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);
  const push = (commit: string, pushedAt: number, committedAt?: number) => ({
    kind: 'release' as const,
    commit,
    ref: 'refs/heads/main',
    repository: 'o/r',
    pushedAt,
    ...(committedAt === undefined ? {} : { committedAt }),
  });
  const head = (commit: string, pushedAt: number, committedAt?: number): BranchHead => ({
    branch: 'main',
    commit,
    pushedAt,
    ...(committedAt === undefined ? {} : { committedAt }),
  });

  it.each([
    ['nothing seen yet', push(A, 1_000), undefined, 'newer'],
    ['pushed later', push(B, 2_000), head(A, 1_000), 'newer'],
    ['pushed earlier (a redelivery of an old push)', push(A, 1_000), head(B, 2_000), 'stale'],
    ['the same commit again (a redelivery, a duplicate)', push(A, 1_000), head(A, 1_000), 'same'],
    ['the same commit, pushed again later (a force-push back to it)', push(A, 3_000), head(A, 1_000), 'newer'],
    ['the same second, a later commit time', push(B, 1_000, 20), head(A, 1_000, 10), 'newer'],
    ['the same second, an earlier commit time', push(A, 1_000, 10), head(B, 1_000, 20), 'stale'],
    [
      'the same second and commit time, another commit: cannot tell, so never',
      push(B, 1_000, 10),
      head(A, 1_000, 10),
      'stale',
    ],
    ['an old commit date pushed later: the push time decides', push(B, 2_000, 1), head(A, 1_000, 999), 'newer'],
  ] as const)('%s → %s', (_what, given, newest, kind) => {
    expect(orderPush(given, newest).kind).toBe(kind);
  });

  it('says what it refused and against what, naming the branch', () => {
    expect(orderPush(push(A, 1_000), head(B, 2_000))).toEqual({
      kind: 'stale',
      why: `stale: ${A} is older than ${B} already seen for main`,
    });
    expect(orderPush(push(B, 1_000, 10), head(A, 1_000, 10))).toEqual({
      kind: 'stale',
      why: `stale: ${B} is no newer than (pushed at the same time as) ${A} already seen for main`,
    });
  });

  it('hands back the head to record for a newer push', () => {
    expect(orderPush(push(B, 2_000, 5), head(A, 1_000))).toEqual({ kind: 'newer', head: head(B, 2_000, 5) });
  });
});
