package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Strict conversion of raw config values (as produced by the YAML reader or by
 * {@link EnvOverrides}) to typed values. Every method returns {@code null} for a {@code null}
 * value (meaning "use the default") and throws {@link ConfigException} naming the key otherwise.
 */
final class ConfigReader {

  static final String DURATION_FORMAT =
      "must be a duration (integer milliseconds or a string like 250ms, 5s, 5m, 1h)";
  static final String SIZE_FORMAT =
      "must be a size (integer bytes or a string like 64KiB, 1MiB)";

  private static final Pattern DURATION = Pattern.compile("(-?)([0-9]+)(ms|s|m|h)");
  private static final Pattern SIZE = Pattern.compile("([0-9]+)(KiB|MiB|GiB)");
  private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

  private ConfigReader() {
  }

  static String path(String prefix, String key) {
    return prefix.isEmpty() ? key : prefix + "." + key;
  }

  /** Rejects keys of {@code object} that are not in {@code allowed}, in document order. */
  static void checkKeys(JsonObject object, String prefix, Set<String> allowed) {
    for (String key : object.fieldNames()) {
      if (!allowed.contains(key)) {
        throw new ConfigException(path(prefix, key), "unknown key");
      }
    }
  }

  /** A nested mapping; an absent or null section reads as an empty one. */
  static JsonObject section(JsonObject parent, String key, Set<String> allowed) {
    Object value = parent.getValue(key);
    if (value == null) {
      return new JsonObject();
    }
    if (!(value instanceof JsonObject)) {
      throw new ConfigException(key, "must be a mapping, got " + Values.describe(value));
    }
    JsonObject section = (JsonObject) value;
    checkKeys(section, key, allowed);
    return section;
  }

  /**
   * An integer, converted only: the range is the rule of the options type that holds it. {@code min} and {@code max}
   * phrase the one case the type cannot see, a number beyond the int range.
   */
  static Integer integer(Object value, String key, int min, int max) {
    return ConfigPaths.integer(value, key, min, max);
  }

