package dev.ferry.config;

import java.util.Locale;

/**
 * Which PROXY protocol header a route's clients must send first ({@code proxy-protocol.accept}).
 * Config values are the lower-case names; YAML reads a bare {@code off} as false, which means {@code off} too.
 */
public enum ProxyProtocolAccept {
  /** None: the client's first byte is its own. */
  OFF,
  /** The text header only ({@code PROXY TCP4 ...}). */
  V1,
  /** The binary header only. */
  V2,
  /** Either version. */
  ANY;

  /** The value as written in configuration. */
  public String configValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration value (lower-case).
   *
   * @throws IllegalArgumentException if it is none of off, v1, v2, any
   */
  public static ProxyProtocolAccept fromConfig(String value) {
    for (ProxyProtocolAccept v : values()) {
      if (v.configValue().equals(value)) {
        return v;
      }
    }
    throw new IllegalArgumentException("must be one of off, v1, v2, any, got " + Values.describe(value));
  }
}
