package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A route's upstream pool: its upstreams, how clients are spread over them, how their health is judged.
 * <pre>
 *   upstreams:                      # "host:port" (weight 1) or {address: "host:port", weight: 1..256}
 *     - "db-0.db:5432"
 *     - {address: "db-1.db:5432", weight: 2}
 *   balance: round-robin            # round-robin | least-connections | random-two | source-hash
 *   panic-threshold: 50             # percent, 0..100 (0 = never panic)
 *   health:
 *     passive: {max-fails: 3, ejection-time: 10s, max-ejection-time: 5m}
 *     active: {enabled: false, interval: 2s, timeout: 2s, rise: 2, fall: 3, send: 'PING\r\n', expect: '+PONG'}
 * </pre>
 * <b>Panic threshold</b> (Envoy's, default 50 %): when fewer than this percentage of the non-draining upstreams
 * are healthy, health is ignored and clients spread over every non-draining upstream, so a misfiring check never
 * turns into refusing every client.
 *
 * <p>At most {@value #MAX_UPSTREAMS} upstreams: a pool's sets (healthy, tried by one client) are one 64-bit word,
 * and a route of more endpoints is better served by a Kubernetes Service name. The list may be empty here (the
 * embedded echo then stands in); a running pool never is. Duplicates (host ignoring case, and port) are refused.
 *
 * @param upstreams             0..{@value #MAX_UPSTREAMS} distinct upstreams, in configured order
 * @param balance               the algorithm
 * @param passive               passive health
 * @param active                active health
 * @param panicThresholdPercent 0..100
 */
public record PoolOptions(List<WeightedUpstream> upstreams, BalanceAlgorithm balance, PassiveHealthOptions passive,
                          ActiveHealthOptions active, int panicThresholdPercent) {

  public static final BalanceAlgorithm DEFAULT_BALANCE = BalanceAlgorithm.ROUND_ROBIN;
  public static final int DEFAULT_PANIC_THRESHOLD = 50;
  public static final int MAX_UPSTREAMS = 64;

  /** The keys a pool reads from its mapping (a route adds its own). */
  public static final Set<String> KEYS = Set.of("upstreams", "balance", "panic-threshold", "health");

  private static final Set<String> HEALTH_KEYS = Set.of("passive", "active");

  /**
   * The one place of validation of the pool's own fields (the nested options validate themselves).
   *
   * @throws ConfigException with keys relative to the pool ({@code upstreams[2]}, {@code panic-threshold})
   */
  public PoolOptions {
    ConfigPaths.checkNotNull("upstreams", upstreams);
    ConfigPaths.checkNotNull("balance", balance);
    ConfigPaths.checkNotNull("health.passive", passive);
    ConfigPaths.checkNotNull("health.active", active);
    if (upstreams.size() > MAX_UPSTREAMS) {
      throw new ConfigException("upstreams", "must have at most " + MAX_UPSTREAMS + " entries, got "
          + upstreams.size());
    }
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < upstreams.size(); i++) {
      WeightedUpstream u = ConfigPaths.checkNotNull("upstreams[" + i + "]", upstreams.get(i));
      Integer first = seen.putIfAbsent(ConfigReader.identity(u.address()), i);
      if (first != null) {
        throw new ConfigException("upstreams[" + i + "]", "duplicate of upstreams[" + first + "], got "
            + Values.quote(u.address().toString()));
      }
    }
    upstreams = List.copyOf(upstreams);
    ConfigPaths.checkRange("panic-threshold", panicThresholdPercent, 0, 100);
  }

  /** These upstreams, weight 1 each, and every default. */
  public static PoolOptions of(List<UpstreamAddress> addresses) {
    List<WeightedUpstream> list = new ArrayList<>(addresses.size());
    for (UpstreamAddress a : addresses) {
      list.add(WeightedUpstream.of(a));
    }
    return new PoolOptions(list, DEFAULT_BALANCE, PassiveHealthOptions.DEFAULTS, ActiveHealthOptions.DEFAULTS,
        DEFAULT_PANIC_THRESHOLD);
  }

  public PoolOptions withUpstreams(List<WeightedUpstream> replacement) {
    return new PoolOptions(replacement, balance, passive, active, panicThresholdPercent);
  }

  public PoolOptions withBalance(BalanceAlgorithm algorithm) {
    return new PoolOptions(upstreams, algorithm, passive, active, panicThresholdPercent);
  }

  public PoolOptions withPassive(PassiveHealthOptions options) {
    return new PoolOptions(upstreams, balance, options, active, panicThresholdPercent);
  }

  public PoolOptions withActive(ActiveHealthOptions options) {
    return new PoolOptions(upstreams, balance, passive, options, panicThresholdPercent);
  }

  public PoolOptions withPanicThreshold(int percent) {
    return new PoolOptions(upstreams, balance, passive, active, percent);
  }

  /**
   * Reads a pool strictly: keys other than {@link #KEYS} are rejected; absent keys keep their defaults.
   *
   * @param prefix the mapping's own key, e.g. {@code routes[1]} ({@code ""} at the top level)
   * @throws ConfigException naming the full dotted key
   */
  public static PoolOptions fromJson(JsonObject json, String prefix) {
    return fromJson(json, prefix, Set.of());
  }

  /**
   * Reads a pool from a mapping that also holds its owner's keys ({@code ownerKeys}, e.g. a route's
   * {@code listen}), which are left to the owner; any other unknown key is rejected.
   */
  public static PoolOptions fromJson(JsonObject json, String prefix, Set<String> ownerKeys) {
    Objects.requireNonNull(json, "json");
    Set<String> allowed = new HashSet<>(KEYS);
    allowed.addAll(ownerKeys);
    ConfigReader.checkKeys(json, prefix, allowed);
    List<WeightedUpstream> upstreams = upstreams(json.getValue("upstreams"), ConfigPaths.path(prefix, "upstreams"));
    String balanceKey = ConfigPaths.path(prefix, "balance");
    String balanceText = ConfigReader.string(json.getValue("balance"), balanceKey);
    BalanceAlgorithm balance = DEFAULT_BALANCE;
    if (balanceText != null) {
      try {
        balance = BalanceAlgorithm.fromConfig(balanceText);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(balanceKey, e.getMessage());
      }
    }
    Integer panic = ConfigPaths.integer(json.getValue("panic-threshold"), ConfigPaths.path(prefix, "panic-threshold"),
        0, 100);
    JsonObject health = ConfigPaths.section(json, prefix, "health", HEALTH_KEYS);
    String healthKey = ConfigPaths.path(prefix, "health");
    PassiveHealthOptions passive = PassiveHealthOptions.fromJson(
        ConfigPaths.section(health, healthKey, "passive", PassiveHealthOptions.KEYS),
        ConfigPaths.path(healthKey, "passive"));
    ActiveHealthOptions active = ActiveHealthOptions.fromJson(
        ConfigPaths.section(health, healthKey, "active", ActiveHealthOptions.KEYS),
        ConfigPaths.path(healthKey, "active"));
    try {
      return new PoolOptions(upstreams, balance, passive, active, panic == null ? DEFAULT_PANIC_THRESHOLD : panic);
    } catch (ConfigException e) {
      throw ConfigPaths.under(prefix, e);
    }
  }

  private static List<WeightedUpstream> upstreams(Object value, String key) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof JsonArray)) {
      throw new ConfigException(key, "must be a list of \"host:port\" strings or {address, weight} mappings, got "
          + Values.describe(value));
    }
    JsonArray array = (JsonArray) value;
    List<WeightedUpstream> result = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      result.add(WeightedUpstream.fromJson(array.getValue(i), key + "[" + i + "]"));
    }
    return result;
  }

  /** The YAML shape (every upstream as a mapping); {@link #fromJson} reads it back to an equal value. */
  public JsonObject toJson() {
    JsonArray ups = new JsonArray();
    upstreams.forEach(u -> ups.add(u.toJson()));
    return new JsonObject()
        .put("upstreams", ups)
        .put("balance", balance.configValue())
        .put("panic-threshold", panicThresholdPercent)
        .put("health", new JsonObject().put("passive", passive.toJson()).put("active", active.toJson()));
  }
}
