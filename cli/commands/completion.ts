/**
 * `flotilla completion bash|zsh|fish`: a completion script for the shell, made from the program
 * itself (its commands, their options and descriptions), so it never lists a command or a flag
 * that does not exist.
 */
import type { Command, Option } from 'commander';
import { EXIT, UsageError } from '../exit-codes.ts';
import { handle, subcommand } from '../options.ts';
import { print } from '../output.ts';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** What a script needs of one command. */
interface Spec {
  name: string;
  summary: string;
  options: { flag: string; summary: string; takes?: 'file' | 'dir' | 'backend' | 'value' }[];
  /** What its first argument completes to. */
  operand?: 'dir' | 'shell' | 'command';
}

export function register(program: Command): void {
  const command = subcommand(program, 'completion <shell>', 'a completion script for bash, zsh or fish', []);
  command.addHelpText(
    'after',
    `
Load it in the current shell, or install it:
  bash   source <(flotilla completion bash)     (or write it to ~/.local/share/bash-completion/completions/flotilla)
  zsh    source <(flotilla completion zsh)      (or write it as _flotilla to a directory on $fpath)
  fish   flotilla completion fish | source      (or write it to ~/.config/fish/completions/flotilla.fish)`,
  );
  handle(command, async (_ctx, shell: string) => {
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new UsageError(`the shell must be bash, zsh or fish (got "${shell}")`);
    }
    print(SCRIPTS[shell as Shell](specsOf(program)));
    return EXIT.ok;
  });
}

function takes(option: Option): Spec['options'][number]['takes'] {
  if (!option.required && !option.optional) return undefined;
  if (option.long === '--config') return 'file';
  if (option.long === '--state-dir') return 'dir';
  if (option.long === '--backend') return 'backend';
  return 'value';
}

function specsOf(program: Command): Spec[] {
  const specs = program.commands.map((c): Spec => {
    const operand = c.name() === 'release' ? 'dir' : c.name() === 'completion' ? 'shell' : undefined;
    return {
      name: c.name(),
      summary: c.summary() || c.description(),
      options: c.options
        .filter((o): o is Option & { long: string } => o.long !== undefined)
        .map((o) => {
          const kind = takes(o);
          return { flag: o.long, summary: o.description, ...(kind ? { takes: kind } : {}) };
        }),
      ...(operand ? { operand } : {}),
    };
  });
  specs.push({ name: 'help', summary: 'the usage of a command', options: [], operand: 'command' });
  return specs;
}

const words = (list: readonly string[]) => list.join(' ');

function bash(specs: Spec[]): string {
  const cases = specs.map((s) => {
    const operand =
      s.operand === 'dir'
        ? `COMPREPLY=($(compgen -d -- "$cur"))`
        : s.operand === 'shell'
          ? `COMPREPLY=($(compgen -W "${words(SHELLS)}" -- "$cur"))`
          : s.operand === 'command'
            ? `COMPREPLY=($(compgen -W "${words(specs.map((x) => x.name))}" -- "$cur"))`
            : 'COMPREPLY=()';
    return `    ${s.name})
      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${words(s.options.map((o) => o.flag))}" -- "$cur")); else ${operand}; fi ;;`;
  });
  return `# flotilla completion for bash: source <(flotilla completion bash)
_flotilla() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [[ "$COMP_CWORD" -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${words(specs.map((s) => s.name))}" -- "$cur"))
    return
  fi
  case "$prev" in
    --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --state-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --backend) COMPREPLY=($(compgen -W "local aws" -- "$cur")); return ;;
    --reason|--actor|--version|--attempt) COMPREPLY=(); return ;;
  esac
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
  esac
}
complete -F _flotilla flotilla`;
}

/** Text inside a zsh single-quoted spec: no quote, no brackets, no colon to end a field early. */
const zq = (text: string) => text.replace(/'/g, '').replace(/[[\]]/g, '').replace(/:/g, ' -');

function zsh(specs: Spec[]): string {
  const cases = specs.map((s) => {
    const options = s.options.map((o) => {
      const value =
        o.takes === 'file'
          ? ':file:_files'
          : o.takes === 'dir'
            ? ':directory:_files -/'
            : o.takes === 'backend'
              ? ':backend:(local aws)'
              : o.takes === 'value'
                ? ':value:'
                : '';
      return `'${o.flag}[${zq(o.summary)}]${value}'`;
    });
    const operand =
      s.operand === 'dir'
        ? `'1:build directory:_files -/'`
        : s.operand === 'shell'
          ? `'1:shell:(${words(SHELLS)})'`
          : s.operand === 'command'
            ? `'1:command:(${words(specs.map((x) => x.name))})'`
            : '';
    return `    ${s.name}) _arguments ${[...options, operand].filter(Boolean).join(' ')} ;;`;
  });
  return `#compdef flotilla
# flotilla completion for zsh: source <(flotilla completion zsh), or save as _flotilla on $fpath
_flotilla() {
  local -a commands
  commands=(
${specs.map((s) => `    '${s.name}:${zq(s.summary)}'`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  shift words
  (( CURRENT-- ))
  case $words[1] in
${cases.join('\n')}
  esac
}
if [[ "$funcstack[1]" == "_flotilla" ]]; then
  _flotilla "$@"
else
  compdef _flotilla flotilla
fi`;
}

/** Text inside a fish single-quoted string. */
const fq = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(specs: Spec[]): string {
  const lines = [
    '# flotilla completion for fish: flotilla completion fish | source',
    'complete -c flotilla -f',
    ...specs.map((s) => `complete -c flotilla -n __fish_use_subcommand -a ${s.name} -d ${fq(s.summary)}`),
  ];
  for (const s of specs) {
    const when = `-n '__fish_seen_subcommand_from ${s.name}'`;
    for (const o of s.options) {
      const value =
        o.takes === 'file'
          ? ' -r -F'
          : o.takes === 'dir'
            ? " -r -a '(__fish_complete_directories)'"
            : o.takes === 'backend'
              ? " -r -a 'local aws'"
              : o.takes === 'value'
                ? ' -r'
                : '';
      lines.push(`complete -c flotilla ${when} -l ${o.flag.slice(2)}${value} -d ${fq(o.summary)}`);
    }
    if (s.operand === 'dir') lines.push(`complete -c flotilla ${when} -a '(__fish_complete_directories)'`);
    if (s.operand === 'shell') lines.push(`complete -c flotilla ${when} -a '${words(SHELLS)}'`);
    if (s.operand === 'command') lines.push(`complete -c flotilla ${when} -a '${words(specs.map((x) => x.name))}'`);
  }
  return lines.join('\n');
}

const SCRIPTS: Readonly<Record<Shell, (specs: Spec[]) => string>> = { bash, zsh, fish };
