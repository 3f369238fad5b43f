package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * Per connection and direction: {@code buffer: {soft-limit, hard-limit}}. Bytes written to a side and not yet taken
 * by its socket above {@code soft-limit} pause the source (resumed at half); above {@code hard-limit} the connection
 * ends with OVERFLOW (only a read burst already under way can get past the soft limit).
 *
 * @param softLimit {@value #MIN}..{@value #MAX} bytes
 * @param hardLimit {@value #MIN}..{@value #MAX} bytes, not below {@code softLimit}
 */
public record BufferOptions(int softLimit, int hardLimit) {

  public static final int MIN = 1024;
  public static final int MAX = 1 << 30;
  public static final BufferOptions DEFAULTS = new BufferOptions(64 * 1024, 1024 * 1024);
  static final Set<String> KEYS = Set.of("soft-limit", "hard-limit");

  public BufferOptions {
    ConfigPaths.checkRange("soft-limit", softLimit, MIN, MAX);
    ConfigPaths.checkRange("hard-limit", hardLimit, MIN, MAX);
    if (hardLimit < softLimit) {
      throw new ConfigException("hard-limit",
          "must not be less than buffer.soft-limit (" + softLimit + "), got " + hardLimit);
    }
  }

  static BufferOptions fromJson(JsonObject json, String prefix, BufferOptions base) {
    Integer soft = ConfigReader.size(json.getValue("soft-limit"), ConfigPaths.path(prefix, "soft-limit"), MIN, MAX);
    Integer hard = ConfigReader.size(json.getValue("hard-limit"), ConfigPaths.path(prefix, "hard-limit"), MIN, MAX);
    try {
      return new BufferOptions(soft == null ? base.softLimit : soft, hard == null ? base.hardLimit : hard);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("soft-limit", softLimit).put("hard-limit", hardLimit);
  }
}
