/**
 * Slack mrkdwn text: escaping what we did not write, cutting to Slack's limits. Pure.
 */

/** Slack mrkdwn: &, < and > are control characters and must be escaped in any text we did not write. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters, ending with an ellipsis; never leaves half an escape behind. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, Math.max(0, max - 1)).replace(/&[a-z]*$/, '');
  return `${cut}…`;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Inline code: backticks in the text become quotes. */
export const code = (text: string) => `\`${escapeMrkdwn(text.replace(/`/g, "'"))}\``;
