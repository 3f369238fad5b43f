package dev.ferry.registry;

import io.vertx.core.json.JsonObject;

/**
 * What is known about one connection, shared by reference between its owner and the registry.
 * <p>
 * Threading: the owning listener's event loop is the only writer of the volatile fields; the registry and the
 * admin API only read them (a listing may be a moment stale). The final fields are set before the object is
 * published on the event bus.
 */
public final class ConnectionInfo {

  private final long id;
  private final String route;
  private final String client;
  private final long openedAtMillis;
  private final long openedAtNanos;

  private volatile String upstream;
  private volatile String stage = "CONNECTING";
  private volatile long bytesUpstream;
  private volatile long bytesDownstream;
  private volatile long connectNanos = -1;

  public ConnectionInfo(long id, String route, String client, long openedAtMillis, long openedAtNanos) {
    this.id = id;
    this.route = route;
    this.client = client;
    this.openedAtMillis = openedAtMillis;
    this.openedAtNanos = openedAtNanos;
  }

  public long id() {
    return id;
  }

  /** The name of the route that accepted it: a configured name, fit for a metric label. */
  public String route() {
    return route;
  }

  public String client() {
    return client;
  }

  public long openedAtNanos() {
    return openedAtNanos;
  }

  public String upstream() {
    return upstream;
  }

  public String stage() {
    return stage;
  }

  public long bytesUpstream() {
    return bytesUpstream;
  }

  public long bytesDownstream() {
    return bytesDownstream;
  }

  /** Time from accept to upstream connected, or -1 while not connected. */
  public long connectNanos() {
    return connectNanos;
  }

  // Owner-only writers.

  public void upstream(String upstream) {
    this.upstream = upstream;
  }

  public void stage(String stage) {
    this.stage = stage;
  }

  public void bytes(long upstream, long downstream) {
    this.bytesUpstream = upstream;
    this.bytesDownstream = downstream;
  }

  public void connected(long connectNanos) {
    this.connectNanos = connectNanos;
  }

  /** The listing entry of {@code GET /connections}. */
  public JsonObject toJson(String registryState, long nowNanos) {
    return new JsonObject()
      .put("id", id)
      .put("route", route)
      .put("client", client)
      .put("upstream", upstream)
      .put("state", registryState)
      .put("stage", stage)
      .put("opened_at_ms", openedAtMillis)
      .put("age_ms", (nowNanos - openedAtNanos) / 1_000_000)
      .put("bytes_upstream", bytesUpstream)
      .put("bytes_downstream", bytesDownstream);
  }
}
