package dev.ferry.upstream;

import java.util.random.RandomGenerator;

/**
 * One algorithm's pick among candidate upstreams. An instance is bound to one {@link Members} snapshot and confined
 * to one thread: its state (round-robin weights, a cursor, a random generator) belongs to that thread, as nginx
 * keeps one per worker, so picking takes no lock. {@link UpstreamPool} keeps one per thread and snapshot.
 */
interface Balancer {

  /**
   * @param candidates a non-empty set of slots of {@link #members()}: the usable upstreams not yet tried
   * @param clientKey  the client's hash ({@link SourceHash#of} of its IP); only source-hash reads it
   * @return one slot of {@code candidates}
   */
  int pick(long candidates, long clientKey);

  Members members();

  /**
   * A balancer of {@code members}' algorithm for one thread.
   *
   * @param random  this thread's generator (random-two)
   * @param ordinal the thread's number in the pool: round-robin starts that many picks ahead, so event loops do
   *                not all send their first client to the same upstream
   */
  static Balancer create(Members members, RandomGenerator random, int ordinal) {
    return switch (members.algorithm) {
      case ROUND_ROBIN -> new RoundRobinBalancer(members, ordinal);
      case LEAST_CONNECTIONS -> new LeastConnectionsBalancer(members, ordinal);
      case RANDOM_TWO -> new RandomTwoBalancer(members, random);
      case SOURCE_HASH -> new SourceHashBalancer(members);
    };
  }

  /** Whether slot {@code a} carries less load per unit of weight than slot {@code b} (cross-multiplied, exact). */
  static boolean lessLoaded(Members m, int a, int b) {
    return (long) m.bySlot[a].activeConnections() * m.weight[b] < (long) m.bySlot[b].activeConnections() * m.weight[a];
  }
}
