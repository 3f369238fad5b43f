package dev.ferry.upstream;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A pool as {@code GET /routes} shows it, in the admin API's snake_case:
 * <pre>
 * {"route": "db", "balance": "round-robin", "panic": false, "panic_threshold_percent": 50, "panic_entries": 0,
 *  "healthy": 2, "non_draining": 3,
 *  "upstreams": [{"upstream": "10.0.0.1:5432", "state": "ejected", "until_ms": 1767225600000, "weight": 1,
 *                 "active_connections": 0, "consecutive_failures": 3, "ejections": 1,
 *                 "last_failure": "ConnectException: Connection refused",
 *                 "last_check": {"at_ms": 1767225590000, "result": "passed", "detail": "connected"}}]}
 * </pre>
 * {@code state} is the first that applies of {@code draining}, {@code down} (active checks), {@code ejected}
 * (passive, with {@code until_ms}, epoch milliseconds), {@code up}. {@code last_failure} and {@code last_check}
 * appear once there is one.
 */
final class PoolDescription {

  private PoolDescription() {
  }

  static JsonObject of(UpstreamPool pool, Members m, long nowNanos, long nowMillis) {
    JsonArray ups = new JsonArray();
    int healthy = 0;
    int nonDraining = 0;
    for (int s : m.order) {
      Upstream u = m.bySlot[s];
      if (!u.draining()) {
        nonDraining++;
        if (u.healthy(nowNanos)) {
          healthy++;
        }
      }
      ups.add(upstream(u, m.weight[s], nowNanos, nowMillis));
    }
    return new JsonObject()
      .put("route", pool.route())
      .put("balance", m.algorithm.configValue())
      .put("panic", pool.inPanic())
      .put("panic_threshold_percent", pool.options().panicThresholdPercent())
      .put("panic_entries", pool.panicEntries())
      .put("healthy", healthy)
      .put("non_draining", nonDraining)
      .put("upstreams", ups);
  }

  private static JsonObject upstream(Upstream u, int weight, long nowNanos, long nowMillis) {
    boolean ejected = u.ejected(nowNanos);
    String state = u.draining() ? "draining" : !u.up() ? "down" : ejected ? "ejected" : "up";
    JsonObject json = new JsonObject().put("upstream", u.label()).put("state", state);
    if (ejected) {
      json.put("until_ms", nowMillis + (u.ejectedUntil() - nowNanos) / 1_000_000);
    }
    json.put("weight", weight)
      .put("active_connections", u.activeConnections())
      .put("consecutive_failures", u.consecutiveFailures())
      .put("ejections", u.ejections());
    if (u.lastFailure() != null) {
      json.put("last_failure", u.lastFailure());
    }
    Upstream.LastCheck check = u.lastCheck();
    if (check != null) {
      json.put("last_check", new JsonObject().put("at_ms", check.atEpochMillis()).put("result",
        check.result().label()).put("detail", check.detail()));
    }
    return json;
  }
}
