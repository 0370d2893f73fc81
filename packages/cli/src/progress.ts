import type { Terminal } from "./command.js";

export interface Progress {
  /** Redraws the bar with this many of the total done. */
  update(done: number): void;
  /** Clears the bar, so the results that follow start on a clean line. */
  finish(): void;
}

const NONE: Progress = { update: () => undefined, finish: () => undefined };

/**
 * A one-line progress bar redrawn in place with `\r`, on the terminal only: without one (a pipe,
 * a file, CI logs) nothing is drawn, so redirected output holds results only.
 */
export function createProgress(terminal: Terminal | undefined, label: string, total: number): Progress {
  if (terminal === undefined || total <= 0) return NONE;
  const draw = (done: number) => {
    const counter = ` ${done}/${total}`;
    // Room for the label, brackets and counter; a narrow terminal still gets a short bar.
    const width = Math.max(10, Math.min(40, terminal.columns - label.length - counter.length - 4));
    const filled = Math.round((Math.min(done, total) / total) * width);
    terminal.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}]${counter}`);
  };
  draw(0);
  return {
    update: draw,
    finish: () => terminal.write("\r\x1b[2K"),
  };
}
