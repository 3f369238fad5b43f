package dev.ferry.upstream;

import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Source hashing moves as few clients as possible when the pool changes: measured over 10,000 random IPv4 and IPv6
 * sources with N = 5 upstreams.
 */
class SourceHashStabilityTest {

  private static final int SOURCES = 10_000;

  private static List<String> sources() {
    Random random = new Random(20261201);
    List<String> list = new ArrayList<>();
    for (int i = 0; i < SOURCES; i++) {
      list.add(Pools.randomSource(random));
    }
    return list;
  }

  private static Map<String, String> placement(UpstreamPool pool, List<String> sources) {
    Map<String, String> where = new HashMap<>();
    for (String s : sources) {
      where.put(s, Pools.pick(pool, s).label());
    }
    return where;
  }

  private static PoolOptions five() {
    return Pools.options(BalanceAlgorithm.SOURCE_HASH, 1, 1, 1, 1, 1);
  }

  @Test
  void addingASixthUpstreamMovesAboutOneSixthOfTheSourcesAllToIt() {
    List<String> sources = sources();
    UpstreamPool pool = Pools.pool(five(), new ManualTicker());
    Map<String, String> before = placement(pool, sources);
    List<WeightedUpstream> six = new ArrayList<>(five().upstreams());
    six.add(WeightedUpstream.of(new UpstreamAddress("10.0.0.6", 5432)));
    pool.replace(pool.options().withUpstreams(six));

    Map<String, String> after = placement(pool, sources);

    int moved = 0;
    for (String s : sources) {
      if (!before.get(s).equals(after.get(s))) {
        moved++;
        assertThat(after.get(s)).as("a moved source goes to the new upstream").isEqualTo("10.0.0.6:5432");
      }
    }
    double fraction = moved / (double) SOURCES;
    assertThat(fraction).as("moved fraction, ideal 1/6").isBetween(1 / 6.0 - 0.02, 1 / 6.0 + 0.02);
  }

  @Test
  void removingAnUpstreamMovesOnlyItsOwnSources() {
    List<String> sources = sources();
    UpstreamPool pool = Pools.pool(five(), new ManualTicker());
    Map<String, String> before = placement(pool, sources);
    pool.replace(pool.options().withUpstreams(five().upstreams().subList(0, 4)));

    Map<String, String> after = placement(pool, sources);

    int moved = 0;
    for (String s : sources) {
      if (!before.get(s).equals(after.get(s))) {
        moved++;
        assertThat(before.get(s)).as("only the removed upstream's sources move").isEqualTo("10.0.0.5:5432");
      }
    }
    assertThat(moved / (double) SOURCES).as("moved fraction, ideal 1/5").isBetween(0.18, 0.22);
  }

  @Test
  void anEjectedUpstreamsSourcesMoveAwayAndComeBackWhenItReturns() {
    List<String> sources = sources();
    ManualTicker ticker = new ManualTicker();
    UpstreamPool pool = Pools.pool(five(), ticker);
    Map<String, String> before = placement(pool, sources);
    Upstream third = pool.upstream("10.0.0.3:5432");
    Pools.eject(pool, third);

    Map<String, String> during = placement(pool, sources);
    for (String s : sources) {
      if (before.get(s).equals("10.0.0.3:5432")) {
        assertThat(during.get(s)).isNotEqualTo("10.0.0.3:5432");
      } else {
        assertThat(during.get(s)).as("a source of another upstream stays").isEqualTo(before.get(s));
      }
    }

    ticker.advance(pool.options().passive().ejectionTime().toMillis(), TimeUnit.MILLISECONDS);
    assertThat(placement(pool, sources)).as("back where they were").isEqualTo(before);
  }

  @Test
  void aDrainedUpstreamsSourcesMoveAndTheRestStay() {
    List<String> sources = sources();
    UpstreamPool pool = Pools.pool(five(), new ManualTicker());
    Map<String, String> before = placement(pool, sources);
    pool.drain("10.0.0.1:5432");

    Map<String, String> during = placement(pool, sources);
    for (String s : sources) {
      if (!before.get(s).equals("10.0.0.1:5432")) {
        assertThat(during.get(s)).isEqualTo(before.get(s));
      }
    }
    assertThat(during).doesNotContainValue("10.0.0.1:5432");
  }

  @Test
  void doublingAWeightTakesSourcesOnlyFromTheOthers() {
    List<String> sources = sources();
    UpstreamPool pool = Pools.pool(five(), new ManualTicker());
    Map<String, String> before = placement(pool, sources);
    pool.replace(pool.options().withUpstreams(Pools.weighted(2, 1, 1, 1, 1)));

    Map<String, String> after = placement(pool, sources);

    int moved = 0;
    for (String s : sources) {
      if (!before.get(s).equals(after.get(s))) {
        moved++;
        assertThat(after.get(s)).isEqualTo("10.0.0.1:5432");
      }
    }
    // From 1/5 to 2/6 of the sources: 2/15 of them move, all to the heavier upstream.
    assertThat(moved / (double) SOURCES).isBetween(2 / 15.0 - 0.02, 2 / 15.0 + 0.02);
  }
}
