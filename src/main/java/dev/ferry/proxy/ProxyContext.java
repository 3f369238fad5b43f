package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.LogThrottle;
import dev.ferry.vocabulary.AcceptErrorCause;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every listener instance of one Ferry shares: options, metrics, the routes, the process-wide connection
 * limits (lowered to fit the descriptor limit: {@link DescriptorBudget}), the connection-id sequence (ids are unique in the process) and the drain tally. Thread-safe.
 */
public final class ProxyContext {

  private final FerryOptions options;
  /** The transport in use (epoll or NIO), for what depends on it: SO_REUSEPORT's option, splice. */
  private final TransportMode transport;
  private final FerryMetrics metrics;
  private final List<Route> routes;
  private final ConnectionLimits limits;
  private final DescriptorBudget descriptors;
  private final LogThrottle<AcceptErrorCause> acceptErrorLog = AcceptErrors.throttle();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicInteger listenerIndex = new AtomicInteger();
  private final AtomicInteger drained = new AtomicInteger();
  private final AtomicInteger forced = new AtomicInteger();

  /**
   * @param descriptors the process's descriptor budget: the process's connection limit is
   *                    {@code limits.max-connections} lowered to what it leaves room for (options keep the configured
   *                    value)
   */
  public ProxyContext(FerryOptions options, FerryMetrics metrics, List<Route> routes, TransportMode transport,
                      DescriptorBudget descriptors) {
    this.options = options;
    this.transport = transport;
    this.metrics = metrics;
    this.routes = List.copyOf(routes);
    this.descriptors = descriptors;
    this.limits = new ConnectionLimits(descriptors.effectiveMaxConnections(), 0);
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

  TransportMode transport() {
    return transport;
  }

  ConnectionLimits limits() {
    return limits;
  }

  /** Every listener's accept failures share one log throttle: a line per cause per 10 s for the process. */
  LogThrottle<AcceptErrorCause> acceptErrorLog() {
    return acceptErrorLog;
  }

  /** The detail of a LIMIT close by the process's limit. */
  String processLimitDetail() {
    return descriptors.refusalDetail();
  }

  /** The connections the process admits at once (0: unlimited): {@code limits.max-connections}, or lower. */
  public int maxConnections() {
    return limits.maxTotal();
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
