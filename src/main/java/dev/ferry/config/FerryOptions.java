package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The complete, typed, validated Ferry configuration: the process-wide sections and the routes.
 * <p>
 * Each YAML section is its own small options type that validates itself ({@link ListenOptions},
 * {@link ConnectOptions}, {@link BufferOptions}, {@link CloseOptions}, {@link RouteLimits}, {@link PoolOptions},
 * {@link AdminOptions}, {@link RegistryOptions}, {@link EchoOptions}, {@link ProcessLimits}); a route is made of the
 * same sections ({@link RouteOptions}). The rules that relate sections to each other are checked here, in the
 * canonical constructor, and nowhere else. {@link #fromJson} is the one way a configuration is read (defaults, the
 * file and the {@code FERRY_*} variables all arrive as one mapping): strict, failing with a {@link ConfigException}
 * that names the dotted key.
 *
 * @param admin        the admin endpoint
 * @param instances    listener event loops, 0..{@value #MAX_INSTANCES}; 0 = one per available processor
 * @param transport    auto, epoll or nio
 * @param registry     the connection registry
 * @param drainTimeout {@code shutdown.drain-timeout}: how long open connections may finish on shutdown, &gt;= 0
 * @param echo         the embedded echo upstream
 * @param accessLog    {@code log.access}: one JSON line per connection
 * @param limits       the process-wide limits
 * @param routes       at least one; names and listening addresses distinct
 * @param shorthand    true when the top level is the one route (no {@code routes} key): messages name its keys
 *                     without a prefix
 */
public record FerryOptions(AdminOptions admin, int instances, TransportMode transport, RegistryOptions registry,
                           Duration drainTimeout, EchoOptions echo, boolean accessLog, ProcessLimits limits,
                           List<RouteOptions> routes, boolean shorthand) {

  public static final int MAX_INSTANCES = 256;
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(20);

  private static final Set<String> GLOBAL_KEYS = Set.of("admin", "instances", "transport", "registry", "shutdown",
      "echo", "log", "limits", "routes");
  private static final Set<String> LIMITS_KEYS = Set.of("max-connections", "max-connections-per-source",
      "max-buffered-bytes");

  public FerryOptions {
    Objects.requireNonNull(admin, "admin");
    Objects.requireNonNull(transport, "transport");
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(echo, "echo");
    Objects.requireNonNull(limits, "limits");
    ConfigPaths.checkRange("instances", instances, 0, MAX_INSTANCES);
    ConfigPaths.checkNotNegative("shutdown.drain-timeout", drainTimeout);
    routes = List.copyOf(ConfigPaths.checkNotNull("routes", routes));
    if (routes.isEmpty()) {
      throw new ConfigException("routes", "must not be empty");
    }
    if (shorthand && routes.size() != 1) {
      throw new IllegalArgumentException("the shorthand is one route");
    }
    Map<String, Integer> names = new HashMap<>();
    for (int i = 0; i < routes.size(); i++) {
      RouteOptions r = routes.get(i);
      String at = shorthand ? "" : "routes[" + i + "].";
      Integer first = names.putIfAbsent(r.name(), i);
      if (first != null) {
        throw new ConfigException(at + "name", "duplicate of routes[" + first + "].name, got " + Values.quote(r.name()));
      }
      for (int j = 0; j < i; j++) {
        RouteOptions other = routes.get(j);
        if (sameAddress(r.listen(), other.listen()) && !SharedAddresses.mayShare(r, other)) {
          throw new ConfigException(at + "listen", "the same address as routes[" + j + "].listen ("
              + other.listen() + "), got " + r.listen() + "; only routes with tls.mode passthrough may share an "
              + "address (each taking its own sni names), on the same host and a fixed port");
        }
      }
      if (r.pool().upstreams().isEmpty() && !echo.enabled()) {
        throw new ConfigException(at + "upstreams", "must not be empty when echo.enabled is false");
      }
      if (r.splice() && transport == TransportMode.NIO) {
        throw new ConfigException(at + "splice", "requires the epoll transport, but transport is nio");
      }
      if (limits.maxBufferedBytes() < r.buffer().softLimit()) {
        throw new ConfigException("limits.max-buffered-bytes", "must not be less than " + at + "buffer.soft-limit ("
            + r.buffer().softLimit() + "), got " + limits.maxBufferedBytes());
      }
      if (registry.releaseTimeout().compareTo(r.close().flushTimeout()) <= 0) {
        throw new ConfigException("registry.release-timeout", "must be greater than " + at + "close.flush-timeout ("
            + Values.formatDuration(r.close().flushTimeout()) + "), got "
            + Values.formatDuration(registry.releaseTimeout()));
      }
    }
    SharedAddresses.check(routes);
  }

  /** Two listening addresses collide on one port unless both name different specific hosts (port 0 never does). */
  private static boolean sameAddress(ListenOptions a, ListenOptions b) {
    if (a.port() == 0 || a.port() != b.port()) {
      return false;
    }
    return a.host().equalsIgnoreCase(b.host()) || wildcard(a.host()) || wildcard(b.host());
  }

  private static boolean wildcard(String host) {
    return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
  }

  /** Every default: one route, named {@value RouteOptions#DEFAULT_NAME}, to the embedded echo upstream. */
  public static FerryOptions defaults() {
    return fromJson(new JsonObject());
  }

  /** Listener event loops: {@code instances}, or one per available processor when it is 0. */
  public int effectiveInstances() {
    return instances == 0 ? Runtime.getRuntime().availableProcessors() : instances;
  }

  /** The route of this name, or null. */
  public RouteOptions route(String name) {
    for (RouteOptions r : routes) {
      if (r.name().equals(name)) {
        return r;
      }
    }
    return null;
  }

  /** The same configuration with {@code route}'s pool replaced (a reload of its upstreams). */
  public FerryOptions withPool(String route, PoolOptions pool) {
    List<RouteOptions> replaced = new ArrayList<>(routes);
    replaced.replaceAll(r -> r.name().equals(route) ? r.withPool(pool) : r);
    return new FerryOptions(admin, instances, transport, registry, drainTimeout, echo, accessLog, limits, replaced,
        shorthand);
  }

  /**
   * Reads the YAML-shaped configuration strictly. Absent keys and {@code null} values keep their defaults. Without
   * {@code routes}, the top level is the one route; with it, the top level's route keys are every route's defaults,
   * except {@code listen} and {@code upstreams}, which each route gives itself.
   *
   * @throws ConfigException on the first problem found, naming the dotted key
   */
  public static FerryOptions fromJson(JsonObject json) {
    Objects.requireNonNull(json, "json");
    Set<String> allowed = new HashSet<>(GLOBAL_KEYS);
    allowed.addAll(RouteOptions.keys());
    allowed.remove("name");
    ConfigReader.checkKeys(json, "", allowed);

    AdminOptions admin = AdminOptions.fromJson(ConfigPaths.section(json, "", "admin", AdminOptions.KEYS), "admin");
    Integer instances = ConfigPaths.integer(json.getValue("instances"), "instances", 0, MAX_INSTANCES);
    TransportMode transport = ConfigReader.transport(json.getValue("transport"), "transport");
    RegistryOptions registry = RegistryOptions.fromJson(
        ConfigPaths.section(json, "", "registry", RegistryOptions.KEYS), "registry");
    JsonObject shutdown = ConfigPaths.section(json, "", "shutdown", Set.of("drain-timeout"));
    Duration drain = ConfigReader.duration(shutdown.getValue("drain-timeout"), "shutdown.drain-timeout");
    EchoOptions echo = EchoOptions.fromJson(ConfigPaths.section(json, "", "echo", EchoOptions.KEYS), "echo");
    Boolean access = ConfigReader.bool(ConfigPaths.section(json, "", "log", Set.of("access")).getValue("access"),
        "log.access");
    JsonObject limitsJson = ConfigPaths.section(json, "", "limits", LIMITS_KEYS);
    Integer maxConnections = ConfigPaths.integer(limitsJson.getValue("max-connections"), "limits.max-connections",
        0, ProcessLimits.MAX_CONNECTIONS);
    Integer maxBuffered = ConfigReader.size(limitsJson.getValue("max-buffered-bytes"), "limits.max-buffered-bytes",
        BufferOptions.MIN, BufferOptions.MAX);
    ProcessLimits limits;
    try {
      limits = new ProcessLimits(maxConnections == null ? ProcessLimits.DEFAULTS.maxConnections() : maxConnections,
          maxBuffered == null ? ProcessLimits.DEFAULTS.maxBufferedBytes() : maxBuffered);
    } catch (ConfigException e) {
      throw ConfigPaths.under("limits", e);
    }

    JsonObject defaults = routeDefaults(json, limitsJson);
    List<RouteOptions> routes = new ArrayList<>();
    Object given = json.getValue("routes");
    if (given == null) {
      RouteOptions r = RouteOptions.fromJson(defaults, "", RouteOptions.DEFAULT_NAME);
      checkSpliceWithTls(defaults, r, "");
      routes.add(r);
    } else {
      if (!(given instanceof JsonArray list)) {
        throw new ConfigException("routes", "must be a list of route mappings, got " + Values.describe(given));
      }
      for (String own : new String[] {"listen", "upstreams"}) {
        if (json.getValue(own) != null) {
          throw new ConfigException(own, "is each route's own when routes are given: set it in every route");
        }
      }
      // The defaults are checked where they are written, so that a bad one is named at the top level.
      checkSpliceWithTls(defaults, RouteOptions.fromJson(defaults, "", RouteOptions.DEFAULT_NAME), "");
      for (int i = 0; i < list.size(); i++) {
        String at = "routes[" + i + "]";
        if (!(list.getValue(i) instanceof JsonObject route)) {
          throw new ConfigException(at, "must be a mapping, got " + Values.describe(list.getValue(i)));
        }
        ConfigReader.checkKeys(route, at, RouteOptions.keys());
        if (route.getValue("name") == null) {
          throw new ConfigException(at + ".name", "must be set");
        }
        RouteOptions r = RouteOptions.fromJson(merge(defaults.copy(), route), at, null);
        checkSpliceWithTls(route, r, at + ".");
        routes.add(r);
      }
    }
    return new FerryOptions(admin, instances == null ? 0 : instances,
        transport == null ? TransportMode.AUTO : transport, registry,
        drain == null ? DEFAULT_DRAIN_TIMEOUT : drain, echo, access == null || access, limits, routes, given == null);
  }

  /**
   * A mapping that asks for {@code splice: true} itself, on a route whose bytes pass through a TLS engine, is a
   * contradiction written in one place: refused. A {@code splice: true} the route only inherits from the top level is
   * a default that does not apply to it: Ferry warns at start-up and relays through buffers.
   */
  private static void checkSpliceWithTls(JsonObject mapping, RouteOptions route, String at) {
    if (Boolean.TRUE.equals(mapping.getValue("splice")) && route.tlsEngine()) {
      throw new ConfigException(at + "splice", "cannot be true on a route whose bytes pass through a TLS engine ("
          + (route.tls().terminates() ? "tls.mode terminate" : "upstream-tls.enabled") + "): splice(2) would move "
          + "them past it");
    }
  }

  /** The top level's route keys: the one route of the shorthand, or every route's defaults. */
  private static JsonObject routeDefaults(JsonObject json, JsonObject limits) {
    JsonObject defaults = new JsonObject();
    for (String key : RouteOptions.keys()) {
      if (!key.equals("limits") && json.getValue(key) != null) {
        defaults.put(key, json.getValue(key));
      }
    }
    // Top-level limits.max-connections is the process's; max-connections-per-source is every route's default.
    Object perSource = limits.getValue("max-connections-per-source");
    if (perSource != null) {
      defaults.put("limits", new JsonObject().put("max-connections-per-source", perSource));
    }
    return defaults;
  }

  /** {@code over} merged onto {@code base}, mapping by mapping; any other value of {@code over} replaces. */
  private static JsonObject merge(JsonObject base, JsonObject over) {
    for (String key : over.fieldNames()) {
      Object o = over.getValue(key);
      Object b = base.getValue(key);
      base.put(key, o instanceof JsonObject om && b instanceof JsonObject bm ? merge(bm.copy(), om) : o);
    }
    return base;
  }

  /** The configuration in the YAML shape: {@link #fromJson} reads it back to an equal value. */
  public JsonObject toJson() {
    JsonObject json = new JsonObject()
        .put("admin", admin.toJson())
        .put("instances", instances)
        .put("transport", transport.configValue())
        .put("registry", registry.toJson())
        .put("shutdown", new JsonObject().put("drain-timeout", Values.formatDuration(drainTimeout)))
        .put("echo", echo.toJson())
        .put("log", new JsonObject().put("access", accessLog))
        .put("limits", new JsonObject().put("max-connections", limits.maxConnections())
            .put("max-buffered-bytes", limits.maxBufferedBytes()));
    if (shorthand) {
      JsonObject route = routes.get(0).toJson();
      route.remove("name");
      JsonObject routeLimits = (JsonObject) route.remove("limits");
      json.getJsonObject("limits").put("max-connections-per-source",
          routeLimits.getInteger("max-connections-per-source"));
      return json.mergeIn(route);
    }
    JsonArray list = new JsonArray();
    routes.forEach(r -> list.add(r.toJson()));
    return json.put("routes", list);
  }

  /** {@link #toJson()} on one line, the admin token masked. */
  @Override
  public String toString() {
    JsonObject json = toJson();
    if (admin.token() != null) {
      json.getJsonObject("admin").put("token", "***");
    }
    return json.encode();
  }
}
