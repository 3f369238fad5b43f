package dev.ferry.upstream;

/**
 * Consistent hashing of the client IP by weighted rendezvous hashing (highest random weight): every upstream scores
 * the client with {@code -ln(u) / weight}, u in (0,1) a hash of (client, upstream label), and the lowest score
 * wins. Each client thus has a fixed order of preference over the upstreams.
 * <p>
 * Why rendezvous rather than a ring or Maglev: shares follow the weights exactly in expectation, with no virtual
 * nodes to size and no variance from their placement (a 160-point ketama ring is off by several percent per
 * upstream); it needs no table to rebuild on a change; and "walk to the next" is simply the client's next
 * preference, so the property we want holds exactly: adding an upstream moves only the clients it now wins (about
 * 1/(N+1) of them), removing one or making it ineligible (ejected, down, draining, tried) moves only its own
 * clients, each to its second choice, and they come back when it returns. The cost is one hash and one logarithm
 * per candidate, O(N) with N ≤ 64: well under a microsecond for a handful of upstreams, next to a TCP connect.
 * <p>
 * Scores depend only on the client IP and the upstream's label, not on slots, order or process, so every Ferry
 * replica and every reload agree on where a client goes.
 */
final class SourceHashBalancer implements Balancer {

  private final Members members;

  SourceHashBalancer(Members members) {
    this.members = members;
  }

  @Override
  public Members members() {
    return members;
  }

  @Override
  public int pick(long candidates, long clientKey) {
    int best = -1;
    double bestScore = Double.POSITIVE_INFINITY;
    for (long bits = candidates; bits != 0; bits &= bits - 1) {
      int s = Long.numberOfTrailingZeros(bits);
      double score = score(clientKey, members.bySlot[s].hashKey(), members.weight[s]);
      if (score < bestScore) {
        bestScore = score;
        best = s;
      }
    }
    return best;
  }

  /** -ln(u) / weight: exponential with rate {@code weight}; the minimum of several falls to each by its weight. */
  static double score(long clientKey, long upstreamKey, int weight) {
    long h = SourceHash.mix(clientKey ^ upstreamKey);
    double u = ((h >>> 11) + 0.5) * 0x1.0p-53;
    return -Math.log(u) / weight;
  }
}
