/** What the commands print: plain lines, JSON, audit lines, outcomes and release summaries. */
import type { Intent } from '../core/control.ts';
import { printable, printableJson } from '../core/printable.ts';
import type { ReleaseOutcome } from '../core/types.ts';
import type { ReleaseRecord } from '../ports/ledger.ts';

/** Everything the CLI prints goes through here: control characters and escape sequences are shown escaped (core/printable.ts). */
export const print = (text: string): void => {
  process.stdout.write(`${printable(text)}\n`);
};
/** JSON, the same value, with no raw control character in it. */
export const printJson = (value: unknown): void => print(printableJson(JSON.stringify(value, null, 2)));
export const warn = (text: string): void => {
  process.stderr.write(`${printable(text)}\n`);
};

/** `1 region`, `6 regions`. */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** One audit line: `at actor verb [region | regions] — reason` (without `at` where the line has its own time). */
export function auditLine(intent: Intent, withTime = true): string {
  const where = intent.region ? ` ${intent.region}` : intent.regions?.length ? ` ${intent.regions.join(', ')}` : '';
  const what = `${intent.actor} ${intent.verb}${where} — ${intent.reason}`;
  return withTime ? `${intent.at} ${what}` : what;
}

export function printIntents(intents: readonly Intent[], indent: string): void {
  for (const intent of intents) print(`${indent}${auditLine(intent)}`);
}

export function printOutcome(outcome: ReleaseOutcome): void {
  print(`\n${outcome.status}: ${outcome.service} ${outcome.version} (${outcome.releaseId})`);
  print(outcome.reason);
  for (const r of outcome.regions) print(`  ${r.region.padEnd(16)} ${(r.version ?? '-').padEnd(12)} ${r.phase}`);
}

/** A release as `status` and `history` show it (and print with --json). */
export function releaseSummary(record: ReleaseRecord) {
  return {
    releaseId: record.releaseId,
    service: record.service,
    version: record.version,
    status: record.status,
    reason: record.reason ?? null,
    wave: record.wave + 1,
    waveCount: record.waveCount,
    startedAt: record.startedAt,
    endedAt: record.endedAt ?? null,
    /** An emergency release, marked for review: who asked for it and why; null for any other. */
    emergency: record.emergency
      ? { actor: record.emergency.actor, reason: record.emergency.reason, review: true }
      : null,
    /** What the release waits for now, with who caused it; null when it is not held. */
    hold: record.hold ? { wave: record.hold.wave + 1, since: record.hold.since, reasons: record.hold.reasons } : null,
    regions: Object.values(record.regions)
      .sort((a, b) => a.wave - b.wave || a.region.localeCompare(b.region))
      .map((r) => ({
        region: r.region,
        wave: r.wave + 1,
        phase: r.phase,
        before: r.before?.version ?? null,
        ...(r.message ? { message: r.message } : {}),
      })),
  };
}
