package dev.ferry.config;

import java.util.Locale;

/** Which Netty transport the proxy uses. Config values are the lower-case names. */
public enum TransportMode {
  /** Native epoll when available, NIO otherwise. */
  AUTO,
  /** Native epoll (Linux only). */
  EPOLL,

  /** Java NIO. */
  NIO;

  /** The value as written in configuration: {@code auto}, {@code epoll} or {@code nio}. */
  public String configValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration value (lower-case).
   *
   * @throws IllegalArgumentException if the value is not one of {@code auto}, {@code epoll}, {@code nio}
   */
  public static TransportMode fromConfig(String value) {
    for (TransportMode mode : values()) {
      if (mode.configValue().equals(value)) {
        return mode;
      }
    }
    throw new IllegalArgumentException("must be one of auto, epoll, nio, got " + Values.describe(value));
  }
}
