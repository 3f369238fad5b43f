package dev.ferry.proxy;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One set of admission limits, shared by all listeners: at most {@code maxTotal} connections, and at most
 * {@code maxPerSource} from one client IP address (0 = unlimited). The process has one (its
 * {@code limits.max-connections}), and so has each route. A connection admitted here is given back by
 * {@link #release} exactly once, when its release is acknowledged. Thread-safe.
 */
final class ConnectionLimits {

  /** Why a client was not admitted, or null. */
  enum Refusal { TOTAL, SOURCE }

  private final int maxTotal;
  private final int maxPerSource;
  private final AtomicInteger total = new AtomicInteger();
  /** Open connections per source; an entry exists only while its count is positive (updated atomically per key). */
  private final ConcurrentHashMap<String, Integer> perSource = new ConcurrentHashMap<>();

  ConnectionLimits(int maxTotal, int maxPerSource) {
    this.maxTotal = maxTotal;
    this.maxPerSource = maxPerSource;
  }

  int maxTotal() {
    return maxTotal;
  }

  int maxPerSource() {
    return maxPerSource;
  }

  /** Admits a connection from {@code source} (an IP address), or says which limit refuses it. */
  Refusal admit(String source) {
    int n = total.incrementAndGet();
    if (maxTotal > 0 && n > maxTotal) {
      total.decrementAndGet();
      return Refusal.TOTAL;
    }
    if (maxPerSource > 0) {
      boolean[] admitted = new boolean[1];
      perSource.compute(source, (k, count) -> {
        int c = count == null ? 0 : count;
        if (c >= maxPerSource) {
          return count;
        }
        admitted[0] = true;
        return c + 1;
      });
      if (!admitted[0]) {
        total.decrementAndGet();
        return Refusal.SOURCE;
      }
    }
    return null;
  }

  /** Gives back what {@link #admit} took for an admitted connection. */
  void release(String source) {
    total.decrementAndGet();
    if (maxPerSource > 0) {
      perSource.computeIfPresent(source, (k, count) -> count <= 1 ? null : count - 1);
    }
  }
}
