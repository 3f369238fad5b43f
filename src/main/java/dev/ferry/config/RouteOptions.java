package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One route: a listening address and the pool of upstreams it proxies to, with the settings of its connections.
 * <pre>
 *   routes:
 *     - name: postgres                    # [a-z0-9-], up to 63 characters: a metric label and an admin path
 *       listen: {host: 0.0.0.0, port: 5432}
 *       upstreams: ["db-0.db:5432", {address: "db-1.db:5432", weight: 2}]
 *       balance: least-connections        # and panic-threshold, health: see PoolOptions
 *       connect: {timeout: 2s, attempts: 3}
 *       idle-timeout: 30m
 *       buffer: {soft-limit: 64KiB, hard-limit: 1MiB}
 *       close: {half-close: true, half-closed-timeout: 1m, flush-timeout: 5s}
 *       limits: {max-connections: 500, max-connections-per-source: 50}
 *       splice: false
 *       proxy-protocol: {accept: off, send: off, header-timeout: 10s}
 *       tls: {mode: off, certificate: ..., key: ..., provider: auto, protocols: [TLSv1.3, TLSv1.2], ...}
 *       sni: []                           # passthrough routes sharing one address: the names each takes
 *       upstream-tls: {enabled: false, ca: ..., server-name: ..., verify-hostname: true}
 * </pre>
 * A route inherits every key it does not set from the top level, where the same keys are the defaults of all routes
 * (as HAProxy's {@code defaults} section); {@code listen} and {@code upstreams} are each route's own. Without
 * {@code routes}, the top level is the one route, named {@value #DEFAULT_NAME}.
 *
 * @param name        the route's name
 * @param listen      where it accepts clients
 * @param pool        its upstreams (empty: the embedded echo stands in), balancing and health
 * @param connect     connect timeout and attempts
 * @param idleTimeout a connection that moves no byte for this long ends with IDLE_TIMEOUT; 0 = never
 * @param buffer      per-direction buffer limits
 * @param close       half-close and the flush bound of a release
 * @param limits      the route's connection limits
 * @param splice      whether bulk streams move with splice(2) (native epoll only; never with TLS termination or
 *                    upstream TLS, whose bytes pass through a TLS engine)
 * @param proxyProtocol the PROXY protocol header the route accepts and sends
 * @param tls         TLS on the client side: terminate, passthrough, or off
 * @param sni         a passthrough route's server names (normalized); empty or {@code *}: the address's default
 * @param upstreamTls TLS to the upstreams
 */
public record RouteOptions(String name, ListenOptions listen, PoolOptions pool, ConnectOptions connect,
                           Duration idleTimeout, BufferOptions buffer, CloseOptions close, RouteLimits limits,
                           boolean splice, ProxyProtocolOptions proxyProtocol, TlsOptions tls, List<String> sni,
                           UpstreamTlsOptions upstreamTls) {

  public static final String DEFAULT_NAME = "default";
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  /** The keys of a route that are not its pool's. */
  static final Set<String> OWN_KEYS = Set.of("name", "listen", "connect", "idle-timeout", "buffer", "close", "limits",
      "splice", "proxy-protocol", "tls", "sni", "upstream-tls");
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  public RouteOptions {
    ConfigPaths.checkNotNull("name", name);
    if (!NAME.matcher(name).matches()) {
      throw new ConfigException("name", "must be 1 to 63 lowercase letters, digits and '-', not starting or ending "
          + "with '-', got " + Values.quote(name));
    }
    ConfigPaths.checkNotNull("listen", listen);
    ConfigPaths.checkNotNull("upstreams", pool);
    ConfigPaths.checkNotNull("connect", connect);
    ConfigPaths.checkNotNegative("idle-timeout", idleTimeout);
    ConfigPaths.checkNotNull("buffer", buffer);
    ConfigPaths.checkNotNull("close", close);
    ConfigPaths.checkNotNull("limits", limits);
    ConfigPaths.checkNotNull("proxy-protocol", proxyProtocol);
    ConfigPaths.checkNotNull("tls", tls);
    ConfigPaths.checkNotNull("upstream-tls", upstreamTls);
    sni = ServerNames.normalize(ConfigPaths.checkNotNull("sni", sni));
    if (!sni.isEmpty() && tls.mode() != TlsMode.PASSTHROUGH) {
      throw new ConfigException("sni", "only a route with tls.mode passthrough chooses by server name, got tls.mode "
          + tls.mode().configValue());
    }
  }

  /** True when the route relays through buffers whatever {@code splice} says: a TLS engine sees every byte. */
  public boolean tlsEngine() {
    return tls.terminates() || upstreamTls.enabled();
  }

  /** True when a client must send something before its own bytes: a PROXY header, a ClientHello, a handshake. */
  public boolean hasPreamble() {
    return proxyProtocol.accepts() || tls.mode() != TlsMode.OFF;
  }

  /** A route of these upstreams (may be empty) and every default: the shorthand as code builds it. */
  public static RouteOptions defaults() {
    return new RouteOptions(DEFAULT_NAME, ListenOptions.DEFAULTS, PoolOptions.of(List.of()),
        ConnectOptions.DEFAULTS, DEFAULT_IDLE_TIMEOUT, BufferOptions.DEFAULTS, CloseOptions.DEFAULTS,
        RouteLimits.DEFAULTS, false, ProxyProtocolOptions.DEFAULTS, TlsOptions.DEFAULTS, List.of(),
        UpstreamTlsOptions.DEFAULTS);
  }

  /**
   * Reads a route strictly from its mapping (keys other than the route's and its pool's are rejected; absent ones
   * keep their defaults).
   *
   * @param prefix the mapping's key ({@code routes[1]}), or {@code ""} for the top level's one route
   * @param name   the name when the mapping has none (the top level's route)
   */
  static RouteOptions fromJson(JsonObject json, String prefix, String name) {
    PoolOptions pool = PoolOptions.fromJson(json, prefix, OWN_KEYS);
    String given = ConfigReader.string(json.getValue("name"), ConfigPaths.path(prefix, "name"));
    ListenOptions listen = ListenOptions.fromJson(ConfigPaths.section(json, prefix, "listen", ListenOptions.KEYS),
        ConfigPaths.path(prefix, "listen"), ListenOptions.DEFAULTS);
    ConnectOptions connect = ConnectOptions.fromJson(ConfigPaths.section(json, prefix, "connect",
        ConnectOptions.KEYS), ConfigPaths.path(prefix, "connect"), ConnectOptions.DEFAULTS);
    Duration idle = ConfigReader.duration(json.getValue("idle-timeout"), ConfigPaths.path(prefix, "idle-timeout"));
    BufferOptions buffer = BufferOptions.fromJson(ConfigPaths.section(json, prefix, "buffer", BufferOptions.KEYS),
        ConfigPaths.path(prefix, "buffer"), BufferOptions.DEFAULTS);
    CloseOptions close = CloseOptions.fromJson(ConfigPaths.section(json, prefix, "close", CloseOptions.KEYS),
        ConfigPaths.path(prefix, "close"), CloseOptions.DEFAULTS);
    RouteLimits limits = RouteLimits.fromJson(ConfigPaths.section(json, prefix, "limits", RouteLimits.KEYS),
        ConfigPaths.path(prefix, "limits"), RouteLimits.DEFAULTS);
    Boolean splice = ConfigReader.bool(json.getValue("splice"), ConfigPaths.path(prefix, "splice"));
    ProxyProtocolOptions proxyProtocol = ProxyProtocolOptions.fromJson(ConfigPaths.section(json, prefix,
        "proxy-protocol", ProxyProtocolOptions.KEYS), ConfigPaths.path(prefix, "proxy-protocol"),
        ProxyProtocolOptions.DEFAULTS);
    TlsOptions tls = TlsOptions.fromJson(ConfigPaths.section(json, prefix, "tls", TlsOptions.KEYS),
        ConfigPaths.path(prefix, "tls"), TlsOptions.DEFAULTS);
    List<String> sni = ConfigReader.strings(json.getValue("sni"), ConfigPaths.path(prefix, "sni"));
    UpstreamTlsOptions upstreamTls = UpstreamTlsOptions.fromJson(ConfigPaths.section(json, prefix, "upstream-tls",
        UpstreamTlsOptions.KEYS), ConfigPaths.path(prefix, "upstream-tls"), UpstreamTlsOptions.DEFAULTS);
    try {
      return new RouteOptions(given != null ? given : name, listen, pool, connect,
          idle == null ? DEFAULT_IDLE_TIMEOUT : idle, buffer, close, limits, splice != null && splice,
          proxyProtocol, tls, sni == null ? List.of() : sni, upstreamTls);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  /** The route's mapping as YAML has it; {@link #fromJson} reads it back to an equal value. */
  JsonObject toJson() {
    JsonObject json = pool.toJson();
    return json.put("name", name).put("listen", listen.toJson()).put("connect", connect.toJson())
        .put("idle-timeout", Values.formatDuration(idleTimeout)).put("buffer", buffer.toJson())
        .put("close", close.toJson()).put("limits", limits.toJson()).put("splice", splice)
        .put("proxy-protocol", proxyProtocol.toJson()).put("tls", tls.toJson()).put("sni", new JsonArray(sni))
        .put("upstream-tls", upstreamTls.toJson());
  }

  /** Every key a route may have. */
  static Set<String> keys() {
    Set<String> all = new HashSet<>(OWN_KEYS);
    all.addAll(PoolOptions.KEYS);
    return all;
  }

  public RouteOptions withPool(PoolOptions replacement) {
    return new RouteOptions(name, listen, replacement, connect, idleTimeout, buffer, close, limits, splice,
        proxyProtocol, tls, sni, upstreamTls);
  }
}
