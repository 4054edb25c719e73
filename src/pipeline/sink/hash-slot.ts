import routedSlotOf from 'cluster-key-slot';

/** CRC16/XMODEM (poly 0x1021, init 0), the checksum Redis Cluster hashes keys with. */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[i] = c & 0xffff;
  }
  return t;
})();

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The Redis Cluster slot (0–16383) of a key: CRC16 of the key's UTF-8 bytes, or of the first
 * hash tag `{…}` when it is non-empty, modulo 16384 — as the server's CLUSTER KEYSLOT computes it.
 *
 * Not `cluster-key-slot` (what ioredis uses): it agrees with the server except for a key whose
 * first `{` is followed at once by `}` and which has another `{…}` later (`a{}{b}`): the server
 * hashes the whole key, cluster-key-slot the text after the second `{` (test/integration/redis-cluster.test.ts
 * compares both with CLUSTER KEYSLOT). Grouping keys by the wrong slot would put keys of two
 * slots into one UNLINK (CROSSSLOT).
 */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(bytes, start, end) & 0x3fff;
}

/**
 * True when ioredis routes a command on `key` to the node of the key's real slot. When it does
 * not (keys such as `a{}{b}`, see hashSlot; a lone UTF-16 surrogate), a pipeline mixing the key with others fails in
 * ioredis ("All keys in the pipeline should belong to the same slots allocation group") before
 * reaching Redis; alone in a pipeline it is sent to the wrong node and follows the MOVED reply.
 */
export function routedToOwnSlot(key: string): boolean {
  return routedSlotOf(key) === hashSlot(key); // a string, as ioredis hands it over
}
