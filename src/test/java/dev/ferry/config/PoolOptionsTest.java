package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.Yaml;

/** The pool's option types: defaults, YAML shapes, the round trip, and one message per bad value. */
class PoolOptionsTest {

  /** YAML as the loader sees it: snakeyaml's types (Integer, Long, BigInteger, ...) in Vert.x JSON. */
  @SuppressWarnings("unchecked")
  static JsonObject yaml(String text) {
    Object loaded = new Yaml().load(text);
    return loaded == null ? new JsonObject() : new JsonObject((Map<String, Object>) loaded);
  }

  @Test
  void anEmptyMappingGivesTheDocumentedDefaults() {
    PoolOptions pool = PoolOptions.fromJson(new JsonObject(), "routes[0]");

    assertThat(pool.upstreams()).isEmpty();
    assertThat(pool.balance()).isEqualTo(BalanceAlgorithm.ROUND_ROBIN);
    assertThat(pool.panicThresholdPercent()).isEqualTo(50);
    assertThat(pool.passive()).isEqualTo(new PassiveHealthOptions(3, Duration.ofSeconds(10), Duration.ofMinutes(5)));
    assertThat(pool.active()).isEqualTo(ActiveHealthOptions.DEFAULTS);
    assertThat(pool.active().enabled()).isFalse();
    assertThat(pool.active().interval()).isEqualTo(Duration.ofSeconds(2));
    assertThat(pool.active().timeout()).as("timeout defaults to the interval").isEqualTo(Duration.ofSeconds(2));
    assertThat(pool.active().rise()).isEqualTo(2);
    assertThat(pool.active().fall()).isEqualTo(3);
    assertThat(pool.active().send()).isNull();
    assertThat(pool.active().expect()).isNull();
  }

  @Test
  void readsUpstreamsAsStringsOrMappingsWithAWeight() {
    PoolOptions pool = PoolOptions.fromJson(yaml("""
        upstreams:
          - "db-0.db:5432"
          - {address: "[::1]:7001", weight: 3}
          - {address: "10.0.0.2:5432"}
        balance: source-hash
        panic-threshold: 0
        """), "routes[0]");

    assertThat(pool.upstreams()).containsExactly(
        new WeightedUpstream(new UpstreamAddress("db-0.db", 5432), 1),
        new WeightedUpstream(new UpstreamAddress("::1", 7001), 3),
        new WeightedUpstream(new UpstreamAddress("10.0.0.2", 5432), 1));
    assertThat(pool.upstreams().get(1).label()).isEqualTo("[::1]:7001");
    assertThat(pool.balance()).isEqualTo(BalanceAlgorithm.SOURCE_HASH);
    assertThat(pool.panicThresholdPercent()).isZero();
  }

