package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Passive health ("outlier detection"): an upstream whose connects fail {@code max-fails} times in a row is
 * ejected, for {@code ejection-time} the first time and twice as long each time it is ejected again, up to
 * {@code max-ejection-time}. Like nginx {@code max_fails}/{@code fail_timeout} and Envoy's
 * {@code consecutive_local_origin_failure} with {@code base_ejection_time}/{@code max_ejection_time}.
 *
 * <p>Defaults, and why:
 * <ul>
 *   <li>{@code max-fails: 3}. nginx ejects after 1 failure, which lets one reset during a rolling restart take a
 *       healthy upstream out; Envoy's 5 is tuned for HTTP 5xx, a noisier signal than a refused connect. 3 is the
 *       count HAProxy users already accept to call a server down ({@code fall 3}). Every failure costs one client
 *       one wasted attempt only, because retries avoid upstreams already tried.</li>
 *   <li>{@code ejection-time: 10s}: nginx's {@code fail_timeout}. A restarted Kubernetes pod is usually back within
 *       that; a dead one doubles to the cap in 5 ejections (10, 20, 40, 80, 160, 300 s).</li>
 *   <li>{@code max-ejection-time: 5m}: Envoy's {@code max_ejection_time}.</li>
 * </ul>
 * {@code max-fails: 0} turns passive health off (nginx's {@code max_fails=0}).
 *
 * @param maxFails        consecutive connect failures that eject, 0..{@value #MAX_MAX_FAILS}; 0 = never eject
 * @param ejectionTime    the first ejection's length, 1ms..1h
 * @param maxEjectionTime the cap of the growing ejections, {@code ejectionTime}..24h
 */
public record PassiveHealthOptions(int maxFails, Duration ejectionTime, Duration maxEjectionTime) {

  public static final int DEFAULT_MAX_FAILS = 3;
  public static final Duration DEFAULT_EJECTION_TIME = Duration.ofSeconds(10);
  public static final Duration DEFAULT_MAX_EJECTION_TIME = Duration.ofMinutes(5);
  public static final int MAX_MAX_FAILS = 100;
  public static final Duration MAX_EJECTION_TIME = Duration.ofHours(1);
  public static final Duration MAX_MAX_EJECTION_TIME = Duration.ofHours(24);

  /** Every default. */
  public static final PassiveHealthOptions DEFAULTS =
      new PassiveHealthOptions(DEFAULT_MAX_FAILS, DEFAULT_EJECTION_TIME, DEFAULT_MAX_EJECTION_TIME);

  static final Set<String> KEYS = Set.of("max-fails", "ejection-time", "max-ejection-time");

  /**
   * The one place of validation.
   *
   * @throws ConfigException with keys relative to this object ({@code max-fails}, ...)
   */
  public PassiveHealthOptions {
    ConfigPaths.checkRange("max-fails", maxFails, 0, MAX_MAX_FAILS);
    ConfigPaths.checkDuration("ejection-time", ejectionTime, Duration.ofMillis(1), MAX_EJECTION_TIME);
    ConfigPaths.checkNotNull("max-ejection-time", maxEjectionTime);
    if (maxEjectionTime.compareTo(ejectionTime) < 0) {
      throw new ConfigException("max-ejection-time", "must not be less than ejection-time ("
          + ConfigPaths.shown(ejectionTime) + "), got " + ConfigPaths.shown(maxEjectionTime));
    }
    ConfigPaths.checkDuration("max-ejection-time", maxEjectionTime, ejectionTime, MAX_MAX_EJECTION_TIME);
  }

  /** False when {@code max-fails} is 0: connect failures never eject. */
  public boolean enabled() {
    return maxFails > 0;
  }

  /**
   * Reads the {@code health.passive} mapping strictly; absent keys keep their defaults.
   *
   * @param prefix the mapping's own key, e.g. {@code routes[1].health.passive}
   * @throws ConfigException naming the full dotted key
   */
  public static PassiveHealthOptions fromJson(JsonObject json, String prefix) {
    Objects.requireNonNull(json, "json");
    ConfigReader.checkKeys(json, prefix, KEYS);
    Integer maxFails = ConfigPaths.integer(json.getValue("max-fails"), ConfigPaths.path(prefix, "max-fails"), 0,
        MAX_MAX_FAILS);
    Duration ejection = ConfigReader.duration(json.getValue("ejection-time"),
        ConfigPaths.path(prefix, "ejection-time"));
    Duration maxEjection = ConfigReader.duration(json.getValue("max-ejection-time"),
        ConfigPaths.path(prefix, "max-ejection-time"));
    try {
      return new PassiveHealthOptions(maxFails == null ? DEFAULT_MAX_FAILS : maxFails,
          ejection == null ? DEFAULT_EJECTION_TIME : ejection,
          maxEjection == null ? DEFAULT_MAX_EJECTION_TIME : maxEjection);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  /** The YAML shape; {@link #fromJson} reads it back to an equal value. */
  public JsonObject toJson() {
    return new JsonObject()
        .put("max-fails", maxFails)
        .put("ejection-time", Values.formatDuration(ejectionTime))
        .put("max-ejection-time", Values.formatDuration(maxEjectionTime));
  }
}
