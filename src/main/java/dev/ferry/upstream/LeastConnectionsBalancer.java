package dev.ferry.upstream;

/**
 * Weighted least connections, as HAProxy's {@code leastconn}: the candidate with the fewest active connections per
 * unit of weight ({@code active / weight}, compared cross-multiplied so it is exact).
 * <p>
 * Ties are broken round-robin: the scan starts one upstream further on each pick and the first of the least loaded
 * wins, so idle equal upstreams take turns instead of the first one taking every burst. Active counts are the pool's
 * (every thread's connections), read without a lock; two threads picking at the same instant may both see the same
 * least loaded upstream, a skew of one connection that the next picks correct.
 */
final class LeastConnectionsBalancer implements Balancer {

  private final Members members;
  private int cursor;

  LeastConnectionsBalancer(Members members, int ordinal) {
    this.members = members;
    this.cursor = ordinal;
  }

  @Override
  public Members members() {
    return members;
  }

  @Override
  public int pick(long candidates, long clientKey) {
    int[] order = members.order;
    int n = order.length;
    int start = Math.floorMod(cursor++, n);
    int best = -1;
    for (int i = 0; i < n; i++) {
      int s = order[(start + i) % n];
      if ((candidates & 1L << s) != 0 && (best < 0 || Balancer.lessLoaded(members, s, best))) {
        best = s;
      }
    }
    return best;
  }
}
