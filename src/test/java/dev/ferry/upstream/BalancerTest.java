package dev.ferry.upstream;

import dev.ferry.config.BalanceAlgorithm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Each algorithm's distribution over weights 1:2:3 (60,000 picks), its own invariant, and retries that avoid the
 * upstreams already tried. Randomness is seeded ({@link Pools#SEED}): the numbers are the same on every run.
 */
class BalancerTest {

  private static final int PICKS = 60_000;

  /** Shares of the picks by label; {@code open}: each pick stays connected (least-connections, random-two). */
  private static Map<String, Integer> spread(UpstreamPool pool, int picks, boolean open) {
    Map<String, Integer> counts = new HashMap<>();
    Random sources = new Random(7);
    for (int i = 0; i < picks; i++) {
      Upstream u = Pools.pick(pool, Pools.randomSource(sources));
      if (open) {
        pool.opened(u);
      }
      counts.merge(u.label(), 1, Integer::sum);
    }
    return counts;
  }

  private static void assertShares(Map<String, Integer> counts, double tolerance) {
    double total = counts.values().stream().mapToInt(Integer::intValue).sum();
    assertThat(counts.get("10.0.0.1:5432") / total).as("share of weight 1").isCloseTo(1 / 6.0, within(tolerance));
    assertThat(counts.get("10.0.0.2:5432") / total).as("share of weight 2").isCloseTo(2 / 6.0, within(tolerance));
    assertThat(counts.get("10.0.0.3:5432") / total).as("share of weight 3").isCloseTo(3 / 6.0, within(tolerance));
  }

  @Test
  void roundRobinGivesEachUpstreamExactlyItsWeight() {
    Map<String, Integer> counts = spread(Pools.pool(BalanceAlgorithm.ROUND_ROBIN, 1, 2, 3), PICKS, false);
    assertThat(counts).containsEntry("10.0.0.1:5432", 10_000).containsEntry("10.0.0.2:5432", 20_000)
      .containsEntry("10.0.0.3:5432", 30_000);
  }

  @Test
  void roundRobinInterleavesPicksSmoothlyAsNginxDoes() {
    UpstreamPool pool = Pools.pool(BalanceAlgorithm.ROUND_ROBIN, 5, 1, 1);
    StringBuilder seq = new StringBuilder();
    for (int i = 0; i < 14; i++) {
      seq.append((char) ('a' + Pools.pick(pool, "c").label().charAt(7) - '1'));
    }
    assertThat(seq.toString()).isEqualTo("aabacaa" + "aabacaa");
  }

  @Test
  void roundRobinOnAnotherThreadStartsFurtherOn() throws Exception {
    UpstreamPool pool = Pools.pool(BalanceAlgorithm.ROUND_ROBIN, 1, 1, 1);
    String first = Pools.pick(pool, "c").label();
    String[] other = new String[1];
    Thread t = new Thread(() -> other[0] = Pools.pick(pool, "c").label());
    t.start();
    t.join();
    assertThat(other[0]).as("the second thread's first pick").isNotEqualTo(first);
  }

  @Test
  void leastConnectionsKeepsActiveConnectionsProportionalToWeight() {
    UpstreamPool pool = Pools.pool(BalanceAlgorithm.LEAST_CONNECTIONS, 1, 2, 3);
    Map<String, Integer> counts = spread(pool, PICKS, true);
    assertThat(counts.get("10.0.0.1:5432")).isCloseTo(10_000, within(1));
    assertThat(counts.get("10.0.0.2:5432")).isCloseTo(20_000, within(1));
    assertThat(counts.get("10.0.0.3:5432")).isCloseTo(30_000, within(1));
  }

  @Test
  void leastConnectionsPicksTheLeastLoadedPerWeightAndBreaksTiesRoundRobin() {
    UpstreamPool pool = Pools.pool(BalanceAlgorithm.LEAST_CONNECTIONS, 1, 1, 1);
    List<Upstream> ups = pool.upstreams();
    pool.opened(ups.get(0));
    pool.opened(ups.get(1));
    assertThat(Pools.pick(pool, "c")).isSameAs(ups.get(2));
    assertThat(Pools.pick(pool, "c")).isSameAs(ups.get(2));

    pool.opened(ups.get(2));
    Set<String> tiedPicks = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      tiedPicks.add(Pools.pick(pool, "c").label());
    }
    assertThat(tiedPicks).as("three picks among three tied upstreams take turns").hasSize(3);
  }

  @Test
  void randomTwoFollowsTheWeightsWhenLoadsAreEqual() {
    assertShares(spread(Pools.pool(BalanceAlgorithm.RANDOM_TWO, 1, 2, 3), PICKS, false), 0.01);
  }

  @Test
  void randomTwoKeepsLoadPerWeightEvenWhenConnectionsStay() {
    assertShares(spread(Pools.pool(BalanceAlgorithm.RANDOM_TWO, 1, 2, 3), PICKS, true), 0.002);
  }

  @Test
  void randomTwoPrefersTheLessLoadedOfTwo() {
    UpstreamPool pool = Pools.pool(BalanceAlgorithm.RANDOM_TWO, 1, 1);
    Upstream busy = pool.upstreams().get(0);
    for (int i = 0; i < 100; i++) {
      pool.opened(busy);
    }
    for (int i = 0; i < 50; i++) {
      assertThat(Pools.pick(pool, "c")).isNotSameAs(busy);
    }
  }

  @Test
  void sourceHashSpreadsSourcesByWeight() {
    assertShares(spread(Pools.pool(BalanceAlgorithm.SOURCE_HASH, 1, 2, 3), PICKS, false), 0.01);
  }

  @ParameterizedTest
  @EnumSource(BalanceAlgorithm.class)
  void eachRetryGoesToAnUpstreamNotYetTriedWhileOneRemains(BalanceAlgorithm balance) {
    UpstreamPool pool = Pools.pool(balance, 1, 2, 3, 1);
    Random sources = new Random(11);
    for (int client = 0; client < 500; client++) {
      String source = Pools.randomSource(sources);
      Tried tried = new Tried();
      List<Upstream> attempts = new ArrayList<>();
      for (int attempt = 0; attempt < 6; attempt++) {
        Upstream u = pool.choose(source, tried);
        pool.opened(u);
        pool.connectSucceeded(u);
        attempts.add(u);
      }
      assertThat(new HashSet<>(attempts.subList(0, 4))).as("the first four attempts of %s", source).hasSize(4);
      assertThat(tried.count()).isEqualTo(4);
      for (Upstream u : attempts) {
        pool.closed(u);
      }
    }
    assertThat(pool.upstreams()).allMatch(u -> u.activeConnections() == 0);
  }

  @Test
  void sourceHashRetriesFollowTheClientsOwnOrderOfPreference() {
    UpstreamPool a = Pools.pool(BalanceAlgorithm.SOURCE_HASH, 1, 1, 1, 1);
    UpstreamPool b = Pools.pool(BalanceAlgorithm.SOURCE_HASH, 1, 1, 1, 1);
    Tried ta = new Tried();
    Tried tb = new Tried();
    for (int i = 0; i < 4; i++) {
      assertThat(a.choose("192.0.2.7", ta).label()).as("attempt %d on two replicas", i)
        .isEqualTo(b.choose("192.0.2.7", tb).label());
    }
  }
}
