package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pool as the listeners and the admin API use it: health, panic, drain, reload, describe() and meters. */
class UpstreamPoolTest {

  private static final ConnectException REFUSED = new ConnectException("Connection refused");

  private final ManualTicker ticker = new ManualTicker();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private UpstreamPool pool(PoolOptions options) {
    return new UpstreamPool("db", options, registry, ticker, Pools.SEED);
  }

  private double gauge(String name, String upstream) {
    return registry.get(name).tag(MetricNames.TAG_ROUTE, "db").tag(MetricNames.TAG_UPSTREAM, upstream).gauge()
      .value();
  }

  private double counter(String name, String upstream, String tag, String value) {
    return registry.get(name).tag(MetricNames.TAG_ROUTE, "db").tag(MetricNames.TAG_UPSTREAM, upstream)
      .tag(tag, value).counter().count();
  }

  @Test
  void aClientNeverSpendsAllItsAttemptsOnAnUpstreamThatRefusesEveryConnect() {
    // Issue #10: two upstreams, one refuses everything, 3 attempts per client; 600 clients over a minute.
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1));
    Upstream dead = pool.upstreams().get(0);
    int failedClients = 0;
    int wasted = 0;
    for (int client = 0; client < 600; client++) {
      ticker.advance(100, TimeUnit.MILLISECONDS);
      Tried tried = new Tried();
      boolean connected = false;
      for (int attempt = 0; attempt < 3 && !connected; attempt++) {
        Upstream u = pool.choose("198.51.100." + client % 200, tried);
        pool.opened(u);
        if (u == dead) {
          wasted++;
          pool.connectFailed(u, REFUSED);
          pool.closed(u);
        } else {
          pool.connectSucceeded(u);
          connected = true;
        }
      }
      failedClients += connected ? 0 : 1;
    }
    assertThat(failedClients).isZero();
    // 3 failures eject it for 10 s; back on probation its first failure ejects it for 20 s, then 40 s, which
    // outlasts the minute: 5 of 1,800 possible attempts went to the dead upstream, each followed by a retry.
    assertThat(wasted).isEqualTo(3 + 2);
    assertThat(registry.get(MetricNames.UPSTREAM_EJECTIONS).tag(MetricNames.TAG_UPSTREAM, dead.label()).counter()
      .count()).isEqualTo(3);
  }

  @Test
  void anEjectedUpstreamGetsNoClientsUntilItsEjectionExpires() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1, 1));
    Upstream bad = pool.upstreams().get(1);
    Pools.eject(pool, bad);
    assertThat(gauge(MetricNames.UPSTREAM_UP, bad.label())).isZero();

    for (int i = 0; i < 30; i++) {
      assertThat(Pools.pick(pool, "c")).isNotSameAs(bad);
    }
    ticker.advance(10, TimeUnit.SECONDS);
    assertThat(gauge(MetricNames.UPSTREAM_UP, bad.label())).isEqualTo(1);
    Set<Upstream> picked = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      picked.add(Pools.pick(pool, "c"));
    }
    assertThat(picked).contains(bad);
  }

  @Test
  void panicSpreadsOverEveryUpstreamWhenTooFewAreHealthyAndEndsWhenTheyRecover() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1, 1, 1));
    List<Upstream> ups = pool.upstreams();
    Pools.eject(pool, ups.get(0));
    Pools.eject(pool, ups.get(1));
    assertThat(pool.inPanic()).as("2 of 4 healthy is not below 50 %").isFalse();

    Pools.eject(pool, ups.get(2));

    assertThat(pool.inPanic()).isTrue();
    assertThat(registry.get(MetricNames.ROUTE_PANIC).tag(MetricNames.TAG_ROUTE, "db").gauge().value()).isEqualTo(1);
    Set<Upstream> picked = new HashSet<>();
    for (int i = 0; i < 8; i++) {
      picked.add(Pools.pick(pool, "c"));
    }
    assertThat(picked).as("in panic, ejected upstreams take clients too").containsExactlyInAnyOrderElementsOf(ups);
    assertThat(pool.panicEntries()).isEqualTo(1);

    ticker.advance(10, TimeUnit.SECONDS);
    assertThat(pool.inPanic()).as("the ejections expired").isFalse();
    assertThat(registry.get(MetricNames.ROUTE_PANIC).tag(MetricNames.TAG_ROUTE, "db").gauge().value()).isZero();

    for (int i = 0; i < 3; i++) {
      pool.connectFailed(ups.get(i), REFUSED); // on probation: one failure each ejects again
    }
    assertThat(pool.inPanic()).isTrue();
    assertThat(pool.panicEntries()).as("each entry counted once").isEqualTo(2);
    assertThat(registry.get(MetricNames.ROUTE_PANIC_ENTRIES).counter().count()).isEqualTo(2);
  }

  @Test
  void withPanicThresholdZeroNoHealthyUpstreamMeansNoUpstream() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1).withPanicThreshold(0));
    Pools.eject(pool, pool.upstreams().get(0));
    assertThat(Pools.pick(pool, "c")).isNull();
    assertThat(pool.inPanic()).isFalse();
  }

  @Test
  void aSingleUpstreamThatFailsStillGetsClientsThroughPanic() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1));
    Pools.eject(pool, pool.upstreams().get(0));
    assertThat(Pools.pick(pool, "c")).isSameAs(pool.upstreams().get(0));
  }

  @Test
  void aDrainedUpstreamGetsNoNewClientsWhileItsOpenConnectionsContinue() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.LEAST_CONNECTIONS, 1, 1));
    Upstream a = pool.upstreams().get(0);
    pool.opened(a);

    assertThat(pool.drain(a.label())).isTrue();

    for (int i = 0; i < 10; i++) {
      assertThat(Pools.pick(pool, "c")).isNotSameAs(a);
    }
    assertThat(a.activeConnections()).isEqualTo(1);
    assertThat(gauge(MetricNames.UPSTREAM_UP, a.label())).isZero();
    assertThat(gauge(MetricNames.UPSTREAM_ACTIVE_CONNECTIONS, a.label())).isEqualTo(1);
    assertThat(pool.inPanic()).as("draining is the operator's choice, not ill health").isFalse();

    assertThat(pool.ready(a.label())).isTrue();
    Upstream b = pool.upstreams().get(1);
    assertThat(Pools.pick(pool, "c")).as("a has 1 connection, b none").isSameAs(b);
    pool.opened(b);
    pool.opened(b);
    assertThat(Pools.pick(pool, "c")).as("ready again: the least loaded").isSameAs(a);
  }

  @Test
  void drainAndReadyOfAnUnknownLabelReturnFalse() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1));
    assertThat(pool.drain("10.9.9.9:1")).isFalse();
    assertThat(pool.ready("10.9.9.9:1")).isFalse();
  }

  @Test
  void whenEveryUpstreamIsDrainedNoneIsChosen() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1));
    pool.drain("10.0.0.1:5432");
    pool.drain("10.0.0.2:5432");
    assertThat(Pools.pick(pool, "c")).isNull();
  }

  @Test
  void replaceKeepsTheStateOfUpstreamsThatStayAndStartsNewOnesFresh() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1));
    Upstream stays = pool.upstream("10.0.0.1:5432");
    Upstream leaves = pool.upstream("10.0.0.2:5432");
    Pools.eject(pool, stays);
    pool.opened(stays);
    pool.opened(leaves);
    pool.drain(leaves.label());

    List<WeightedUpstream> next = List.of(new WeightedUpstream(new UpstreamAddress("10.0.0.1", 5432), 3),
      WeightedUpstream.of(new UpstreamAddress("10.0.0.9", 5432)));
    pool.replace(pool.options().withUpstreams(next).withBalance(BalanceAlgorithm.LEAST_CONNECTIONS));

    assertThat(pool.upstream("10.0.0.1:5432")).isSameAs(stays);
    assertThat(stays.ejected(ticker.nanos())).as("still ejected").isTrue();
    assertThat(stays.activeConnections()).isEqualTo(1);
    assertThat(stays.consecutiveFailures()).isEqualTo(3);
    Upstream fresh = pool.upstream("10.0.0.9:5432");
    assertThat(fresh.eligible(ticker.nanos())).isTrue();
    assertThat(fresh.activeConnections()).isZero();
    assertThat(pool.upstream("10.0.0.2:5432")).isNull();
    assertThat(pool.describe().getJsonArray("upstreams").getJsonObject(0).getInteger("weight")).isEqualTo(3);
    assertThat(pool.describe().getString("balance")).isEqualTo("least-connections");

    pool.closed(leaves);
    assertThat(leaves.activeConnections()).as("a removed upstream's connection closes without harm").isZero();
    assertThat(registry.find(MetricNames.UPSTREAM_UP).tag(MetricNames.TAG_UPSTREAM, "10.0.0.2:5432").meters())
      .as("a removed upstream's meters are gone").isEmpty();
    assertThat(registry.find(MetricNames.UPSTREAM_CONNECTS).tag(MetricNames.TAG_UPSTREAM, "10.0.0.1:5432")
      .counters()).as("a kept upstream keeps its counts").anyMatch(c -> c.count() == 3);
    assertThat(gauge(MetricNames.UPSTREAM_UP, "10.0.0.9:5432")).isEqualTo(1);
  }

  @Test
  void aPoolIsNeverEmpty() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1));
    assertThatThrownBy(() -> pool.replace(pool.options().withUpstreams(List.of())))
      .isInstanceOf(IllegalArgumentException.class);
    assertThat(pool.upstreams()).hasSize(1);
    assertThatThrownBy(() -> new UpstreamPool("empty", PoolOptions.of(List.of()), registry, ticker, 1))
      .isInstanceOf(IllegalArgumentException.class);
    assertThat(registry.find(MetricNames.ROUTE_PANIC_ENTRIES).tag(MetricNames.TAG_ROUTE, "empty").meters())
      .as("a pool refused at creation leaves no meter behind").isEmpty();
  }

  @Test
  void everySeriesExistsAtZeroFromCreationWithOnlyConfiguredLabels() {
    pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 2).withActive(ActiveHealthOptions.DEFAULTS.withEnabled(true)));

    Set<String> upstreams = Set.of("10.0.0.1:5432", "10.0.0.2:5432");
    List<Meter> meters = registry.getMeters();
    for (String u : upstreams) {
      assertThat(gauge(MetricNames.UPSTREAM_UP, u)).isEqualTo(1);
      assertThat(gauge(MetricNames.UPSTREAM_ACTIVE_CONNECTIONS, u)).isZero();
      assertThat(counter(MetricNames.UPSTREAM_CONNECTS, u, MetricNames.TAG_OUTCOME, "success")).isZero();
      assertThat(counter(MetricNames.UPSTREAM_CONNECTS, u, MetricNames.TAG_OUTCOME, "failure")).isZero();
      assertThat(registry.get(MetricNames.UPSTREAM_EJECTIONS).tag(MetricNames.TAG_UPSTREAM, u).counter().count())
        .isZero();
      for (CheckResult r : CheckResult.values()) {
        assertThat(counter(MetricNames.HEALTH_CHECKS, u, MetricNames.TAG_RESULT, r.label())).isZero();
      }
    }
    assertThat(registry.get(MetricNames.ROUTE_PANIC).gauge().value()).isZero();
    assertThat(registry.get(MetricNames.ROUTE_PANIC_ENTRIES).counter().count()).isZero();
    assertThat(meters).hasSize(2 * (3 + 2 + 1 + CheckResult.values().length) + 2);
    Set<String> allowed = new HashSet<>(upstreams);
    allowed.addAll(Set.of("db", "success", "failure"));
    for (CheckResult r : CheckResult.values()) {
      allowed.add(r.label());
    }
    for (Meter m : meters) {
      for (Tag t : m.getId().getTags()) {
        assertThat(t.getKey()).isIn(MetricNames.TAG_ROUTE, MetricNames.TAG_UPSTREAM, MetricNames.TAG_OUTCOME,
          MetricNames.TAG_RESULT);
        assertThat(t.getValue()).as("label value of %s", m.getId()).isIn(allowed);
      }
    }
  }

  @Test
  void checkCountersExistAtZeroWhetherChecksAreOnOrOff() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1));
    assertThat(registry.find(MetricNames.HEALTH_CHECKS).counters()).hasSize(CheckResult.values().length)
      .allMatch(c -> c.count() == 0);
    pool.replace(pool.options().withActive(ActiveHealthOptions.DEFAULTS.withEnabled(true)));
    assertThat(registry.find(MetricNames.HEALTH_CHECKS).meters()).hasSize(CheckResult.values().length);
    pool.replace(pool.options().withActive(ActiveHealthOptions.DEFAULTS));
    assertThat(registry.find(MetricNames.HEALTH_CHECKS).meters()).hasSize(CheckResult.values().length);
  }

  @Test
  void closeRemovesEveryMeterOfThePool() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 1));
    pool.close();
    assertThat(registry.getMeters()).isEmpty();
  }

  @Test
  void describeShowsStateWeightConnectionsFailuresAndTheLastCheck() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1, 2, 1, 1)
      .withActive(ActiveHealthOptions.DEFAULTS.withEnabled(true)));
    List<Upstream> ups = pool.upstreams();
    Pools.eject(pool, ups.get(0));
    pool.opened(ups.get(1));
    pool.checked(ups.get(2), CheckResult.TIMEOUT, "no reply within 2000 ms");
    pool.drain(ups.get(3).label());

    JsonObject d = pool.describe();

    assertThat(d.getString("route")).isEqualTo("db");
    assertThat(d.getString("balance")).isEqualTo("round-robin");
    assertThat(d.getBoolean("panic")).as("1 of 3 non-draining upstreams healthy").isTrue();
    assertThat(d.getLong("panic_entries")).isEqualTo(1);
    assertThat(d.getInteger("panic_threshold_percent")).isEqualTo(50);
    assertThat(d.getInteger("healthy")).isEqualTo(1);
    assertThat(d.getInteger("non_draining")).isEqualTo(3);
    JsonObject ejected = d.getJsonArray("upstreams").getJsonObject(0);
    assertThat(ejected.getString("upstream")).isEqualTo("10.0.0.1:5432");
    assertThat(ejected.getString("state")).isEqualTo("ejected");
    assertThat(ejected.getLong("until_ms")).isEqualTo(ticker.epochMillis() + 10_000);
    assertThat(ejected.getInteger("consecutive_failures")).isEqualTo(3);
    assertThat(ejected.getInteger("ejections")).isEqualTo(1);
    assertThat(ejected.getString("last_failure")).isEqualTo("ConnectException: Connection refused");
    JsonObject up = d.getJsonArray("upstreams").getJsonObject(1);
    assertThat(up.getString("state")).isEqualTo("up");
    assertThat(up.getInteger("weight")).isEqualTo(2);
    assertThat(up.getInteger("active_connections")).isEqualTo(1);
    assertThat(up.containsKey("until_ms")).isFalse();
    assertThat(up.containsKey("last_check")).isFalse();
    JsonObject down = d.getJsonArray("upstreams").getJsonObject(2);
    assertThat(down.getString("state")).isEqualTo("down");
    assertThat(down.getJsonObject("last_check").getMap()).containsEntry("at_ms", ticker.epochMillis())
      .containsEntry("result", "timeout").containsEntry("detail", "no reply within 2000 ms");
    assertThat(d.getJsonArray("upstreams").getJsonObject(3).getString("state")).isEqualTo("draining");
  }

  @Test
  void anIpLiteralIsResolvedOnceAndAHostNameIsLeftToTheResolver() {
    UpstreamPool pool = pool(PoolOptions.of(List.of(new UpstreamAddress("db-0.db.svc", 5432),
      new UpstreamAddress("::1", 7001))));
    InetSocketAddress name = (InetSocketAddress) pool.upstream("db-0.db.svc:5432").socketAddress();
    InetSocketAddress literal = (InetSocketAddress) pool.upstream("[::1]:7001").socketAddress();
    assertThat(name.isUnresolved()).isTrue();
    assertThat(name.getHostString()).isEqualTo("db-0.db.svc");
    assertThat(literal.isUnresolved()).isFalse();
    assertThat(literal.getPort()).isEqualTo(7001);
  }

  @Test
  void aCloseWithoutAnOpenLeavesTheCountAtZero() {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1));
    Upstream u = pool.upstreams().get(0);
    pool.closed(u);
    assertThat(u.activeConnections()).isZero();
  }

  @Test
  void connectionsOpenedAndClosedOnManyThreadsBalanceBackToZero() throws Exception {
    UpstreamPool pool = pool(Pools.options(BalanceAlgorithm.LEAST_CONNECTIONS, 1, 2, 3));
    List<Thread> threads = new ArrayList<>();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int t = 0; t < 4; t++) {
      int id = t;
      threads.add(new Thread(() -> {
        try {
          java.util.Random random = new java.util.Random(id);
          List<Upstream> open = new ArrayList<>();
          for (int i = 0; i < 20_000; i++) {
            Upstream u = pool.choose("10.1.0." + id, new Tried());
            pool.opened(u);
            if (random.nextInt(10) == 0) {
              pool.connectFailed(u, REFUSED);
              pool.closed(u);
            } else {
              pool.connectSucceeded(u);
              open.add(u);
            }
            if (open.size() > 50) {
              pool.closed(open.remove(random.nextInt(open.size())));
            }
          }
          open.forEach(pool::closed);
        } catch (Throwable e) {
          errors.add(e);
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join(60_000);
    }
    assertThat(errors).isEmpty();
    assertThat(pool.upstreams()).allMatch(u -> u.activeConnections() == 0);
    double connects = registry.find(MetricNames.UPSTREAM_CONNECTS).counters().stream().mapToDouble(Counter::count)
      .sum();
    assertThat(connects).isEqualTo(80_000);
  }

  @Test
  void theConnectCounterSitsBesideTheConnectTimerInPrometheus() {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new FerryMetrics(prometheus).route("db").connectAttempt(true, 1_000_000);
    UpstreamPool pool = new UpstreamPool("db", Pools.options(BalanceAlgorithm.ROUND_ROBIN, 1), prometheus, ticker,
      Pools.SEED);
    pool.connectSucceeded(pool.upstreams().get(0));

    String scrape = prometheus.scrape();

    assertThat(scrape)
      .contains("ferry_upstream_connect_total{outcome=\"success\",route=\"db\",upstream=\"10.0.0.1:5432\"} 1.0")
      .contains("ferry_upstream_connect_seconds_count{outcome=\"success\",route=\"db\"} 1")
      .contains("ferry_upstream_up{route=\"db\",upstream=\"10.0.0.1:5432\"} 1.0")
      .contains("ferry_upstream_active_connections{route=\"db\",upstream=\"10.0.0.1:5432\"} 0.0")
      .contains("ferry_upstream_ejections_total{route=\"db\",upstream=\"10.0.0.1:5432\"} 0.0")
      .contains("ferry_route_panic{route=\"db\"} 0.0")
      .contains("ferry_route_panic_entries_total{route=\"db\"} 0.0");
    MeterRegistry asMicrometer = prometheus;
    assertThat(asMicrometer.find(MetricNames.UPSTREAM_UP).gauges()).extracting(Gauge::value).containsExactly(1.0);
  }
}
