package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * A route's connection limits: {@code limits: {max-connections, max-connections-per-source}} in a route. A client
 * over either is closed at once with LIMIT. The process-wide limits are {@link ProcessLimits}.
 *
 * @param maxConnections          connections open at once on this route; 0 = only the process-wide limit
 * @param maxConnectionsPerSource connections open at once on this route from one client IP address; 0 = unlimited
 */
public record RouteLimits(int maxConnections, int maxConnectionsPerSource) {

  public static final RouteLimits DEFAULTS = new RouteLimits(0, 0);
  static final Set<String> KEYS = Set.of("max-connections", "max-connections-per-source");

  public RouteLimits {
    ConfigPaths.checkRange("max-connections", maxConnections, 0, ProcessLimits.MAX_CONNECTIONS);
    ConfigPaths.checkRange("max-connections-per-source", maxConnectionsPerSource, 0, ProcessLimits.MAX_CONNECTIONS);
  }

  static RouteLimits fromJson(JsonObject json, String prefix, RouteLimits base) {
    Integer max = ConfigPaths.integer(json.getValue("max-connections"), ConfigPaths.path(prefix, "max-connections"),
        0, ProcessLimits.MAX_CONNECTIONS);
    Integer perSource = ConfigPaths.integer(json.getValue("max-connections-per-source"),
        ConfigPaths.path(prefix, "max-connections-per-source"), 0, ProcessLimits.MAX_CONNECTIONS);
    try {
      return new RouteLimits(max == null ? base.maxConnections : max,
          perSource == null ? base.maxConnectionsPerSource : perSource);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("max-connections", maxConnections)
        .put("max-connections-per-source", maxConnectionsPerSource);
  }
}
