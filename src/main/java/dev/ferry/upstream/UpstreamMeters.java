package dev.ferry.upstream;

import dev.ferry.vocabulary.Outcome;

import dev.ferry.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The meters of one upstream of one route, every series registered at creation so it exists at 0 from the first
 * scrape: up, active connections, connects by outcome, ejections and, while active checks are on, checks by every
 * {@link CheckResult}. Labels are the route name and the configured {@code host:port} only, never a client.
 * <p>
 * Threading: Micrometer's meters are thread-safe; {@link #checks} and {@link #remove} are called under the pool's
 * lock.
 */
final class UpstreamMeters {

  private final MeterRegistry registry;
  private final String route;
  private final String upstream;
  private final List<Meter> meters = new ArrayList<>();
  private final Counter connectSuccess;
  private final Counter connectFailure;
  private final Counter ejections;
  /** Present while active checks are on; replaced whole, so readers see a complete map or none. */
  private volatile Map<CheckResult, Counter> checks;

  UpstreamMeters(MeterRegistry registry, String route, Upstream u, Ticker ticker, boolean activeChecks) {
    this.registry = registry;
    this.route = route;
    this.upstream = u.label();
    // Strong references: Micrometer holds gauge state weakly by default, and the pool may be the only holder.
    meters.add(Gauge.builder(MetricNames.UPSTREAM_UP, u, x -> x.eligible(ticker.nanos()) ? 1 : 0)
      .description("1 while the upstream is eligible for new clients: ready, healthy, not ejected")
      .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_UPSTREAM, upstream).strongReference(true)
      .register(registry));
    meters.add(Gauge.builder(MetricNames.UPSTREAM_ACTIVE_CONNECTIONS, u, Upstream::activeConnections)
      .description("Clients assigned to the upstream and not yet done with it")
      .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_UPSTREAM, upstream).strongReference(true)
      .register(registry));
    connectSuccess = counter(MetricNames.UPSTREAM_CONNECTS, "Upstream connect attempts by upstream",
      MetricNames.TAG_OUTCOME, Outcome.SUCCESS.label());
    connectFailure = counter(MetricNames.UPSTREAM_CONNECTS, "Upstream connect attempts by upstream",
      MetricNames.TAG_OUTCOME, Outcome.FAILURE.label());
    ejections = counter(MetricNames.UPSTREAM_EJECTIONS, "Passive-health ejections of the upstream", null, null);
    checks(activeChecks);
  }

  private Counter counter(String name, String description, String tag, String value) {
    Counter.Builder b = Counter.builder(name).description(description)
      .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_UPSTREAM, upstream);
    if (tag != null) {
      b.tag(tag, value);
    }
    Counter c = b.register(registry);
    meters.add(c);
    return c;
  }

  /** Registers the check counters when checks are on, removes them when off. */
  void checks(boolean on) {
    if (on == (checks != null)) {
      return;
    }
    if (!on) {
      for (Counter c : checks.values()) {
        registry.remove(c);
        meters.remove(c);
      }
      checks = null;
      return;
    }
    Map<CheckResult, Counter> m = new EnumMap<>(CheckResult.class);
    for (CheckResult r : CheckResult.values()) {
      m.put(r, counter(MetricNames.HEALTH_CHECKS, "Active health checks by result", MetricNames.TAG_RESULT,
        r.label()));
    }
    checks = m;
  }

  void connect(boolean success) {
    (success ? connectSuccess : connectFailure).increment();
  }

  void ejected() {
    ejections.increment();
  }

  void checked(CheckResult result) {
    Map<CheckResult, Counter> m = checks;
    if (m != null) {
      m.get(result).increment();
    }
  }

  /** Removes every series of this upstream (it left the pool, or the pool closed). */
  void remove() {
    for (Meter m : meters) {
      registry.remove(m);
    }
    meters.clear();
    checks = null;
  }
}
