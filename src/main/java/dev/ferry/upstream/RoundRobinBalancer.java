package dev.ferry.upstream;

/**
 * Smooth weighted round-robin, nginx's {@code ngx_http_upstream_get_peer}: on each pick every candidate's
 * {@code current} grows by its weight, the largest wins (the first in configured order on a tie) and gives back the
 * candidates' total.
 * <p>
 * Invariant: while the candidates stay the same, every window of W consecutive picks (W = their total weight)
 * gives each candidate exactly its weight, interleaved: weights 5:1:1 give a a b a c a a, not a a a a a b c. A
 * candidate that drops out (ejected, tried) simply stops accumulating and the others share its turns by weight.
 */
final class RoundRobinBalancer implements Balancer {

  private final Members members;
  private final int[] current = new int[Members.MAX_SLOTS];

  RoundRobinBalancer(Members members, int ordinal) {
    this.members = members;
    int skip = ordinal % members.totalWeight(members.present);
    for (int i = 0; i < skip; i++) {
      pick(members.present, 0);
    }
  }

  @Override
  public Members members() {
    return members;
  }

  @Override
  public int pick(long candidates, long clientKey) {
    int total = 0;
    int best = -1;
    for (int s : members.order) {
      if ((candidates & 1L << s) == 0) {
        continue;
      }
      current[s] += members.weight[s];
      total += members.weight[s];
      if (best < 0 || current[s] > current[best]) {
        best = s;
      }
    }
    current[best] -= total;
    return best;
  }
}
