import type { SourcePos } from './model.js';

/**
 * Mapping files are UTF-8. Node's 'utf8' decoding replaces invalid bytes with U+FFFD, which would
 * end up inside a key template (a key nobody writes); instead the file is refused, naming the
 * line and column of the first invalid byte.
 */

const STRICT = new TextDecoder('utf-8', { fatal: true });

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence; -1 if all are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

export type Utf8Result = { readonly text: string } | { readonly pos: SourcePos; readonly message: string };

/** The text of a file's bytes, or where (line:col, counted in characters) its first invalid byte is. */
export function decodeUtf8(file: string, bytes: Uint8Array): Utf8Result {
  try {
    return { text: STRICT.decode(bytes) };
  } catch {
    const at = Math.max(0, firstInvalidUtf8(bytes));
    const before = Buffer.from(bytes.buffer, bytes.byteOffset, at);
    const lineStart = before.lastIndexOf(0x0a) + 1;
    const line = before.subarray(0, lineStart).reduce((n, c) => (c === 0x0a ? n + 1 : n), 1);
    const col = STRICT.decode(before.subarray(lineStart)).length + 1;
    const shown = Array.from(bytes.subarray(at, Math.min(bytes.length, at + 4)), (c) => c.toString(16).padStart(2, '0')).join(' ');
    return { pos: { file, line, col }, message: `not UTF-8: invalid byte sequence (${shown}); save the file as UTF-8` };
  }
}
