package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What every listener instance of one Ferry shares: options, metrics, the upstream list, the connection-id
 * sequence (ids are unique in the process) and the drain tally. Thread-safe.
 */
public final class ProxyContext {

  private final FerryOptions options;
  private final FerryMetrics metrics;
  // Replaced whole by upstreams(List) on a config reload; readers take one snapshot per connect.
  private volatile List<UpstreamAddress> upstreams;
  private final AtomicLong ids = new AtomicLong();
  private final AtomicInteger listenerIndex = new AtomicInteger();
  private final AtomicInteger drained = new AtomicInteger();
  private final AtomicInteger forced = new AtomicInteger();
  private final ConnectionLimits limits;
  /** The port listener 0 bound (the proxy's port): with port 0, the other listeners bind the same one. */
  private final Promise<Integer> bound = Promise.promise();

  public ProxyContext(FerryOptions options, FerryMetrics metrics, List<UpstreamAddress> upstreams) {
    if (upstreams.isEmpty()) {
      throw new IllegalArgumentException("no upstream to proxy to");
    }
    this.options = options;
    this.metrics = metrics;
    this.upstreams = List.copyOf(upstreams);
    this.limits = new ConnectionLimits(options.maxConnections(), options.maxConnectionsPerSource());
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

  /** The current upstream list: immutable and never empty; a reload replaces it, connections keep their upstream. */
  public List<UpstreamAddress> upstreams() {
    return upstreams;
  }

  /** Replaces the upstream list (config reload); new connects use it, open connections are not touched. */
  public void upstreams(List<UpstreamAddress> replacement) {
    if (replacement.isEmpty()) {
      throw new IllegalArgumentException("no upstream to proxy to");
    }
    this.upstreams = List.copyOf(replacement);
  }

  long nextId() {
    return ids.incrementAndGet();
  }

  int nextListenerIndex() {
    return listenerIndex.getAndIncrement();
  }

  /** Listener 0's bind: completes (once) with the port it bound, or its bind failure. */
  void bound(AsyncResult<Integer> result) {
    if (result.succeeded()) {
      bound.tryComplete(result.result());
    } else {
      bound.tryFail(result.cause());
    }
  }

  Future<Integer> boundPortFuture() {
    return bound.future();
  }

  /** The port the proxy listens on (the actual one when configured as 0), or -1 before it is bound. */
  public int boundPort() {
    Future<Integer> f = bound.future();
    return f.succeeded() ? f.result() : -1;
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
