package dev.ferry.upstream;

/**
 * The 64-bit hashes of source hashing: FNV-1a over the characters of a text (a client IP, an upstream label), then
 * the murmur3 {@code fmix64} finalizer, so that texts differing in one digit land far apart. Ten lines of
 * well-known public-domain arithmetic: no dependency needed (Guava is not one) and the result is the same in every
 * Ferry process, so two replicas send a client to the same upstream.
 */
final class SourceHash {

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;

  private SourceHash() {
  }

  static long of(CharSequence text) {
    long h = FNV_OFFSET;
    for (int i = 0; i < text.length(); i++) {
      h = (h ^ text.charAt(i)) * FNV_PRIME;
    }
    return mix(h);
  }

  /** murmur3's fmix64: every input bit affects every output bit. */
  static long mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }
}
