package dev.ferry.registry;

import io.vertx.core.json.JsonObject;

/**
 * What is known about one connection, shared by reference between its owner and the registry.
 * <p>
 * Threading: the owning listener's event loop is the only writer of the volatile fields; the registry and the
 * admin API only read them (a listing may be a moment stale). The final fields are set before the object is
 * published on the event bus. The route and the client may change once each, during the connection's preamble:
 * a PROXY protocol header names the real client (the TCP peer is kept as {@link #peer()}), and the ClientHello
 * chooses among the routes of a shared address.
 */
public final class ConnectionInfo {

  private final long id;
  private volatile String route;
  private volatile String client;
  private volatile String peer;
  private volatile String serverName;
  private volatile String tls;
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

  /**
   * The name of its route: a configured name, fit for a metric label. On an address several routes share, the
   * address's lead route until the ClientHello chose one.
   */
  public String route() {
    return route;
  }

  /** The client's address: the TCP peer's, or the one its PROXY protocol header gave. */
  public String client() {
    return client;
  }

  /** The TCP peer's address when a PROXY protocol header gave another client address, else null. */
  public String peer() {
    return peer;
  }

  /** The server name of the client's ClientHello (passthrough, or terminated TLS with SNI), or null. */
  public String serverName() {
    return serverName;
  }

  /** The protocol and cipher suite of a terminated TLS session ({@code TLSv1.3 TLS_AES_128_GCM_SHA256}), or null. */
  public String tls() {
    return tls;
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

  /** The route the ClientHello chose on a shared address (before {@code RouteChosen} is sent). */
  public void route(String route) {
    this.route = route;
  }

  /** A PROXY protocol header named {@code client}; the TCP peer's address becomes {@link #peer()}. */
  public void client(String client) {
    this.peer = this.client;
    this.client = client;
  }

  public void serverName(String serverName) {
    this.serverName = serverName;
  }

  public void tls(String tls) {
    this.tls = tls;
  }

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
    JsonObject json = new JsonObject()
      .put("id", id)
      .put("route", route)
      .put("client", client);
    putPreamble(json);
    return json
      .put("upstream", upstream)
      .put("state", registryState)
      .put("stage", stage)
      .put("opened_at_ms", openedAtMillis)
      .put("age_ms", (nowNanos - openedAtNanos) / 1_000_000)
      .put("bytes_upstream", bytesUpstream)
      .put("bytes_downstream", bytesDownstream);
  }

  /** What the preamble learnt, only where there is something: {@code peer}, {@code server_name}, {@code tls}. */
  public void putPreamble(JsonObject json) {
    if (peer != null) {
      json.put("peer", peer);
    }
    if (serverName != null) {
      json.put("server_name", serverName);
    }
    if (tls != null) {
      json.put("tls", tls);
    }
  }
}
