import { describe, expect, it } from 'vitest';
import type { ReleaseStatus } from '../../core/model.ts';
import { supersededBy } from '../../core/queue.ts';

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
