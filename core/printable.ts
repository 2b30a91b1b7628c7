/**
 * Text from outside (wave and region names, intent reasons and actors, region and gate messages,
 * error messages) made safe to print on a terminal: every control character and terminal escape
 * sequence is shown escaped (`ESC [ 2 J` prints as `\x1b[2J`), never sent to the terminal raw, so a
 * name or a reason cannot clear the screen, retitle the window, move the cursor or hide a line.
 * Covers C0 and C1 controls, DEL, the Unicode line and paragraph separators and the bidirectional
 * overrides that reorder what is shown. The one place this is done: cli/output.ts (everything the
 * CLI prints), cli/progress.ts (the live table) and core/event-line.ts (plain event lines).
 */

// C0 controls but tab and line feed, DEL, C1 controls, U+2028/U+2029, bidi embeddings/overrides/isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// The same, and tab and line feed too: a one-line field stays one line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (char: string): string => {
  const code = char.charCodeAt(0);
  if (char === '\n') return '\\n';
  if (char === '\t') return '\\t';
  if (char === '\r') return '\\r';
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** Text of one or more lines: line feeds and tabs stay, every other control is escaped. */
export function printable(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, escaped);
}

/** Text that must stay on one line (a table cell, an event line): line feeds and tabs are escaped too. */
export function printableLine(text: string): string {
  return text.replace(UNSAFE_IN_LINE, escaped);
}

/**
 * JSON text with the characters JSON.stringify leaves raw (C1 controls, DEL, U+2028/U+2029, bidi
 * controls) written as `\uXXXX` escapes: the same JSON value, safe on a terminal.
 */
export function printableJson(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
