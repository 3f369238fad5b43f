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
 * scrape: up, draining, active connections, connects by outcome, ejections and checks by every {@link CheckResult}
 * (at 0 while active checks are off). Labels are the route name and the configured {@code host:port} only, never a
 * client.
 * <p>
 * Threading: Micrometer's meters are thread-safe; {@link #remove} is called under the pool's lock.
 */
final class UpstreamMeters {

  private final MeterRegistry registry;
  private final String route;
  private final String upstream;
  private final List<Meter> meters = new ArrayList<>();
  private final Counter connectSuccess;
  private final Counter connectFailure;
  private final Counter ejections;
  private final Map<CheckResult, Counter> checks;

  UpstreamMeters(MeterRegistry registry, String route, Upstream u, Ticker ticker) {
    this.registry = registry;
    this.route = route;
    this.upstream = u.label();
    // Strong references: Micrometer holds gauge state weakly by default, and the pool may be the only holder.
    meters.add(Gauge.builder(MetricNames.UPSTREAM_UP, u, x -> x.eligible(ticker.nanos()) ? 1 : 0)
      .description("1 while the upstream is eligible for new clients: ready, healthy, not ejected")
      .tags(MetricNames.TAG_ROUTE, route, MetricNames.TAG_UPSTREAM, upstream).strongReference(true)
      .register(registry));
    // Apart from ferry_upstream_up, so that an alert on an upstream that is down can leave an operator's drain alone.
    meters.add(Gauge.builder(MetricNames.UPSTREAM_DRAINING, u, x -> x.draining() ? 1 : 0)
      .description("1 while an operator drains the upstream: no new clients, open ones continue")
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
    // Always, at 0 while checks are off: a dashboard or an alert that reads them must find every series.
    Map<CheckResult, Counter> m = new EnumMap<>(CheckResult.class);
    for (CheckResult r : CheckResult.values()) {
      m.put(r, counter(MetricNames.HEALTH_CHECKS, "Active health checks by result", MetricNames.TAG_RESULT,
        r.label()));
    }
    checks = m;
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

  void connect(boolean success) {
    (success ? connectSuccess : connectFailure).increment();
  }

  void ejected() {
    ejections.increment();
  }

  void checked(CheckResult result) {
    checks.get(result).increment();
  }

  /** Removes every series of this upstream (it left the pool, or the pool closed). */
  void remove() {
    for (Meter m : meters) {
      registry.remove(m);
    }
    meters.clear();
  }
}
