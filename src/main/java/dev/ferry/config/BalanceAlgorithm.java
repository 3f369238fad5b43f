package dev.ferry.config;

/** How a route's pool spreads new clients over its upstreams. Config values are {@link #configValue()}. */
public enum BalanceAlgorithm {
  /** Smooth weighted round-robin, as nginx does it: weights are followed exactly and picks are interleaved. */
  ROUND_ROBIN("round-robin"),
  /** Fewest active connections per unit of weight, as HAProxy's {@code leastconn}: for long-lived connections. */
  LEAST_CONNECTIONS("least-connections"),
  /** Power of two random choices (weighted) on active connections, as Envoy's least-request. */
  RANDOM_TWO("random-two"),
  /** Consistent hashing of the client IP: a client keeps its upstream while the pool stays the same. */
  SOURCE_HASH("source-hash");

  private final String configValue;

  BalanceAlgorithm(String configValue) {
    this.configValue = configValue;
  }

  /** The value as written in configuration, e.g. {@code round-robin}. */
  public String configValue() {
    return configValue;
  }

  /**
   * Parses a configuration value.
   *
   * @throws IllegalArgumentException naming the choices, if the value is not one of them
   */
  public static BalanceAlgorithm fromConfig(String value) {
    for (BalanceAlgorithm a : values()) {
      if (a.configValue.equals(value)) {
        return a;
      }
    }
    throw new IllegalArgumentException(
        "must be one of round-robin, least-connections, random-two, source-hash, got " + Values.describe(value));
  }
}
