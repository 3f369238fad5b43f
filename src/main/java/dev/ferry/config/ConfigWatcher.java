package dev.ferry.config;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-reads the config file every scan period and hands each route's changed, valid pool (its upstreams, weights,
 * balancing, health checks) to a callback; every other key, a route's listen address among them, is fixed until
 * restart.
 *
 * <p>Each scan goes through {@link ConfigLoader#load} (vertx-config's file store, then the same {@code FERRY_*}
 * overrides as at start-up), so a reload sees exactly what a restart would. A one-shot read per scan, rather than a
 * scanning {@code ConfigRetriever}, keeps a broken file to one log line: the retriever logs a stack trace on every
 * scan that fails.
 *
 * <p>Invariants: at most one read is in flight (the next scan is scheduled when a read completes); the callback
 * only ever receives, for a route that exists, a pool with upstreams that differs from the last one it received for
 * it (or the start-up one); a rejected or ignored file leaves the running configuration unchanged, and each distinct
 * problem is logged once.
 */
public final class ConfigWatcher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

  public static final Duration DEFAULT_SCAN_PERIOD = Duration.ofSeconds(2);

  private final Vertx vertx;
  private final String path;
  private final Map<String, String> env;
  private final Duration scanPeriod;
  private final BiConsumer<String, PoolOptions> onPool;
  // Touched only from the timer/load callbacks, which run one at a time (one read in flight).
  private FerryOptions applied;
  private JsonObject lastSeen;
  private String lastProblem;
  private volatile boolean closed;
  private volatile long timerId = -1;

  /**
   * @param running the options Ferry started with (the baseline for "changed")
   * @param onPool receives each route's new pool (by route name); called on a Vert.x event loop
   */
  public ConfigWatcher(Vertx vertx, String path, Map<String, String> env, FerryOptions running, Duration scanPeriod,
      BiConsumer<String, PoolOptions> onPool) {
    this.vertx = Objects.requireNonNull(vertx, "vertx");
    this.path = Objects.requireNonNull(path, "path");
    this.env = Map.copyOf(env);
    this.applied = Objects.requireNonNull(running, "running");
    this.lastSeen = running.toJson();
    this.scanPeriod = scanPeriod.isZero() || scanPeriod.isNegative() ? DEFAULT_SCAN_PERIOD : scanPeriod;
    this.onPool = Objects.requireNonNull(onPool, "onPool");
  }

  /** Starts scanning; the first scan runs one period from now. */
  public ConfigWatcher start() {
    log.info("conn=- config reload: watching {} every {} ms (each route's pool only)", path, scanPeriod.toMillis());
    schedule();
    return this;
  }

  private void schedule() {
    if (!closed) {
      timerId = vertx.setTimer(scanPeriod.toMillis(), t -> scan());
    }
  }

  private void scan() {
    if (closed) {
      return;
    }
    ConfigLoader.load(vertx, path, env).onComplete(ar -> {
      try {
        if (ar.succeeded()) {
          consider(ar.result());
        } else {
          reject(ar.cause());
        }
      } catch (RuntimeException e) {
        log.error("conn=- config reload: unexpected failure, keeping the running configuration", e);
      } finally {
        schedule();
      }
    });
  }

  private void consider(FerryOptions next) {
    JsonObject json = next.toJson();
    if (json.equals(lastSeen)) {
      return;
    }
    lastSeen = json;
    lastProblem = null;
    // Every key but the pools of routes that keep their name needs a restart (a listen address among them).
    List<String> restartKeys = differingKeys("", withoutPools(applied), withoutPools(next));
    List<String> echoRoutes = new ArrayList<>();
    for (RouteOptions running : applied.routes()) {
      RouteOptions wanted = next.route(running.name());
      if (wanted == null || wanted.pool().equals(running.pool())) {
        continue;
      }
      if (running.pool().upstreams().isEmpty() || wanted.pool().upstreams().isEmpty()) {
        // Valid at start-up, but switching a route to or from the embedded echo upstream is not a reload.
        echoRoutes.add(label(running) + "upstreams");
      }
    }
    if (!echoRoutes.isEmpty()) {
      reject(new ConfigException(echoRoutes.get(0),
          "changes to or from the embedded echo upstream (no upstreams) need a restart"));
      return;
    }
    if (!restartKeys.isEmpty()) {
      log.warn("conn=- config reload: {} changed: needs restart, ignored", String.join(", ", restartKeys));
    }
    for (RouteOptions running : applied.routes()) {
      RouteOptions wanted = next.route(running.name());
      if (wanted == null || wanted.pool().equals(running.pool())) {
        continue;
      }
      // Logged once applied: whoever reads the line (an operator, a test) finds the new pool in place.
      onPool.accept(running.name(), wanted.pool());
      List<UpstreamAddress> before = addresses(running.pool());
      List<UpstreamAddress> after = addresses(wanted.pool());
      if (!before.equals(after)) {
        log.info("conn=- config reload: {}upstreams {} -> {}", label(running), before, after);
      } else {
        log.info("conn=- config reload: {}pool {} applied", label(running),
          String.join(", ", differingKeys("", running.pool().toJson(), wanted.pool().toJson())));
      }
      applied = applied.withPool(running.name(), wanted.pool());
    }
  }

  private String label(RouteOptions route) {
    return applied.shorthand() ? "" : "routes[" + route.name() + "].";
  }

  private static List<UpstreamAddress> addresses(PoolOptions pool) {
    return pool.upstreams().stream().map(WeightedUpstream::address).toList();
  }

  /** The configuration in {@link FerryOptions#toJson()} shape without the pools, which a reload may change. */
  private static JsonObject withoutPools(FerryOptions options) {
    JsonObject json = options.toJson();
    JsonArray routes = json.getJsonArray("routes");
    for (JsonObject route : routes == null ? List.of(json) : routesOf(routes)) {
      PoolOptions.KEYS.forEach(route::remove);
    }
    return json;
  }

  private static List<JsonObject> routesOf(JsonArray routes) {
    List<JsonObject> list = new ArrayList<>();
    for (int i = 0; i < routes.size(); i++) {
      list.add(routes.getJsonObject(i));
    }
    return list;
  }

  private void reject(Throwable cause) {
    String problem = cause instanceof ConfigException ? cause.getMessage()
        : ConfigException.FILE_KEY + ": cannot load " + path + ": " + cause;
    if (!problem.equals(lastProblem)) {
      lastProblem = problem;
      log.warn("conn=- config reload rejected: {}", problem);
    }
    // Forget the last good file, so restoring it counts as a change and is applied (a no-op if nothing differs).
    lastSeen = null;
  }

  /** Dotted paths whose values differ between two configurations in {@link FerryOptions#toJson()} shape. */
  static List<String> differingKeys(String prefix, JsonObject a, JsonObject b) {
    List<String> keys = new ArrayList<>();
    TreeSet<String> names = new TreeSet<>(a.fieldNames());
    names.addAll(b.fieldNames());
    for (String name : names) {
      Object x = a.getValue(name);
      Object y = b.getValue(name);
      if (x instanceof JsonObject && y instanceof JsonObject) {
        keys.addAll(differingKeys(prefix + name + ".", (JsonObject) x, (JsonObject) y));
      } else if (!Objects.equals(x, y)) {
        keys.add(prefix + name);
      }
    }
    return keys;
  }

  /** Stops scanning; a read in flight completes without effect on the schedule. Idempotent. */
  @Override
  public void close() {
    closed = true;
    long id = timerId;
    if (id >= 0) {
      vertx.cancelTimer(id);
    }
  }
}
