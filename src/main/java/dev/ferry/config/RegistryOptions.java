package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/**
 * The connection registry: {@code registry: {shards, release-timeout, watchdog-interval}}.
 *
 * @param shards           1..{@value #MAX_SHARDS}
 * @param releaseTimeout   a release not acknowledged this long after it was ordered counts as a leak; greater than
 *                         every route's {@code close.flush-timeout}
 * @param watchdogInterval how often the watchdog looks for overdue releases; greater than 0
 */
public record RegistryOptions(int shards, Duration releaseTimeout, Duration watchdogInterval) {

  public static final int MAX_SHARDS = 64;
  public static final RegistryOptions DEFAULTS = new RegistryOptions(1, Duration.ofSeconds(30), Duration.ofSeconds(1));
  static final Set<String> KEYS = Set.of("shards", "release-timeout", "watchdog-interval");

  public RegistryOptions {
    ConfigPaths.checkRange("shards", shards, 1, MAX_SHARDS);
    ConfigPaths.checkPositive("release-timeout", releaseTimeout);
    ConfigPaths.checkPositive("watchdog-interval", watchdogInterval);
  }

  static RegistryOptions fromJson(JsonObject json, String prefix) {
    Integer shards = ConfigPaths.integer(json.getValue("shards"), ConfigPaths.path(prefix, "shards"), 1, MAX_SHARDS);
    Duration release = ConfigReader.duration(json.getValue("release-timeout"),
        ConfigPaths.path(prefix, "release-timeout"));
    Duration watchdog = ConfigReader.duration(json.getValue("watchdog-interval"),
        ConfigPaths.path(prefix, "watchdog-interval"));
    try {
      return new RegistryOptions(shards == null ? DEFAULTS.shards : shards,
          release == null ? DEFAULTS.releaseTimeout : release, watchdog == null ? DEFAULTS.watchdogInterval : watchdog);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("shards", shards).put("release-timeout", Values.formatDuration(releaseTimeout))
        .put("watchdog-interval", Values.formatDuration(watchdogInterval));
  }
}
