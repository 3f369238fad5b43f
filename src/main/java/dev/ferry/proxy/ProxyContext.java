package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.metrics.FerryMetrics;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every listener instance of one Ferry shares: options, metrics, the routes, the process-wide connection
 * limits, the connection-id sequence (ids are unique in the process) and the drain tally. Thread-safe.
 */
public final class ProxyContext {

  private final FerryOptions options;
  private final FerryMetrics metrics;
  private final List<Route> routes;
  private final ConnectionLimits limits;
  private final AtomicLong ids = new AtomicLong();
  private final AtomicInteger listenerIndex = new AtomicInteger();
  private final AtomicInteger drained = new AtomicInteger();
  private final AtomicInteger forced = new AtomicInteger();

  public ProxyContext(FerryOptions options, FerryMetrics metrics, List<Route> routes) {
    this.options = options;
    this.metrics = metrics;
    this.routes = List.copyOf(routes);
    this.limits = new ConnectionLimits(options.limits().maxConnections(), 0);
  }

  /** A route at run time for {@code options}'s route of that name, with {@code pool} as its pool. */
  public static Route route(dev.ferry.config.RouteOptions options, dev.ferry.upstream.UpstreamPool pool, boolean echo,
                            FerryMetrics metrics) {
    return route(options, pool, echo, metrics, "");
  }

  /**
   * A route at run time; {@code keys} prefixes its keys in messages ({@code routes[2].}).
   *
   * @throws dev.ferry.config.ConfigException when its certificate, key or TLS settings do not load
   */
  public static Route route(dev.ferry.config.RouteOptions options, dev.ferry.upstream.UpstreamPool pool, boolean echo,
                            FerryMetrics metrics, String keys) {
    return new Route(options, pool, echo, metrics.route(options.name()), keys);
  }

  ConnectionLimits limits() {
    return limits;
  }

  public FerryOptions options() {
    return options;
  }

  public FerryMetrics metrics() {
    return metrics;
  }

  public List<Route> routes() {
    return routes;
  }

  /** The route of this name, or null. */
  public Route route(String name) {
    for (Route r : routes) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    return null;
  }

  long nextId() {
    return ids.incrementAndGet();
  }

  int nextListenerIndex() {
    return listenerIndex.getAndIncrement();
  }

  void drainTally(int drainedCount, int forcedCount) {
    drained.addAndGet(drainedCount);
    forced.addAndGet(forcedCount);
  }

  /** Connections that ended on their own while draining. */
  public int drained() {
    return drained.get();
  }

  /** Connections closed with reason SHUTDOWN when the drain timeout expired. */
  public int forced() {
    return forced.get();
  }
}
