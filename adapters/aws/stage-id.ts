/**
 * What an AWS staging's id says (adapters/aws/revision-stager.ts): staging runs to its end inside
 * StageAhead's call, so its id carries how it went, and reading it back needs no AWS client (the
 * EnterWave bundle has no S3 client). `copied:<s3 url>` this release copied the bundle there;
 * `present:<s3 url>` it was there already; `checked:<what>` nothing to stage; `failed:<why>`.
 */
import type { StageStatus } from '../../ports/region-deployer.ts';

const FAILED = 'failed:';

export const stageId = {
  copied: (url: string) => `copied:${url}`,
  present: (url: string) => `present:${url}`,
  checked: (what: string) => `checked:${what}`,
  failed: (why: string) => `${FAILED}${why}`,
};

/** The status a stage id records. */
export function stagedStatus(id: string): StageStatus {
  return id.startsWith(FAILED) ? { status: 'Failed', message: id.slice(FAILED.length) } : { status: 'Staged' };
}
