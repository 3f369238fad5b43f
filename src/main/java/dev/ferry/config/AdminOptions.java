package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/**
 * The admin HTTP endpoint (health, metrics, connections, routes): {@code admin: {host, port, token,
 * max-connections, request-timeout, idle-timeout}}.
 * <p>
 * Without a token every mutation (kill, drain) is refused with 403: the admin port is often reachable from a whole
 * cluster. With one, mutations and the listings that show client addresses need {@code Authorization: Bearer}.
 * The admin listener bounds its own connections, as HAProxy's {@code timeout http-request} does: a client that has
 * not sent a whole request within {@code request-timeout}, or sends nothing for {@code idle-timeout}, is closed, and
 * at most {@code max-connections} are open at once.
 *
 * @param host            address, not blank
 * @param port            0..65535 (0: ephemeral)
 * @param token           bearer token, or null (none configured)
 * @param maxConnections  admin connections open at once, 1..10000
 * @param requestTimeout  time to receive a whole request (line and headers); greater than 0
 * @param idleTimeout     time a connection may stay silent between requests; greater than 0
 */
public record AdminOptions(String host, int port, String token, int maxConnections, Duration requestTimeout,
                           Duration idleTimeout) {

  public static final AdminOptions DEFAULTS = new AdminOptions("0.0.0.0", 9900, null, 64, Duration.ofSeconds(10),
      Duration.ofSeconds(60));
  static final Set<String> KEYS = Set.of("host", "port", "token", "max-connections", "request-timeout",
      "idle-timeout");

  public AdminOptions {
    ConfigPaths.checkHost("host", host);
    ConfigPaths.checkRange("port", port, 0, 65535);
    token = token == null || token.isEmpty() ? null : token;
    ConfigPaths.checkRange("max-connections", maxConnections, 1, 10_000);
    ConfigPaths.checkPositive("request-timeout", requestTimeout);
    ConfigPaths.checkPositive("idle-timeout", idleTimeout);
  }

  static AdminOptions fromJson(JsonObject json, String prefix) {
    String host = ConfigReader.string(json.getValue("host"), ConfigPaths.path(prefix, "host"));
    Integer port = ConfigPaths.integer(json.getValue("port"), ConfigPaths.path(prefix, "port"), 0, 65535);
    String token = ConfigReader.string(json.getValue("token"), ConfigPaths.path(prefix, "token"));
    Integer max = ConfigPaths.integer(json.getValue("max-connections"), ConfigPaths.path(prefix, "max-connections"),
        1, 10_000);
    Duration request = ConfigReader.duration(json.getValue("request-timeout"),
        ConfigPaths.path(prefix, "request-timeout"));
    Duration idle = ConfigReader.duration(json.getValue("idle-timeout"), ConfigPaths.path(prefix, "idle-timeout"));
    AdminOptions d = DEFAULTS;
    try {
      return new AdminOptions(host == null ? d.host : host, port == null ? d.port : port, token,
          max == null ? d.maxConnections : max, request == null ? d.requestTimeout : request,
          idle == null ? d.idleTimeout : idle);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("host", host).put("port", port).put("token", token)
        .put("max-connections", maxConnections).put("request-timeout", Values.formatDuration(requestTimeout))
        .put("idle-timeout", Values.formatDuration(idleTimeout));
  }

  /** Without the token: a configuration printed in a log shows whether one is set, never its value. */
  @Override
  public String toString() {
    return toJson().put("token", token == null ? null : "***").encode();
  }
}
