package dev.ferry.proxy;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One set of admission limits, shared by all listeners: at most {@code maxTotal} connections, and at most
 * {@code maxPerSource} from one client IP address (0 = unlimited). The process has one (its
 * {@code limits.max-connections}), and so has each route. The two parts are taken separately, because a PROXY
 * protocol header names the client after the accept ({@link Admission} says which part is taken when); each part
 * taken is given back exactly once, when the connection's release is acknowledged. Thread-safe.
 */
final class ConnectionLimits {

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

  /** Takes a place in the total; false (nothing taken) when it is full. */
  boolean admitTotal() {
    int n = total.incrementAndGet();
    if (maxTotal > 0 && n > maxTotal) {
      total.decrementAndGet();
      return false;
    }
    return true;
  }

  void releaseTotal() {
    total.decrementAndGet();
  }

  /** Takes a place among {@code source}'s connections (an IP address); false (nothing taken) when they are full. */
  boolean admitSource(String source) {
    if (maxPerSource <= 0) {
      return true;
    }
    boolean[] admitted = new boolean[1];
    perSource.compute(source, (k, count) -> {
      int c = count == null ? 0 : count;
      if (c >= maxPerSource) {
        return count;
      }
      admitted[0] = true;
      return c + 1;
    });
    return admitted[0];
  }

  void releaseSource(String source) {
    if (maxPerSource > 0) {
      perSource.computeIfPresent(source, (k, count) -> count <= 1 ? null : count - 1);
    }
  }
}
