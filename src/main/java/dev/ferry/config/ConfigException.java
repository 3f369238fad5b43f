package dev.ferry.config;

import java.util.Objects;

/**
 * A configuration problem, located by {@link #key()} and explained by {@link #reason()}.
 *
 * <p>The key is the dotted config path ({@code listen.port}, {@code upstreams[1]}), the name of
 * an environment variable ({@code FERRY_LISTEN_PORT}) when the bad value came from the
 * environment and could not be converted, or {@code config} for problems with the file itself.
 */
public class ConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** Key used for file-level problems: unreadable file, invalid YAML, top level not a mapping. */
  public static final String FILE_KEY = "config";

  private final String key;
  private final String reason;

  public ConfigException(String key, String reason) {
    this(key, reason, null);
  }

  public ConfigException(String key, String reason, Throwable cause) {
    super(Objects.requireNonNull(key, "key") + ": " + Objects.requireNonNull(reason, "reason"), cause);
    this.key = key;
    this.reason = reason;
  }

  /** The dotted config path, environment variable name or {@code config}. */
  public String key() {
    return key;
  }

  /** What is wrong, including the offending value where there is one. */
  public String reason() {
    return reason;
  }

  /** Returns {@code key + ": " + reason}. */
  @Override
  public String getMessage() {
    return key + ": " + reason;
  }
}
