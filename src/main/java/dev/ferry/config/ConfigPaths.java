package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Set;

/**
 * Helpers for option types that live below a prefix ({@code routes[1]}, {@code routes[1].health.active}) and
 * validate themselves in their canonical constructor.
 *
 * <p>The pattern: a constructor throws {@link ConfigException} with keys relative to its own object
 * ({@code rise}); {@code fromJson(json, prefix)} only converts types, then re-roots any exception of the
 * constructor under {@code prefix} with {@link #under}. So every rule lives in one place, objects built in code
 * are as valid as objects read from YAML, and a message names the full dotted key.
 */
final class ConfigPaths {

  private static final BigInteger INT_MIN = BigInteger.valueOf(Integer.MIN_VALUE);
  private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);

  private ConfigPaths() {
  }

  static String path(String prefix, String key) {
    return ConfigReader.path(prefix, key);
  }

  /** The same problem, with its key placed below {@code prefix}. */
  static ConfigException under(String prefix, ConfigException e) {
    return prefix.isEmpty() ? e : new ConfigException(path(prefix, e.key()), e.reason(), e.getCause());
  }

  /** A nested mapping below {@code prefix}; absent or null reads as empty; unknown keys are rejected. */
  static JsonObject section(JsonObject parent, String prefix, String key, Set<String> allowed) {
    Object value = parent.getValue(key);
    String at = path(prefix, key);
    if (value == null) {
      return new JsonObject();
    }
    if (!(value instanceof JsonObject)) {
      throw new ConfigException(at, "must be a mapping, got " + Values.describe(value));
    }
    JsonObject section = (JsonObject) value;
    ConfigReader.checkKeys(section, at, allowed);
    return section;
  }

  /**
   * An integer, converted only: the range is the constructor's rule. {@code min} and {@code max} serve the one
   * case the constructor cannot see, a number beyond the int range, which gets the rule's own message.
   */
  static Integer integer(Object value, String key, int min, int max) {
    if (value == null) {
      return null;
    }
    BigInteger n = value instanceof BigInteger ? (BigInteger) value
        : value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte
            ? BigInteger.valueOf(((Number) value).longValue()) : null;
    if (n == null) {
      throw new ConfigException(key, "must be an integer, got " + Values.describe(value));
    }
    if (n.compareTo(INT_MIN) < 0 || n.compareTo(INT_MAX) > 0) {
      throw new ConfigException(key, Values.between(min, max, n));
    }
    return n.intValue();
  }

  /** Throws {@code key: must be between min and max, got value} unless it is. */
  static int checkRange(String key, int value, int min, int max) {
    if (value < min || value > max) {
      throw new ConfigException(key, Values.between(min, max, value));
    }
    return value;
  }

  /** Throws {@code key: must be between 10ms and 1h, got 5ms} unless it is; null is rejected. */
  static Duration checkDuration(String key, Duration value, Duration min, Duration max) {
    if (value == null) {
      throw new ConfigException(key, "must be set");
    }
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new ConfigException(key, "must be between " + Values.formatDuration(min) + " and "
          + Values.formatDuration(max) + ", got " + shown(value));
    }
    return value;
  }

  /** A duration as in config form, exact even below a millisecond (which config cannot express). */
  static String shown(Duration d) {
    return d.toNanos() % 1_000_000 == 0 && !d.isNegative() ? Values.formatDuration(d) : d.toNanos() + "ns";
  }

  /** Throws unless {@code host} is set and not blank. */
  static String checkHost(String key, String host) {
    checkNotNull(key, host);
    if (host.isBlank()) {
      throw new ConfigException(key, "must not be empty");
    }
    return host;
  }

  /** Throws {@code key: must be greater than 0, got 0s} unless {@code value} is positive; null is rejected. */
  static Duration checkPositive(String key, Duration value) {
    checkNotNull(key, value);
    if (value.isNegative()) {
      throw new ConfigException(key, "must not be negative, got " + shown(value));
    }
    if (value.isZero()) {
      throw new ConfigException(key, "must be greater than 0, got " + shown(value));
    }
    return value;
  }

  /** Throws unless {@code value} is zero or positive; null is rejected. */
  static Duration checkNotNegative(String key, Duration value) {
    checkNotNull(key, value);
    if (value.isNegative()) {
      throw new ConfigException(key, "must not be negative, got " + shown(value));
    }
    return value;
  }

  static <T> T checkNotNull(String key, T value) {
    if (value == null) {
      throw new ConfigException(key, "must be set");
    }
    return value;
  }
}
