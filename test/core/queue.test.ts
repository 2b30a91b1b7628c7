import { describe, expect, it } from 'vitest';
import type { ReleaseStatus } from '../../core/model.ts';
import { queuedToResume, resumeQueued, supersededBy } from '../../core/queue.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, s)).toISOString();
const rel = (releaseId: string, s: number, status: ReleaseStatus, rollbackOf?: string) => ({
  releaseId,
  startedAt: at(s),
  status,
  ...(rollbackOf ? { rollbackOf } : {}),
});

describe('supersededBy (which queued build gives way)', () => {
  const older = rel('shop-1.1.0', 10, 'QUEUED');

  it('gives way to a newer build that is queued, running, or has shipped', () => {
    for (const status of ['QUEUED', 'RUNNING', 'SUCCEEDED'] as const) {
      expect(supersededBy(older, [older, rel('shop-1.2.0', 20, status)])).toBe('shop-1.2.0');
    }
  });

  it('names the newest of several newer builds', () => {
    const releases = [rel('shop-1.3.0', 30, 'QUEUED'), older, rel('shop-1.2.0', 20, 'RUNNING')];
    expect(supersededBy(older, releases)).toBe('shop-1.3.0');
  });

  it('does not give way to older builds, to itself, to rollbacks, or to newer builds that never ran or failed', () => {
    const releases = [
      older,
      rel('shop-1.0.0', 5, 'QUEUED'),
      rel('shop-0.9.0', 1, 'RUNNING'),
      rel('shop-0.9.0-rollback-1', 15, 'RUNNING', 'shop-0.9.0'),
      ...(['BLOCKED', 'ROLLED_BACK', 'ROLLBACK_FAILED', 'ABORTED', 'SUPERSEDED', 'FAILED'] as const).map((s, i) =>
        rel(`shop-2.0.${i}`, 40 + i, s),
      ),
    ];
    expect(supersededBy(older, releases)).toBeUndefined();
  });

  it('orders two builds started in the same millisecond by release id, so exactly one gives way', () => {
    const a = rel('shop-a', 10, 'QUEUED');
    const b = rel('shop-b', 10, 'QUEUED');
    expect(supersededBy(a, [a, b])).toBe('shop-b');
    expect(supersededBy(b, [a, b])).toBeUndefined();
  });
});

describe('resumeQueued (a queued release whose process died, started again elsewhere)', () => {
  const plan = { version: '1.1.0' };
  const queued = { status: 'QUEUED' as const, version: '1.1.0' };

  it('resumes a QUEUED release with its stored plan, for the same build', () => {
    expect(resumeQueued({ releaseId: 'shop-1.1.0', version: '1.1.0', record: queued, plan })).toEqual({
      kind: 'Resume',
    });
  });

  it('never runs again a release that ran or ended, nor one with no record or no plan', () => {
    for (const status of ['RUNNING', 'SUCCEEDED', 'SUPERSEDED', 'FAILED', 'ABORTED'] as const) {
      expect(
        resumeQueued({ releaseId: 'shop-1.1.0', version: '1.1.0', record: { ...queued, status }, plan }),
      ).toMatchObject({ kind: 'Refused', refusal: 'NotApplicable' });
    }
    expect(resumeQueued({ releaseId: 'x', version: '1.1.0', record: undefined, plan })).toMatchObject({
      refusal: 'NotFound',
    });
    expect(resumeQueued({ releaseId: 'x', version: '1.1.0', record: queued, plan: undefined })).toMatchObject({
      refusal: 'NotFound',
    });
  });

  it('refuses another build under the same release id', () => {
    expect(resumeQueued({ releaseId: 'shop-1.1.0', version: '9.9.9', record: queued, plan })).toMatchObject({
      kind: 'Refused',
      refusal: 'NotApplicable',
    });
  });
});

describe('queuedToResume', () => {
  it('is every QUEUED release, oldest first (same millisecond: by release id)', () => {
    const releases = [
      rel('shop-1.3.0', 30, 'QUEUED'),
      rel('shop-1.0.0', 5, 'FAILED'),
      rel('shop-1.2.0', 20, 'QUEUED'),
      rel('shop-1.2.1', 20, 'QUEUED'),
      rel('shop-1.1.0', 10, 'SUCCEEDED'),
    ];
    expect(queuedToResume(releases).map((r) => r.releaseId)).toEqual(['shop-1.2.0', 'shop-1.2.1', 'shop-1.3.0']);
  });
});
