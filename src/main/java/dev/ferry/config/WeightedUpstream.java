package dev.ferry.config;

import io.vertx.core.json.JsonObject;
import java.util.Objects;
import java.util.Set;

/**
 * One upstream of a pool and its share of new clients. In YAML an entry is either a {@code "host:port"} string
 * (weight 1) or a mapping {@code {address: "host:port", weight: 2}}.
 *
 * <p>The range is HAProxy's (1..256). Weight 0 is refused: in HAProxy it means "no new clients", which Ferry
 * expresses as an admin drain; a configured 0 would be a second, silent way to starve an upstream.
 *
 * @param address the upstream; its {@code toString()} ({@code host:port}) is the upstream's label everywhere
 * @param weight  1..{@value #MAX_WEIGHT}
 */
public record WeightedUpstream(UpstreamAddress address, int weight) {

  public static final int DEFAULT_WEIGHT = 1;
  public static final int MIN_WEIGHT = 1;
  public static final int MAX_WEIGHT = 256;

  private static final Set<String> KEYS = Set.of("address", "weight");

  /**
   * The one place of validation.
   *
   * @throws ConfigException with keys {@code address} or {@code weight}
   */
  public WeightedUpstream {
    ConfigPaths.checkNotNull("address", address);
    if (weight < MIN_WEIGHT || weight > MAX_WEIGHT) {
      throw new ConfigException("weight", Values.between(MIN_WEIGHT, MAX_WEIGHT, weight)
          + (weight == 0 ? "; to send an upstream no new clients, drain it instead" : ""));
    }
  }

  /** Weight {@value #DEFAULT_WEIGHT}. */
  public static WeightedUpstream of(UpstreamAddress address) {
    return new WeightedUpstream(address, DEFAULT_WEIGHT);
  }

  /** The label of metrics, logs and the admin API: {@code host:port} as configured. */
  public String label() {
    return address.toString();
  }

  /**
   * Reads one list entry.
   *
   * @param key the entry's full key, e.g. {@code routes[0].upstreams[2]}
   * @throws ConfigException naming {@code key} or one of its fields
   */
  public static WeightedUpstream fromJson(Object value, String key) {
    Objects.requireNonNull(key, "key");
    if (value instanceof String) {
      return new WeightedUpstream(parse((String) value, key), DEFAULT_WEIGHT);
    }
    if (!(value instanceof JsonObject)) {
      throw new ConfigException(key, "must be a \"host:port\" string or a mapping with address and weight, got "
          + Values.describe(value));
    }
    JsonObject json = (JsonObject) value;
    ConfigReader.checkKeys(json, key, KEYS);
    Object address = json.getValue("address");
    if (address == null) {
      throw new ConfigException(ConfigPaths.path(key, "address"), "missing, expected a \"host:port\" string");
    }
    if (!(address instanceof String)) {
      throw new ConfigException(ConfigPaths.path(key, "address"), "must be a \"host:port\" string, got "
          + Values.describe(address));
    }
    UpstreamAddress parsed = parse((String) address, ConfigPaths.path(key, "address"));
    Integer weight = ConfigPaths.integer(json.getValue("weight"), ConfigPaths.path(key, "weight"), MIN_WEIGHT,
        MAX_WEIGHT);
    try {
      return new WeightedUpstream(parsed, weight == null ? DEFAULT_WEIGHT : weight);
    } catch (ConfigException e) {
      throw ConfigPaths.under(key, e);
    }
  }

  private static UpstreamAddress parse(String text, String key) {
    try {
      return UpstreamAddress.parse(text);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key, e.getMessage());
    }
  }

  /** The mapping form; {@link #fromJson} reads it back to an equal value. */
  public JsonObject toJson() {
    return new JsonObject().put("address", address.toString()).put("weight", weight);
  }
}
