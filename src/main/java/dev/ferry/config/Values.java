package dev.ferry.config;

import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Rendering of values in messages and of durations in config form. */
final class Values {

  private Values() {
  }

  /** A string in double quotes with JSON escapes. */
  static String quote(String s) {
    return Json.encode(s);
  }

  /** How a value of the wrong type or format is shown after {@code got}: strings quoted, numbers and booleans as is. */
  static String describe(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof CharSequence) {
      return quote(value.toString());
    }
    if (value instanceof JsonObject || value instanceof Map) {
      return "a mapping";
    }
    if (value instanceof JsonArray || value instanceof List) {
      return "a list";
    }
    if (value instanceof byte[]) {
      return "binary data";
    }
    return value.toString();
  }

  /** {@code must be between min and max, got got}. */
  static String between(long min, long max, Object got) {
    return "must be between " + min + " and " + max + ", got " + got;
  }

  /**
   * A duration in config form, using the largest of {@code h}, {@code m}, {@code s}, {@code ms}
   * that represents it exactly: {@code 5m}, {@code 30s}, {@code 250ms}, {@code 0s}.
   * Sub-millisecond parts are not shown.
   */
  static String formatDuration(Duration duration) {
    long ms = duration.toMillis();
    if (ms == 0) {
      return "0s";
    }
    if (ms % 3_600_000 == 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
