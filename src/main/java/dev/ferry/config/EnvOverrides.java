package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Maps {@code FERRY_*} environment variables onto config paths; environment values win over
 * the file. Only the variables in {@link #VARIABLES} are read: other {@code FERRY_*} variables
 * (such as the {@code FERRY_SERVICE_HOST} and {@code FERRY_PORT} that Kubernetes injects for a
 * Service named {@code ferry}) are ignored.
 */
public final class EnvOverrides {

  private enum Kind { STRING, INT, BOOLEAN, DURATION, UPSTREAMS }

  private static final Map<String, String> PATHS = new LinkedHashMap<>();
  private static final Map<String, Kind> KINDS = new LinkedHashMap<>();
  private static final Pattern INTEGER = Pattern.compile("[+-]?[0-9]+");

  static {
    define("FERRY_LISTEN_HOST", "listen.host", Kind.STRING);
    define("FERRY_LISTEN_PORT", "listen.port", Kind.INT);
    define("FERRY_ADMIN_HOST", "admin.host", Kind.STRING);
    define("FERRY_ADMIN_PORT", "admin.port", Kind.INT);
    define("FERRY_ADMIN_TOKEN", "admin.token", Kind.STRING);
    define("FERRY_INSTANCES", "instances", Kind.INT);
    define("FERRY_TRANSPORT", "transport", Kind.STRING);
    define("FERRY_UPSTREAMS", "upstreams", Kind.UPSTREAMS);
    define("FERRY_CONNECT_TIMEOUT", "connect.timeout", Kind.DURATION);
    define("FERRY_CONNECT_ATTEMPTS", "connect.attempts", Kind.INT);
    define("FERRY_IDLE_TIMEOUT", "idle-timeout", Kind.DURATION);
    define("FERRY_HALF_CLOSE", "close.half-close", Kind.BOOLEAN);
    define("FERRY_HALF_CLOSED_TIMEOUT", "close.half-closed-timeout", Kind.DURATION);
    define("FERRY_DRAIN_TIMEOUT", "shutdown.drain-timeout", Kind.DURATION);
    define("FERRY_REGISTRY_SHARDS", "registry.shards", Kind.INT);
    define("FERRY_ECHO_ENABLED", "echo.enabled", Kind.BOOLEAN);
    define("FERRY_ACCESS_LOG", "log.access", Kind.BOOLEAN);
    define("FERRY_SPLICE", "splice", Kind.BOOLEAN);
    define("FERRY_MAX_CONNECTIONS", "limits.max-connections", Kind.INT);
    define("FERRY_MAX_CONNECTIONS_PER_SOURCE", "limits.max-connections-per-source", Kind.INT);
  }

  /** Environment variable name → dotted config path, in documentation order. */
  public static final Map<String, String> VARIABLES = Collections.unmodifiableMap(new LinkedHashMap<>(PATHS));

  /** Names the config file to load when no path is given; read by {@link ConfigLoader}, not here. */
  public static final String CONFIG_VARIABLE = "FERRY_CONFIG";

  private EnvOverrides() {
  }

  private static void define(String name, String path, Kind kind) {
    PATHS.put(name, path);
    KINDS.put(name, kind);
  }

  /**
   * Returns a copy of {@code fileConfig} with the variables of {@link #VARIABLES} that are set in
   * {@code env} applied. Integers and booleans are converted here; durations, hosts and the
   * transport are passed as strings for {@link FerryOptions} to check ({@code FERRY_*_TIMEOUT}
   * also accepts plain milliseconds). {@code FERRY_UPSTREAMS} is a comma-separated list; blanks
   * around entries and empty entries are dropped, so an empty value means no upstreams.
   *
   * @throws ConfigException keyed by the variable name when an integer or boolean does not parse,
   *     or keyed by the config path when the file has a non-mapping where a section is needed
   */
  public static JsonObject apply(JsonObject fileConfig, Map<String, String> env) {
    Objects.requireNonNull(fileConfig, "fileConfig");
    Objects.requireNonNull(env, "env");
    JsonObject result = fileConfig.copy();
    for (Map.Entry<String, String> variable : PATHS.entrySet()) {
      String name = variable.getKey();
      String raw = env.get(name);
      if (raw == null) {
        continue;
      }
      put(result, variable.getValue(), convert(name, KINDS.get(name), raw));
    }
    return result;
  }

  private static Object convert(String name, Kind kind, String raw) {
    String value = raw.trim();
    switch (kind) {
      case INT:
        if (!INTEGER.matcher(value).matches()) {
          throw new ConfigException(name, "must be an integer, got " + Values.quote(raw));
        }
        try {
          long n = Long.parseLong(value);
          return n == (int) n ? (Object) (int) n : (Object) n;
        } catch (NumberFormatException e) {
          return new BigInteger(value);
        }
      case BOOLEAN:
        String lower = value.toLowerCase(Locale.ROOT);
        if (lower.equals("true")) {
          return Boolean.TRUE;
        }
        if (lower.equals("false")) {
          return Boolean.FALSE;
        }
        throw new ConfigException(name, "must be a boolean, got " + Values.quote(raw));
      case DURATION:
        if (INTEGER.matcher(value).matches()) {
          try {
            return Long.parseLong(value);
          } catch (NumberFormatException e) {
            return new BigInteger(value);
          }
        }
        return value;
      case UPSTREAMS:
        JsonArray list = new JsonArray();
        for (String entry : value.split(",")) {
          String trimmed = entry.trim();
          if (!trimmed.isEmpty()) {
            list.add(trimmed);
          }
        }
        return list;
      default:
        return value;
    }
  }

  private static void put(JsonObject root, String path, Object value) {
    int dot = path.indexOf('.');
    if (dot < 0) {
      root.put(path, value);
      return;
    }
    String sectionKey = path.substring(0, dot);
    Object section = root.getValue(sectionKey);
    if (section == null) {
      section = new JsonObject();
      root.put(sectionKey, section);
    } else if (!(section instanceof JsonObject)) {
      throw new ConfigException(sectionKey, "must be a mapping, got " + Values.describe(section));
    }
    ((JsonObject) section).put(path.substring(dot + 1), value);
  }
}
