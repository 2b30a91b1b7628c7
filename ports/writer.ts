/**
 * Port: where lines of text go (a terminal, stderr, a Lambda's log). The CLI's progress, the Slack
 * notifier's terminal fallback and its log lines write to one.
 */
export interface ProgressWriter {
  write(text: string): void;
}
