package dev.ferry.upstream;

/**
 * The upstreams one client has been sent to so far, so that each retry goes to an upstream not yet tried while one
 * remains. A 64-bit set of pool slots (a pool has at most 64 upstreams); {@link UpstreamPool#choose} adds the
 * upstream it returns.
 * <p>
 * A slot freed by a reload and reused by a new upstream while a client is between two attempts makes that client
 * skip the new upstream once: harmless, and the price of a set that costs one word and no allocation.
 * <p>
 * Threading: confined to the caller (one client connection, one event loop).
 */
public final class Tried {

  private long slots;

  void add(int slot) {
    slots |= 1L << slot;
  }

  long slots() {
    return slots;
  }

  public boolean contains(Upstream u) {
    return (slots & 1L << u.slot()) != 0;
  }

  /** How many distinct upstreams were tried. */
  public int count() {
    return Long.bitCount(slots);
  }

  /** Forgets every attempt (a new client on a reused object). */
  public void clear() {
    slots = 0;
  }
}
