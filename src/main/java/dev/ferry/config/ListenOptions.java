package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * Where a route accepts clients: {@code listen: {host, port, backlog}}.
 *
 * @param host    address to bind, not blank
 * @param port    0..65535 (0: an ephemeral port)
 * @param backlog TCP accept backlog, 1..65535
 */
public record ListenOptions(String host, int port, int backlog) {

  public static final ListenOptions DEFAULTS = new ListenOptions("0.0.0.0", 7000, 1024);
  static final Set<String> KEYS = Set.of("host", "port", "backlog");

  public ListenOptions {
    ConfigPaths.checkHost("host", host);
    ConfigPaths.checkRange("port", port, 0, 65535);
    ConfigPaths.checkRange("backlog", backlog, 1, 65535);
  }

  static ListenOptions fromJson(JsonObject json, String prefix, ListenOptions base) {
    String host = ConfigReader.string(json.getValue("host"), ConfigPaths.path(prefix, "host"));
    Integer port = ConfigPaths.integer(json.getValue("port"), ConfigPaths.path(prefix, "port"), 0, 65535);
    Integer backlog = ConfigPaths.integer(json.getValue("backlog"), ConfigPaths.path(prefix, "backlog"), 1, 65535);
    try {
      return new ListenOptions(host == null ? base.host : host, port == null ? base.port : port,
          backlog == null ? base.backlog : backlog);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("host", host).put("port", port).put("backlog", backlog);
  }

  /** {@code host:port} as bound (IPv6 in brackets). */
  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