  @Test
  void readsActiveChecksWithEscapedSendAndExpectBytes() {
    PoolOptions pool = PoolOptions.fromJson(yaml("""
        health:
          active:
            enabled: true
            interval: 500ms
            rise: 1
            fall: 2
            send: 'PING\\r\\n'
            expect: '+PONG'
          passive:
            max-fails: 0
        """), "");

    ActiveHealthOptions active = pool.active();
    assertThat(active.enabled()).isTrue();
    assertThat(active.interval()).isEqualTo(Duration.ofMillis(500));
    assertThat(active.timeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(active.sendBytes()).isEqualTo("PING\r\n".getBytes(StandardCharsets.US_ASCII));
    assertThat(active.expectBytes()).isEqualTo("+PONG".getBytes(StandardCharsets.US_ASCII));
    assertThat(pool.passive().enabled()).isFalse();
  }

  @Test
  void yamlDoubleQuotesDecodeTheSameEscapesToTheSameBytes() {
    ActiveHealthOptions single = PoolOptions.fromJson(yaml("health: {active: {send: 'PING\\r\\n'}}"), "").active();
    ActiveHealthOptions dbl = PoolOptions.fromJson(yaml("health: {active: {send: \"PING\\r\\n\"}}"), "").active();

    assertThat(dbl.sendBytes()).isEqualTo(single.sendBytes()).isEqualTo("PING\r\n".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void toJsonReadsBackToAnEqualPool() {
    PoolOptions pool = new PoolOptions(
        List.of(new WeightedUpstream(new UpstreamAddress("a.svc", 1), 2), WeightedUpstream.of(
            new UpstreamAddress("fe80::1%eth0", 9))),
        BalanceAlgorithm.RANDOM_TWO,
        new PassiveHealthOptions(5, Duration.ofMillis(250), Duration.ofHours(1)),
        new ActiveHealthOptions(true, Duration.ofSeconds(3), Duration.ofSeconds(1), 4, 1, "\\x00\\x01PING\\r\\n",
            "\\\\ok"),
        75);

    assertThat(PoolOptions.fromJson(pool.toJson(), "routes[3]")).isEqualTo(pool);
    assertThat(PoolOptions.fromJson(new JsonObject(pool.toJson().encode()), "")).as("through JSON text")
        .isEqualTo(pool);
  }

  @Test
  void aRouteKeepsItsOwnKeysAndAnyOtherUnknownKeyIsRefused() {
    JsonObject route = yaml("listen: {port: 7000}\nname: db\nupstreams: [\"a:1\"]\n");

    assertThat(PoolOptions.fromJson(route, "routes[0]", Set.of("listen", "name")).upstreams()).hasSize(1);
    assertThatThrownBy(() -> PoolOptions.fromJson(route, "routes[0]"))
        .isInstanceOf(ConfigException.class).hasMessage("routes[0].listen: unknown key");
  }

  @Test
  void optionsBuiltInCodeAreCheckedByTheSameRulesWithRelativeKeys() {
    assertThatThrownBy(() -> new ActiveHealthOptions(true, Duration.ofSeconds(2), null, 0, 3, null, null))
        .isInstanceOfSatisfying(ConfigException.class, e -> {
          assertThat(e.key()).isEqualTo("rise");
          assertThat(e.reason()).isEqualTo("must be between 1 and 100, got 0");
        });
    assertThatThrownBy(() -> new WeightedUpstream(new UpstreamAddress("a", 1), 0))
        .isInstanceOf(ConfigException.class)
        .hasMessage("weight: must be between 1 and 256, got 0; to send an upstream no new clients, drain it instead");
    assertThatThrownBy(() -> PoolOptions.of(List.of(new UpstreamAddress("A", 1), new UpstreamAddress("a", 1))))
        .isInstanceOf(ConfigException.class).hasMessage("upstreams[1]: duplicate of upstreams[0], got \"a:1\"");
  }

  @Test
  void balanceNamesReadBackFromTheirConfigValues() {
    for (BalanceAlgorithm a : BalanceAlgorithm.values()) {
      assertThat(BalanceAlgorithm.fromConfig(a.configValue())).isEqualTo(a);
    }
  }

  static Stream<Arguments> badPools() {
    String sixtyFive = IntStream.range(0, 65).mapToObj(i -> "\"h" + i + ":1\"").collect(Collectors.joining(", "));
    return Stream.of(
        bad("rise 0", "health: {active: {rise: 0}}",
            "routes[1].health.active.rise: must be between 1 and 100, got 0"),
        bad("fall above 100", "health: {active: {fall: 101}}",
            "routes[1].health.active.fall: must be between 1 and 100, got 101"),
        bad("rise far beyond the int range", "health: {active: {rise: 99999999999}}",
            "routes[1].health.active.rise: must be between 1 and 100, got 99999999999"),
        bad("weight 0", "upstreams: [\"a:1\", {address: \"b:1\", weight: 0}]",
            "routes[1].upstreams[1].weight: must be between 1 and 256, got 0; "
                + "to send an upstream no new clients, drain it instead"),
        bad("weight above 256", "upstreams: [{address: \"b:1\", weight: 257}]",
            "routes[1].upstreams[0].weight: must be between 1 and 256, got 257"),
        bad("weight as a string", "upstreams: [{address: \"b:1\", weight: \"2\"}]",
            "routes[1].upstreams[0].weight: must be an integer, got \"2\""),
        bad("unknown balance", "balance: rr",
            "routes[1].balance: must be one of round-robin, least-connections, random-two, source-hash, got \"rr\""),
        bad("duplicate upstream, host case aside", "upstreams: [\"db:5432\", \"x:1\", {address: \"DB:5432\"}]",
            "routes[1].upstreams[2]: duplicate of upstreams[0], got \"DB:5432\""),
        bad("more than 64 upstreams", "upstreams: [" + sixtyFive + "]",
            "routes[1].upstreams: must have at most 64 entries, got 65"),
        bad("unknown key of the pool", "balanse: round-robin", "routes[1].balanse: unknown key"),
        bad("unknown key under health", "health: {pasive: {}}", "routes[1].health.pasive: unknown key"),
        bad("unknown key under active", "health: {active: {rize: 2}}", "routes[1].health.active.rize: unknown key"),
        bad("unknown key of an upstream", "upstreams: [{address: \"a:1\", wieght: 2}]",
            "routes[1].upstreams[0].wieght: unknown key"),
        bad("upstream mapping without address", "upstreams: [{weight: 2}]",
            "routes[1].upstreams[0].address: missing, expected a \"host:port\" string"),
        bad("upstream without port", "upstreams: [\"db\"]",
            "routes[1].upstreams[0]: missing port, expected \"host:port\", got \"db\""),
        bad("upstream mapping with a bad address", "upstreams: [{address: \"db:0\"}]",
            "routes[1].upstreams[0].address: port must be between 1 and 65535, got \"db:0\""),
        bad("upstream entry that is a number", "upstreams: [5]",
            "routes[1].upstreams[0]: must be a \"host:port\" string or a mapping with address and weight, got 5"),
        bad("upstreams not a list", "upstreams: \"a:1\"",
            "routes[1].upstreams: must be a list of \"host:port\" strings or {address, weight} mappings, "
                + "got \"a:1\""),
        bad("health not a mapping", "health: 5", "routes[1].health: must be a mapping, got 5"),
        bad("timeout above the interval", "health: {active: {interval: 1s, timeout: 2s}}",
            "routes[1].health.active.timeout: must not be greater than interval (1s), got 2s"),
        bad("interval too short", "health: {active: {interval: 5ms}}",
            "routes[1].health.active.interval: must be between 10ms and 1h, got 5ms"),
        bad("timeout 0", "health: {active: {timeout: 0}}",
            "routes[1].health.active.timeout: must be between 1ms and 2s, got 0s"),
        bad("enabled not a boolean", "health: {active: {enabled: yes please}}",
            "routes[1].health.active.enabled: must be a boolean, got \"yes please\""),
        bad("send with an unknown escape", "health: {active: {send: 'PING\\q'}}",
            "routes[1].health.active.send: unknown escape \"\\q\" at index 4; use \\r \\n \\t \\0 \\\\ or \\xHH, "
                + "got \"PING\\\\q\""),
        bad("send with a short hex escape", "health: {active: {send: 'A\\x4'}}",
            "routes[1].health.active.send: \\x at index 1 must be followed by two hex digits, got \"A\\\\x4\""),
        bad("empty expect", "health: {active: {expect: ''}}",
            "routes[1].health.active.expect: must not be empty (leave it out instead)"),
        bad("expect over 1 KiB", "health: {active: {expect: '" + "x".repeat(1025) + "'}}",
            "routes[1].health.active.expect: must be at most 1024 bytes, got 1025"),
        bad("negative max-fails", "health: {passive: {max-fails: -1}}",
            "routes[1].health.passive.max-fails: must be between 0 and 100, got -1"),
        bad("ejection-time 0", "health: {passive: {ejection-time: 0}}",
            "routes[1].health.passive.ejection-time: must be between 1ms and 1h, got 0s"),
        bad("max-ejection-time below ejection-time", "health: {passive: {ejection-time: 30s, max-ejection-time: 10s}}",
            "routes[1].health.passive.max-ejection-time: must not be less than ejection-time (30s), got 10s"),
        bad("negative ejection-time", "health: {passive: {ejection-time: -5s}}",
            "routes[1].health.passive.ejection-time: must not be negative, got -5s"),
        bad("panic-threshold above 100", "panic-threshold: 101",
            "routes[1].panic-threshold: must be between 0 and 100, got 101"));
  }

  private static Arguments bad(String description, String yaml, String message) {
    return Arguments.of(description, yaml, message);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badPools")
  void aBadPoolIsRefusedWithOneLineNamingTheKey(String description, String yaml, String message) {
    assertThatThrownBy(() -> PoolOptions.fromJson(yaml(yaml), "routes[1]"))
        .isInstanceOf(ConfigException.class).hasMessage(message);
  }

  @Test
  void atTheTopLevelKeysHaveNoPrefix() {
    assertThatThrownBy(() -> PoolOptions.fromJson(yaml("health: {active: {rise: 0}}"), ""))
        .isInstanceOf(ConfigException.class).hasMessage("health.active.rise: must be between 1 and 100, got 0");
  }
}
