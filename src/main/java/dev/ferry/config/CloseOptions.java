package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/**
 * How a route's connections end: {@code close: {flush-timeout, half-close, half-closed-timeout}}.
 *
 * @param flushTimeout      a released connection first flushes what is queued to each side; after this long its
 *                          sockets are closed without flushing; greater than 0
 * @param halfClose         a FIN ends only its own direction (as HAProxy does); false: the first FIN ends the
 *                          connection once what that side sent is delivered
 * @param halfClosedTimeout once one side has sent its FIN, the connection must move a byte within this, or it ends
 *                          with HALF_CLOSED_TIMEOUT; greater than 0
 */
public record CloseOptions(Duration flushTimeout, boolean halfClose, Duration halfClosedTimeout) {

  /**
   * HAProxy bounds a half-closed stream by {@code timeout client-fin}, and without it by {@code timeout client} (50 s
   * in Debian's packaged haproxy.cfg); nginx by {@code proxy_timeout} (10 min). One minute is about HAProxy's, and
   * shorter than Ferry's idle timeout, so half-closed connections do not linger (envoy#41086).
   */
  public static final Duration DEFAULT_HALF_CLOSED_TIMEOUT = Duration.ofMinutes(1);
  public static final CloseOptions DEFAULTS = new CloseOptions(Duration.ofSeconds(5), true,
      DEFAULT_HALF_CLOSED_TIMEOUT);
  static final Set<String> KEYS = Set.of("flush-timeout", "half-close", "half-closed-timeout");

  public CloseOptions {
    ConfigPaths.checkPositive("flush-timeout", flushTimeout);
    ConfigPaths.checkPositive("half-closed-timeout", halfClosedTimeout);
  }

  static CloseOptions fromJson(JsonObject json, String prefix, CloseOptions base) {
    Duration flush = ConfigReader.duration(json.getValue("flush-timeout"), ConfigPaths.path(prefix, "flush-timeout"));
    Boolean half = ConfigReader.bool(json.getValue("half-close"), ConfigPaths.path(prefix, "half-close"));
    Duration halfClosed = ConfigReader.duration(json.getValue("half-closed-timeout"),
        ConfigPaths.path(prefix, "half-closed-timeout"));
    try {
      return new CloseOptions(flush == null ? base.flushTimeout : flush, half == null ? base.halfClose : half,
          halfClosed == null ? base.halfClosedTimeout : halfClosed);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("flush-timeout", Values.formatDuration(flushTimeout)).put("half-close", halfClose)
        .put("half-closed-timeout", Values.formatDuration(halfClosedTimeout));
  }
}
