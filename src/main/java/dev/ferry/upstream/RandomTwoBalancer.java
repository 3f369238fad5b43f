package dev.ferry.upstream;

import java.util.random.RandomGenerator;

/**
 * The power of two random choices (Envoy's least-request with two choices), weighted: two distinct candidates are
 * drawn, each with probability proportional to its weight, and the one with fewer active connections per unit of
 * weight wins; on a tie the first drawn.
 * <p>
 * Invariant: with equal loads the pick is a weighted random draw (so shares follow the weights); with unequal
 * loads it leans to the less loaded without the herd of a strict least-connections when several threads pick at
 * once on counts that are a moment old. One candidate: that one.
 */
final class RandomTwoBalancer implements Balancer {

  private final Members members;
  private final RandomGenerator random;

  RandomTwoBalancer(Members members, RandomGenerator random) {
    this.members = members;
    this.random = random;
  }

  @Override
  public Members members() {
    return members;
  }

  @Override
  public int pick(long candidates, long clientKey) {
    int total = members.totalWeight(candidates);
    int first = draw(candidates, total);
    long rest = candidates & ~(1L << first);
    if (rest == 0) {
      return first;
    }
    int second = draw(rest, total - members.weight[first]);
    return Balancer.lessLoaded(members, second, first) ? second : first;
  }

  /** One slot of {@code set}, with probability weight / total. */
  private int draw(long set, int total) {
    int r = random.nextInt(total);
    for (long bits = set; ; bits &= bits - 1) {
      int s = Long.numberOfTrailingZeros(bits);
      r -= members.weight[s];
      if (r < 0 || (bits & bits - 1) == 0) {
        return s;
      }
    }
  }
}
