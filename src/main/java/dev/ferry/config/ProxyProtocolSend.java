package dev.ferry.config;

import java.util.Locale;

/**
 * Which PROXY protocol header Ferry writes to the upstream before any client byte ({@code proxy-protocol.send}).
 * Config values are the lower-case names; YAML reads a bare {@code off} as false, which means {@code off} too.
 */
public enum ProxyProtocolSend {
  /** None. */
  OFF,
  /** The text header (HAProxy's {@code send-proxy}). */
  V1,
  /** The binary header (HAProxy's {@code send-proxy-v2}). */
  V2;

  /** The value as written in configuration. */
  public String configValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration value (lower-case).
   *
   * @throws IllegalArgumentException if it is none of off, v1, v2
   */
  public static ProxyProtocolSend fromConfig(String value) {
    for (ProxyProtocolSend v : values()) {
      if (v.configValue().equals(value)) {
        return v;
      }
    }
    throw new IllegalArgumentException("must be one of off, v1, v2, got " + Values.describe(value));
  }
}
