/**
 * Redis Cluster's key-to-slot function (CRC16/XMODEM of the hash tag, mod 16384), as the cluster
 * specification defines it. Pure, so tests can prove a set of keys is single-slot without a cluster.
 */
export const SLOT_COUNT = 16384;

const TABLE = ((): Uint16Array => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The part of a key that is hashed: the first `{...}` with something inside, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function slotOf(key: string | Buffer): number {
  // Hashing works on bytes: a string key is hashed as its UTF-8 encoding, as ioredis sends it.
  return crc16(tagBytes(typeof key === "string" ? Buffer.from(key, "utf8") : key)) % SLOT_COUNT;
}

function tagBytes(key: Buffer): Buffer {
  const open = key.indexOf(0x7b);
  if (open === -1) return key;
  const close = key.indexOf(0x7d, open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}
