package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/**
 * How a route reaches its upstreams: {@code connect: {timeout, attempts}}. A refused or timed-out attempt moves to
 * an upstream this client has not tried yet, while one remains.
 *
 * @param timeout  one attempt, greater than 0
 * @param attempts attempts per client in all, 1..{@value #MAX_ATTEMPTS}
 */
public record ConnectOptions(Duration timeout, int attempts) {

  public static final int MAX_ATTEMPTS = 100;
  public static final ConnectOptions DEFAULTS = new ConnectOptions(Duration.ofSeconds(5), 3);
  static final Set<String> KEYS = Set.of("timeout", "attempts");

  public ConnectOptions {
    ConfigPaths.checkPositive("timeout", timeout);
    ConfigPaths.checkRange("attempts", attempts, 1, MAX_ATTEMPTS);
  }

  static ConnectOptions fromJson(JsonObject json, String prefix, ConnectOptions base) {
    Duration timeout = ConfigReader.duration(json.getValue("timeout"), ConfigPaths.path(prefix, "timeout"));
    Integer attempts = ConfigPaths.integer(json.getValue("attempts"), ConfigPaths.path(prefix, "attempts"), 1,
        MAX_ATTEMPTS);
    try {
      return new ConnectOptions(timeout == null ? base.timeout : timeout, attempts == null ? base.attempts : attempts);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("timeout", Values.formatDuration(timeout)).put("attempts", attempts);
  }
}
