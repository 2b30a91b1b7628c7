/**
 * One release event as one plain line of text: `10:00:00 wave 2 (eu) gate (3 regions): FAILED: …`.
 * The one formatter every plain rendering uses: the CLI's progress outside a terminal, the Slack
 * notifier's terminal fallback, log lines. Pure string formatting, no colour, no line break: a
 * control character in a name, a reason or a message is shown escaped (core/printable.ts).
 */
import type { Stamped } from './events.ts';
import { printableLine } from './printable.ts';
import type { ControlAction, GateEvaluation } from './types.ts';

export function plainLine(event: Stamped): string {
  return printableLine(line(event));
}

function line(event: Stamped): string {
  const time = event.at.slice(11, 19);
  switch (event.kind) {
    case 'release-started':
      return `${time} release ${event.releaseId}: ${event.service} ${event.version} in ${event.waves.length} wave${event.waves.length === 1 ? '' : 's'} (${event.waves.map((w) => `${w.name}: ${w.regions.join(', ')}`).join(' | ')})`;
    case 'wave-started':
      return `${time} wave ${event.wave + 1} (${event.name}): ${event.regions.join(', ')}`;
    case 'wave-blocked':
      return `${time} wave ${event.wave + 1} BLOCKED: ${event.signals.join('; ')}`;
    case 'wave-held':
      return `${time} wave ${event.wave + 1} HELD: ${event.reasons.join('; ')}`;
    case 'region':
      return `${time}   ${event.region}: ${event.state}${event.version ? ` ${event.version}` : ''}${event.message ? ` (${event.message})` : ''}`;
    case 'gate': {
      const e = event.evaluation;
      const detail = event.control
        ? controlLine(event.control, e)
        : e.kind === 'Baking'
          ? `baking, ${Math.ceil(e.remainingMs / 1000)}s left`
          : e.kind === 'Passed'
            ? e.early
              ? `passed: ${e.early.text}`
              : 'passed'
            : `${e.kind.toUpperCase()}: ${e.signals.join('; ')}`;
      const hosts =
        event.newHosts && event.newHosts.length > 0
          ? ` + ${event.newHosts.join(', ')}`
          : event.noNewHost
            ? `, no new host: ${event.noNewHost}`
            : '';
      return `${time} wave ${event.wave + 1} gate (${event.regions.length} region${event.regions.length === 1 ? '' : 's'}${hosts}): ${detail}`;
    }
    case 'rollback-started':
      return `${time} ROLLING BACK ${event.regions.length > 0 ? event.regions.join(', ') : '(nothing was touched)'}: ${event.reason}`;
    case 'release-finished':
      return `${time} ${event.outcome.status}: ${event.outcome.reason}`;
  }
}

/** What a release manager's promote or abort made of a gate, with how much of the bake it cut short. */
export function controlLine(control: ControlAction, evaluation: GateEvaluation): string {
  const verb = control.kind === 'Promoted' ? 'promoted' : 'aborted';
  const early = evaluation.kind === 'Baking' ? ` (bake ended ${Math.ceil(evaluation.remainingMs / 1000)}s early)` : '';
  return `${verb} by ${control.actor} — ${control.reason}${early}`;
}
