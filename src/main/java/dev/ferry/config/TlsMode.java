package dev.ferry.config;

import java.util.Locale;

/**
 * What a route does with TLS on its client side ({@code tls.mode}).
 * Config values are the lower-case names; YAML reads a bare {@code off} as false, which means {@code off} too.
 */
public enum TlsMode {
  /** Nothing: bytes are relayed as they come. */
  OFF,
  /** Ferry completes the handshake with its certificate and relays the plain bytes. */
  TERMINATE,
  /** Ferry reads the ClientHello's server name to choose the route ({@code sni}) and relays the bytes untouched. */
  PASSTHROUGH;

  /** The value as written in configuration. */
  public String configValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration value (lower-case).
   *
   * @throws IllegalArgumentException if it is none of off, terminate, passthrough
   */
  public static TlsMode fromConfig(String value) {
    for (TlsMode v : values()) {
      if (v.configValue().equals(value)) {
        return v;
      }
    }
    throw new IllegalArgumentException("must be one of off, terminate, passthrough, got " + Values.describe(value));
  }
}
