package dev.ferry.config;

import java.util.Locale;

/**
 * Which TLS implementation Ferry uses ({@code tls.provider}).
 * Config values are the lower-case names; YAML reads a bare {@code off} as false, which means {@code off} too.
 */
public enum TlsProvider {
  /** OpenSSL (BoringSSL from netty-tcnative) where it loads, else the JDK's. */
  AUTO,
  /** OpenSSL; start-up fails where it does not load. */
  OPENSSL,
  /** The JDK's SSLEngine. */
  JDK;

  /** The value as written in configuration. */
  public String configValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Parses a configuration value (lower-case).
   *
   * @throws IllegalArgumentException if it is none of auto, openssl, jdk
   */
  public static TlsProvider fromConfig(String value) {
    for (TlsProvider v : values()) {
      if (v.configValue().equals(value)) {
        return v;
      }
    }
    throw new IllegalArgumentException("must be one of auto, openssl, jdk, got " + Values.describe(value));
  }
}