  static String string(Object value, String key) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof String)) {
      throw new ConfigException(key, "must be a string, got " + Values.describe(value));
    }
    return (String) value;
  }

  static String host(Object value, String key) {
    String host = string(value, key);
    if (host != null && host.isBlank()) {
      throw new ConfigException(key, "must not be empty");
    }
    return host;
  }

  static Boolean bool(Object value, String key) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof Boolean)) {
      throw new ConfigException(key, "must be a boolean, got " + Values.describe(value));
    }
    return (Boolean) value;
  }

  static TransportMode transport(Object value, String key) {
    String text = string(value, key);
    if (text == null) {
      return null;
    }
    try {
      return TransportMode.fromConfig(text);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key, e.getMessage());
    }
  }

  /**
   * One of an enum's config values ({@code fromConfig}); {@code false} reads as {@code off}, since YAML 1.1 (the
   * parser vertx-config-yaml uses) turns a bare {@code off} into a boolean.
   */
  static <E extends Enum<E>> E choice(Object value, String key, java.util.function.Function<String, E> fromConfig) {
    if (value == null) {
      return null;
    }
    Object text = Boolean.FALSE.equals(value) ? "off" : value;
    if (!(text instanceof String)) {
      try {
        fromConfig.apply(null);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(key, e.getMessage().replace("got null", "got " + Values.describe(value)));
      }
    }
    try {
      return fromConfig.apply((String) text);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key, e.getMessage());
    }
  }

  /** A list of strings; the key of an entry is {@code key[i]}. */
  static List<String> strings(Object value, String key) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof JsonArray array)) {
      throw new ConfigException(key, "must be a list of strings, got " + Values.describe(value));
    }
    List<String> result = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      Object entry = array.getValue(i);
      if (!(entry instanceof String s)) {
        throw new ConfigException(key + "[" + i + "]", "must be a string, got " + Values.describe(entry));
      }
      result.add(s);
    }
    return result;
  }

  /**
   * A duration: integer milliseconds or {@code <digits><ms|s|m|h>}. A negative one is refused here, with the text as
   * written; whether 0 is allowed is the rule of the options type that holds it.
   */
  static Duration duration(Object value, String key) {
    if (value == null) {
      return null;
    }
    BigInteger ms;
    String shown;
    if (value instanceof String) {
      String text = (String) value;
      Matcher m = DURATION.matcher(text);
      if (!m.matches()) {
        throw new ConfigException(key, DURATION_FORMAT + ", got " + Values.describe(value));
      }
      shown = text;
      BigInteger amount = new BigInteger(m.group(2));
      if (!m.group(1).isEmpty() && amount.signum() != 0) {
        throw new ConfigException(key, "must not be negative, got " + shown);
      }
      ms = amount.multiply(BigInteger.valueOf(unitMillis(m.group(3))));
    } else {
      ms = integral(value);
      if (ms == null) {
        throw new ConfigException(key, DURATION_FORMAT + ", got " + Values.describe(value));
      }
      shown = ms.toString();
      if (ms.signum() < 0) {
        throw new ConfigException(key, "must not be negative, got " + shown);
      }
    }
    if (ms.compareTo(LONG_MAX) > 0) {
      throw new ConfigException(key, "is too large, got " + shown);
    }
    return Duration.ofMillis(ms.longValue());
  }

  /**
   * A byte count: an integer or {@code <digits><KiB|MiB|GiB>}, converted only: the range is the rule of the options
   * type that holds it; {@code min} and {@code max} phrase a count beyond the int range.
   */
  static Integer size(Object value, String key, int min, int max) {
    if (value == null) {
      return null;
    }
    BigInteger bytes;
    String shown;
    if (value instanceof String) {
      Matcher m = SIZE.matcher((String) value);
      if (!m.matches()) {
        throw new ConfigException(key, SIZE_FORMAT + ", got " + Values.describe(value));
      }
      int shift = m.group(2).equals("KiB") ? 10 : m.group(2).equals("MiB") ? 20 : 30;
      bytes = new BigInteger(m.group(1)).shiftLeft(shift);
      shown = (String) value;
    } else {
      bytes = integral(value);
      if (bytes == null) {
        throw new ConfigException(key, SIZE_FORMAT + ", got " + Values.describe(value));
      }
      shown = bytes.toString();
    }
    // Beyond the int range the options type cannot see the value: its rule is phrased here, with the text as written.
    if (bytes.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
      throw new ConfigException(key, Values.between(min, max, shown));
    }
    return bytes.intValue();
  }

  /** A list of distinct {@code host:port} strings; the key of an entry is {@code key[i]}. */
  static List<UpstreamAddress> upstreams(Object value, String key) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof JsonArray)) {
      throw new ConfigException(key, "must be a list of \"host:port\" strings, got " + Values.describe(value));
    }
    JsonArray array = (JsonArray) value;
    List<UpstreamAddress> result = new ArrayList<>(array.size());
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < array.size(); i++) {
      String entryKey = key + "[" + i + "]";
      Object entry = array.getValue(i);
      if (!(entry instanceof String)) {
        throw new ConfigException(entryKey, "must be a \"host:port\" string, got " + Values.describe(entry));
      }
      UpstreamAddress address;
      try {
        address = UpstreamAddress.parse((String) entry);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(entryKey, e.getMessage());
      }
      Integer first = seen.putIfAbsent(identity(address), i);
      if (first != null) {
        throw new ConfigException(entryKey,
            "duplicate of " + key + "[" + first + "], got " + Values.quote((String) entry));
      }
      result.add(address);
    }
    return result;
  }

  /** Upstreams are the same when host (ignoring case) and port are. */
  static String identity(UpstreamAddress address) {
    return address.host().toLowerCase(Locale.ROOT) + "|" + address.port();
  }

  private static long unitMillis(String unit) {
    switch (unit) {
      case "ms":
        return 1;
      case "s":
        return 1000;
      case "m":
        return 60_000;
      default:
        return 3_600_000;
    }
  }

  /** The value as an integer if it is an integral JSON number, otherwise {@code null}. */
  private static BigInteger integral(Object value) {
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return BigInteger.valueOf(((Number) value).longValue());
    }
    if (value instanceof BigInteger) {
      return (BigInteger) value;
    }
    return null;
  }
}
