package dev.ferry.proxy;

import dev.ferry.config.PoolOptions;
import dev.ferry.config.RouteOptions;
import dev.ferry.metrics.RouteMeters;
import dev.ferry.upstream.UpstreamPool;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Promise;

/**
 * One route at run time, shared by every listener instance: its options, its upstream pool, its connection limits,
 * its meters and the port it bound. Every listener binds the route's address (with {@code SO_REUSEPORT} when there
 * are several) and serves its clients on its own event loop.
 * <p>
 * Threading: immutable but for the pool (thread-safe, replaced in place by a reload) and the bound port (a promise,
 * completed once).
 */
public final class Route {

  private final RouteOptions options;
  private final UpstreamPool pool;
  private final boolean echo;
  private final ConnectionLimits limits;
  private final RouteMeters meters;
  /** The port listener 0 bound: with port 0, the other listeners bind the same one. */
  private final Promise<Integer> bound = Promise.promise();
  /** Its key prefix in messages: {@code routes[2].}, or none for the shorthand's one route. */
  private final String keys;
  /** The certificate of a {@code tls.mode: terminate} route, else null. */
  private final ServerTls serverTls;
  /** The PROXY header and TLS toward its upstreams, or null. */
  private final UpstreamStart upstreamStart;

  /**
   * @param pool the pool it starts with: the route's own, or the embedded echo upstream's when it has none
   *             ({@code echo})
   * @param keys its key prefix in messages ({@code routes[2].}, or empty)
   * @throws dev.ferry.config.ConfigException when its certificate, key or TLS settings do not load
   */
  Route(RouteOptions options, UpstreamPool pool, boolean echo, RouteMeters meters, String keys) {
    this.options = options;
    this.pool = pool;
    this.echo = echo;
    this.meters = meters;
    this.keys = keys;
    this.limits = new ConnectionLimits(options.limits().maxConnections(), options.limits().maxConnectionsPerSource());
    this.serverTls = options.tls().terminates() ? new ServerTls(options.name(), options.tls(), keys, meters) : null;
    this.upstreamStart = UpstreamStart.of(options, keys);
  }

  String keys() {
    return keys;
  }

  /** The certificate of a {@code tls.mode: terminate} route (reloadable), else null. */
  public ServerTls serverTls() {
    return serverTls;
  }

  UpstreamStart upstreamStart() {
    return upstreamStart;
  }

  public String name() {
    return options.name();
  }

  /** Its options; the pool's current ones are {@link UpstreamPool#options()}. */
  public RouteOptions options() {
    return options;
  }

  public UpstreamPool pool() {
    return pool;
  }

  /** True when it proxies to the embedded echo upstream (it has no upstreams of its own). */
  public boolean echo() {
    return echo;
  }

  ConnectionLimits limits() {
    return limits;
  }

  RouteMeters meters() {
    return meters;
  }

  /** A reload: new clients go to the new pool; open connections keep their upstream. */
  public void reload(PoolOptions next) {
    if (echo) {
      throw new IllegalStateException("route " + name() + " proxies to the embedded echo upstream");
    }
    pool.replace(next);
  }

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

  /** The port the route listens on (the actual one when configured as 0), or -1 before it is bound. */
  public int boundPort() {
    Future<Integer> f = bound.future();
    return f.succeeded() ? f.result() : -1;
  }

  @Override
  public String toString() {
    return name() + " " + options.listen() + " -> " + (echo ? "echo " : "") + pool.options().upstreams();
  }
}
