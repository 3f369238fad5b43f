package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * The embedded echo upstream: {@code echo: {enabled, host, port}}. A route with no upstreams proxies to it when it is
 * enabled; with it disabled, such a route is a configuration error.
 *
 * @param enabled whether it starts (only when some route has no upstreams)
 * @param host    its address, not blank
 * @param port    0..65535 (0: ephemeral)
 */
public record EchoOptions(boolean enabled, String host, int port) {

  public static final EchoOptions DEFAULTS = new EchoOptions(true, "127.0.0.1", 7001);
  static final Set<String> KEYS = Set.of("enabled", "host", "port");

  public EchoOptions {
    ConfigPaths.checkHost("host", host);
    ConfigPaths.checkRange("port", port, 0, 65535);
  }

  static EchoOptions fromJson(JsonObject json, String prefix) {
    Boolean enabled = ConfigReader.bool(json.getValue("enabled"), ConfigPaths.path(prefix, "enabled"));
    String host = ConfigReader.string(json.getValue("host"), ConfigPaths.path(prefix, "host"));
    Integer port = ConfigPaths.integer(json.getValue("port"), ConfigPaths.path(prefix, "port"), 0, 65535);
    try {
      return new EchoOptions(enabled == null ? DEFAULTS.enabled : enabled, host == null ? DEFAULTS.host : host,
          port == null ? DEFAULTS.port : port);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("host", host).put("port", port);
  }
}
