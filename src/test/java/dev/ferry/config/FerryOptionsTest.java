package dev.ferry.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The configuration model: defaults, the shorthand's one route, routes inheriting the top level's keys, the round
 * trip through {@link FerryOptions#toJson()}, and the rules that relate sections (the rules of one section, and every
 * message, are in {@link BadConfigTest}).
 */
class FerryOptionsTest {

  @Test
  void defaultsAreTheDocumentedValues() {
    FerryOptions options = FerryOptions.defaults();
    RouteOptions route = options.routes().get(0);

    assertThat(options.shorthand()).isTrue();
    assertThat(route.name()).isEqualTo("default");
    assertThat(route.listen()).isEqualTo(new ListenOptions("0.0.0.0", 7000, 1024));
    assertThat(route.pool().upstreams()).isEmpty();
    assertThat(route.pool().balance()).isEqualTo(BalanceAlgorithm.ROUND_ROBIN);
    assertThat(route.connect()).isEqualTo(new ConnectOptions(Duration.ofSeconds(5), 3));
    assertThat(route.idleTimeout()).isEqualTo(Duration.ofMinutes(5));
    assertThat(route.buffer()).isEqualTo(new BufferOptions(65536, 1048576));
    assertThat(route.close()).isEqualTo(new CloseOptions(Duration.ofSeconds(5), true, Duration.ofMinutes(1)));
    assertThat(route.limits()).isEqualTo(new RouteLimits(0, 0));
    assertThat(route.splice()).isFalse();
    assertThat(options.admin()).isEqualTo(new AdminOptions("0.0.0.0", 9900, null, 64, Duration.ofSeconds(10),
        Duration.ofSeconds(60)));
    assertThat(options.effectiveInstances()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(options.transport()).isEqualTo(TransportMode.AUTO);
    assertThat(options.registry()).isEqualTo(new RegistryOptions(1, Duration.ofSeconds(30), Duration.ofSeconds(1)));
    assertThat(options.drainTimeout()).isEqualTo(Duration.ofSeconds(20));
    assertThat(options.echo()).isEqualTo(new EchoOptions(true, "127.0.0.1", 7001));
    assertThat(options.accessLog()).isTrue();
    assertThat(options.limits()).isEqualTo(new ProcessLimits(10_000, 256 * 1024 * 1024));
  }

  @Test
  void nullValuesKeepDefaults() {
    JsonObject json = new JsonObject()
        .putNull("listen")
        .put("admin", new JsonObject().putNull("port"))
        .putNull("upstreams")
        .putNull("idle-timeout");

    assertThat(FerryOptions.fromJson(json)).isEqualTo(FerryOptions.defaults());
  }

  @Test
  void theShippedConfFileLoadsAsTheDefaults() {
    assertThat(ConfigLoader.loadBlocking(Path.of("conf/ferry.yaml").toString(), Map.of()))
        .isEqualTo(FerryOptions.defaults());
  }

  @Test
  void defaultsRoundTripThroughJson() {
    FerryOptions defaults = FerryOptions.defaults();
    assertThat(FerryOptions.fromJson(defaults.toJson())).isEqualTo(defaults);
  }

  @Test
  void aCustomizedShorthandRoundTripsThroughJson() {
    FerryOptions options = FerryOptions.fromJson(new JsonObject()
        .put("listen", new JsonObject().put("host", "127.0.0.1").put("port", 7100))
        .put("upstreams", new JsonArray().add("a:1").add(new JsonObject().put("address", "[::1]:2").put("weight", 3)))
        .put("balance", "source-hash")
        .put("buffer", new JsonObject().put("soft-limit", "16KiB").put("hard-limit", "1MiB"))
        .put("close", new JsonObject().put("half-close", false).put("half-closed-timeout", "30s"))
        .put("limits", new JsonObject().put("max-connections", 5).put("max-connections-per-source", 2))
        .put("admin", new JsonObject().put("token", "secret"))
        .put("instances", 2));

    assertThat(FerryOptions.fromJson(options.toJson())).isEqualTo(options);
    assertThat(options.toString()).doesNotContain("secret").contains("***");
  }

  @Test
  void routesInheritEveryTopLevelKeyTheyDoNotSetAndKeepTheirOwn() {
    FerryOptions options = FerryOptions.fromJson(new JsonObject()
        .put("connect", new JsonObject().put("timeout", "2s").put("attempts", 5))
        .put("idle-timeout", "10m")
        .put("buffer", new JsonObject().put("soft-limit", "32KiB"))
        .put("health", new JsonObject().put("passive", new JsonObject().put("max-fails", 2)))
        .put("limits", new JsonObject().put("max-connections", 100).put("max-connections-per-source", 7))
        .put("routes", new JsonArray()
            .add(new JsonObject().put("name", "postgres").put("listen", new JsonObject().put("port", 5432))
                .put("upstreams", new JsonArray().add("db-0.db:5432").add("db-1.db:5432")))
            .add(new JsonObject().put("name", "redis").put("listen", new JsonObject().put("port", 6379))
                .put("upstreams", new JsonArray().add("redis:6379"))
                .put("connect", new JsonObject().put("attempts", 2))
                .put("health", new JsonObject().put("passive", new JsonObject().put("ejection-time", "3s")))
                .put("limits", new JsonObject().put("max-connections", 50)))));

    assertThat(options.shorthand()).isFalse();
    assertThat(options.routes()).extracting(RouteOptions::name).containsExactly("postgres", "redis");
    RouteOptions postgres = options.route("postgres");
    RouteOptions redis = options.route("redis");
    assertThat(postgres.connect()).isEqualTo(new ConnectOptions(Duration.ofSeconds(2), 5));
    assertThat(redis.connect()).as("a key set merges with the section's others").isEqualTo(
        new ConnectOptions(Duration.ofSeconds(2), 2));
    assertThat(List.of(postgres.idleTimeout(), redis.idleTimeout())).containsOnly(Duration.ofMinutes(10));
    assertThat(List.of(postgres.buffer().softLimit(), redis.buffer().softLimit())).containsOnly(32 * 1024);
    assertThat(redis.pool().passive().maxFails()).as("nested sections merge too").isEqualTo(2);
    assertThat(redis.pool().passive().ejectionTime()).isEqualTo(Duration.ofSeconds(3));
    assertThat(postgres.limits()).isEqualTo(new RouteLimits(0, 7));
    assertThat(redis.limits()).isEqualTo(new RouteLimits(50, 7));
    assertThat(options.limits().maxConnections()).as("the process's own").isEqualTo(100);
    assertThat(postgres.listen()).isEqualTo(new ListenOptions("0.0.0.0", 5432, 1024));
    assertThat(FerryOptions.fromJson(options.toJson())).isEqualTo(options);
  }

  @Test
  void theShorthandIsTheSameAsOneRouteNamedDefault() {
    JsonObject routeKeys = new JsonObject().put("listen", new JsonObject().put("port", 7100))
        .put("upstreams", new JsonArray().add("a:1")).put("splice", true);
    FerryOptions shorthand = FerryOptions.fromJson(routeKeys.copy());
    FerryOptions explicit = FerryOptions.fromJson(new JsonObject()
        .put("routes", new JsonArray().add(routeKeys.copy().put("name", "default"))));

    assertThat(explicit.routes()).isEqualTo(shorthand.routes());
  }

  @Test
  void instancesZeroMeansOnePerProcessorAndOtherCountsAreKept() {
    assertThat(FerryOptions.fromJson(new JsonObject().put("instances", 0)).effectiveInstances())
        .isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(FerryOptions.fromJson(new JsonObject().put("instances", 3)).effectiveInstances()).isEqualTo(3);
  }

  @Test
  void readsDurationsInEveryUnitAndAsMilliseconds() {
    assertThat(idle("250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(idle("5s")).isEqualTo(Duration.ofSeconds(5));
    assertThat(idle("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(idle("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(idle(1500)).isEqualTo(Duration.ofMillis(1500));
    assertThat(idle(0)).as("idle-timeout 0 turns it off").isZero();
  }

  private static Duration idle(Object value) {
    return FerryOptions.fromJson(new JsonObject().put("idle-timeout", value)).routes().get(0).idleTimeout();
  }

  @Test
  void readsSizesWithBinarySuffixes() {
    JsonObject json = new JsonObject().put("buffer", new JsonObject().put("soft-limit", "16KiB").put("hard-limit",
        "2MiB")).put("limits", new JsonObject().put("max-buffered-bytes", "1GiB"));
    FerryOptions options = FerryOptions.fromJson(json);
    assertThat(options.routes().get(0).buffer()).isEqualTo(new BufferOptions(16 * 1024, 2 * 1024 * 1024));
    assertThat(options.limits().maxBufferedBytes()).isEqualTo(1 << 30);
  }

  @Test
  void readsUpstreamsInOrderWithWeightsAndIpv6() {
    FerryOptions options = FerryOptions.fromJson(new JsonObject().put("upstreams", new JsonArray()
        .add("b:2").add("[::1]:7001").add(new JsonObject().put("address", "a:1").put("weight", 4))));

    assertThat(options.routes().get(0).pool().upstreams()).containsExactly(
        new WeightedUpstream(new UpstreamAddress("b", 2), 1),
        new WeightedUpstream(new UpstreamAddress("::1", 7001), 1),
        new WeightedUpstream(new UpstreamAddress("a", 1), 4));
  }

  @Test
  void routesWithoutUpstreamsUseTheEchoUnlessItIsDisabled() {
    JsonObject twoRoutes = new JsonObject().put("routes", new JsonArray()
        .add(new JsonObject().put("name", "a").put("listen", new JsonObject().put("port", 7100)))
        .add(new JsonObject().put("name", "b").put("listen", new JsonObject().put("port", 7200))
            .put("upstreams", new JsonArray().add("x:1"))));
    assertThat(FerryOptions.fromJson(twoRoutes.copy()).route("a").pool().upstreams()).isEmpty();

    assertThatThrownBy(() -> FerryOptions.fromJson(twoRoutes.copy().put("echo", new JsonObject().put("enabled", false))))
        .hasMessage("routes[0].upstreams: must not be empty when echo.enabled is false");
  }

  @Test
  void twoRoutesMayShareAPortOnDifferentHostsButNotOnAWildcard() {
    JsonObject distinct = routes(route("a", "127.0.0.1", 7100), route("b", "127.0.0.2", 7100));
    assertThat(FerryOptions.fromJson(distinct).routes()).hasSize(2);

    assertThatThrownBy(() -> FerryOptions.fromJson(routes(route("a", "0.0.0.0", 7100), route("b", "127.0.0.2", 7100))))
        .hasMessageStartingWith("routes[1].listen: the same address as routes[0].listen (0.0.0.0:7100), got "
            + "127.0.0.2:7100; only routes with tls.mode passthrough may share an address");
    assertThat(FerryOptions.fromJson(routes(route("a", "127.0.0.1", 0), route("b", "127.0.0.1", 0))).routes())
        .as("two ephemeral ports never collide").hasSize(2);
  }

  @Test
  void passthroughRoutesShareAnAddressEachWithItsOwnNamesAndTheirOptionsRoundTrip() {
    JsonObject json = routes(
        route("api", "0.0.0.0", 8443).put("sni", new JsonArray().add("API.example.com.").add("*.api.example.com")),
        route("web", "0.0.0.0", 8443),
        route("mail", "0.0.0.0", 8443).put("sni", new JsonArray().add("mail.example.com")));
    json.put("tls", new JsonObject().put("mode", "passthrough"))
        .put("proxy-protocol", new JsonObject().put("accept", "any").put("send", "v2"));

    FerryOptions options = FerryOptions.fromJson(json);

    assertThat(options.routes()).extracting(RouteOptions::sni)
        .containsExactly(List.of("api.example.com", "*.api.example.com"), List.of(), List.of("mail.example.com"));
    assertThat(options.route("web").proxyProtocol().accept()).isEqualTo(ProxyProtocolAccept.ANY);
    assertThat(FerryOptions.fromJson(options.toJson())).isEqualTo(options);
  }

  @Test
  void yamlsBareOffReadsAsOff() {
    JsonObject json = new JsonObject().put("proxy-protocol", new JsonObject().put("accept", false).put("send", false))
        .put("tls", new JsonObject().put("mode", false));
    assertThat(FerryOptions.fromJson(json)).isEqualTo(FerryOptions.defaults());
  }

  private static JsonObject route(String name, String host, int port) {
    return new JsonObject().put("name", name).put("listen", new JsonObject().put("host", host).put("port", port))
        .put("upstreams", new JsonArray().add("x:1"));
  }

  private static JsonObject routes(JsonObject... routes) {
    JsonArray list = new JsonArray();
    for (JsonObject r : routes) {
      list.add(r);
    }
    return new JsonObject().put("routes", list);
  }

  @Test
  void crossSectionRulesNameTheRouteTheyConcern() {
    JsonObject bigSoftLimit = routes(route("a", "127.0.0.1", 7100),
        route("b", "127.0.0.1", 7200).put("buffer", new JsonObject().put("soft-limit", "512MiB")
            .put("hard-limit", "1GiB")));
    assertThatThrownBy(() -> FerryOptions.fromJson(bigSoftLimit))
        .hasMessage("limits.max-buffered-bytes: must not be less than routes[1].buffer.soft-limit (536870912), got "
            + "268435456");

    JsonObject slowFlush = routes(route("a", "127.0.0.1", 7100).put("close", new JsonObject()
        .put("flush-timeout", "1m")));
    assertThatThrownBy(() -> FerryOptions.fromJson(slowFlush))
        .hasMessage("registry.release-timeout: must be greater than routes[0].close.flush-timeout (1m), got 30s");
  }

  @Test
  void sectionsBuiltInCodeFollowTheSameRules() {
    assertThatThrownBy(() -> new BufferOptions(4096, 2048))
        .hasMessage("hard-limit: must not be less than buffer.soft-limit (4096), got 2048");
    assertThatThrownBy(() -> new ConnectOptions(Duration.ZERO, 3))
        .hasMessage("timeout: must be greater than 0, got 0s");
    assertThatThrownBy(() -> new ListenOptions("0.0.0.0", 70000, 10))
        .hasMessage("port: must be between 0 and 65535, got 70000");
    assertThatThrownBy(() -> new RouteOptions("Bad_Name", ListenOptions.DEFAULTS, PoolOptions.of(List.of()),
        ConnectOptions.DEFAULTS, Duration.ZERO, BufferOptions.DEFAULTS, CloseOptions.DEFAULTS, RouteLimits.DEFAULTS,
        false, ProxyProtocolOptions.DEFAULTS, TlsOptions.DEFAULTS, List.of(), UpstreamTlsOptions.DEFAULTS))
        .hasMessageStartingWith("name: must be 1 to 63 lowercase letters");
    assertThatThrownBy(() -> new TlsOptions(TlsMode.TERMINATE, null, null, TlsProvider.AUTO, List.of("TLSv1.3"),
        List.of(), Duration.ofSeconds(1))).hasMessage("certificate: must be set (a PEM file)");
  }

  @Test
  void aPoolReplacedByAReloadKeepsEverythingElse() {
    FerryOptions options = FerryOptions.fromJson(new JsonObject().put("upstreams", new JsonArray().add("a:1")));
    PoolOptions next = PoolOptions.of(List.of(new UpstreamAddress("b", 2)));

    FerryOptions reloaded = options.withPool("default", next);

    assertThat(reloaded.routes().get(0).pool()).isEqualTo(next);
    assertThat(reloaded.withPool("default", options.routes().get(0).pool())).isEqualTo(options);
  }
}
