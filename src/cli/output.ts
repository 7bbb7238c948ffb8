/**
 * Colour for people, plain text for pipes: colour only when the stream is a terminal and
 * NO_COLOR (https://no-color.org) is unset or empty.
 */
import type { Writable } from 'node:stream';

export function colourOn(stream: Writable & { isTTY?: boolean }): boolean {
  const noColor = process.env.NO_COLOR;
  return stream.isTTY === true && (noColor === undefined || noColor === '');
}

const CODES = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36 } as const;
export type Colour = keyof typeof CODES;

/** Returns `paint(colour, text)`: the text wrapped in SGR codes when `on`, unchanged otherwise. */
export function painter(on: boolean): (colour: Colour, text: string) => string {
  return on ? (c, t) => `\x1b[${CODES[c]}m${t}\x1b[0m` : (_c, t) => t;
}
