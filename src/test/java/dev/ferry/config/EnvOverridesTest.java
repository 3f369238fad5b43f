package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvOverridesTest {

  @Test
  void publishesTheMappingOfEveryVariable() {
    assertThat(EnvOverrides.VARIABLES).containsExactly(
        Map.entry("FERRY_LISTEN_HOST", "listen.host"),
        Map.entry("FERRY_LISTEN_PORT", "listen.port"),
        Map.entry("FERRY_ADMIN_HOST", "admin.host"),
        Map.entry("FERRY_ADMIN_PORT", "admin.port"),
        Map.entry("FERRY_ADMIN_TOKEN", "admin.token"),
        Map.entry("FERRY_INSTANCES", "instances"),
        Map.entry("FERRY_TRANSPORT", "transport"),
        Map.entry("FERRY_UPSTREAMS", "upstreams"),
        Map.entry("FERRY_CONNECT_TIMEOUT", "connect.timeout"),
        Map.entry("FERRY_CONNECT_ATTEMPTS", "connect.attempts"),
        Map.entry("FERRY_IDLE_TIMEOUT", "idle-timeout"),
        Map.entry("FERRY_HALF_CLOSE", "close.half-close"),
        Map.entry("FERRY_HALF_CLOSED_TIMEOUT", "close.half-closed-timeout"),
        Map.entry("FERRY_DRAIN_TIMEOUT", "shutdown.drain-timeout"),
        Map.entry("FERRY_REGISTRY_SHARDS", "registry.shards"),
        Map.entry("FERRY_ECHO_ENABLED", "echo.enabled"),
        Map.entry("FERRY_ACCESS_LOG", "log.access"),
        Map.entry("FERRY_SPLICE", "splice"),
        Map.entry("FERRY_MAX_CONNECTIONS", "limits.max-connections"),
        Map.entry("FERRY_MAX_CONNECTIONS_PER_SOURCE", "limits.max-connections-per-source"));
  }

  @Test
  void mapsEveryVariableOntoItsConfigPath() {
    Map<String, String> env = Map.ofEntries(
        Map.entry("FERRY_LISTEN_HOST", "127.0.0.1"),
        Map.entry("FERRY_LISTEN_PORT", "8080"),
        Map.entry("FERRY_ADMIN_HOST", "127.0.0.2"),
        Map.entry("FERRY_ADMIN_PORT", " 9901 "),
        Map.entry("FERRY_INSTANCES", "4"),
        Map.entry("FERRY_TRANSPORT", "nio"),
        Map.entry("FERRY_UPSTREAMS", " a:1 , [::1]:2,, "),
        Map.entry("FERRY_CONNECT_TIMEOUT", "250ms"),
        Map.entry("FERRY_CONNECT_ATTEMPTS", "5"),
        Map.entry("FERRY_IDLE_TIMEOUT", "0"),
        Map.entry("FERRY_HALF_CLOSE", "false"),
        Map.entry("FERRY_HALF_CLOSED_TIMEOUT", "30s"),
        Map.entry("FERRY_DRAIN_TIMEOUT", "1m"),
        Map.entry("FERRY_REGISTRY_SHARDS", "16"),
        Map.entry("FERRY_ECHO_ENABLED", "FALSE"),
        Map.entry("FERRY_ACCESS_LOG", "false"));

    FerryOptions options = FerryOptions.fromJson(EnvOverrides.apply(new JsonObject(), env));
    RouteOptions route = options.routes().get(0);

    assertThat(route.listen().host()).isEqualTo("127.0.0.1");
    assertThat(route.listen().port()).isEqualTo(8080);
    assertThat(options.admin().host()).isEqualTo("127.0.0.2");
    assertThat(options.admin().port()).isEqualTo(9901);
    assertThat(options.instances()).isEqualTo(4);
    assertThat(options.transport()).isEqualTo(TransportMode.NIO);
    assertThat(route.pool().upstreams()).extracting(WeightedUpstream::address).containsExactly(new UpstreamAddress("a", 1), new UpstreamAddress("::1", 2));
    assertThat(route.connect().timeout()).isEqualTo(Duration.ofMillis(250));
    assertThat(route.connect().attempts()).isEqualTo(5);
    assertThat(route.idleTimeout()).isZero();
    assertThat(route.close().halfClose()).isFalse();
    assertThat(route.close().halfClosedTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(options.drainTimeout()).isEqualTo(Duration.ofMinutes(1));
    assertThat(options.registry().shards()).isEqualTo(16);
    assertThat(options.echo().enabled()).isFalse();
    assertThat(options.accessLog()).isFalse();
  }

  @Test
  void environmentWinsOverFileAndKeepsSiblingKeys() {
    JsonObject file = new JsonObject().put("listen", new JsonObject().put("host", "10.0.0.1").put("port", 7100));

    JsonObject result = EnvOverrides.apply(file, Map.of("FERRY_LISTEN_PORT", "8080"));

    assertThat(result).isEqualTo(new JsonObject().put("listen", new JsonObject().put("host", "10.0.0.1").put("port", 8080)));
    assertThat(file.getJsonObject("listen").getInteger("port")).as("input is not modified").isEqualTo(7100);
  }

  @Test
  void ignoresOtherVariablesIncludingUnknownFerryOnes() {
    JsonObject result = EnvOverrides.apply(new JsonObject(), Map.of(
        "FERRY_SERVICE_HOST", "10.96.0.12",
        "FERRY_PORT", "tcp://10.96.0.12:7000",
        "FERRY_CONFIG", "/etc/ferry.yaml",
        "HOME", "/root"));

    assertThat(result).isEqualTo(new JsonObject());
  }

  @Test
  void rejectsMalformedIntegerAndBooleanNamingTheVariable() {
    assertThatThrownBy(() -> EnvOverrides.apply(new JsonObject(), Map.of("FERRY_REGISTRY_SHARDS", "4.0")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("FERRY_REGISTRY_SHARDS: must be an integer, got \"4.0\"");
    assertThatThrownBy(() -> EnvOverrides.apply(new JsonObject(), Map.of("FERRY_INSTANCES", "")))
        .hasMessage("FERRY_INSTANCES: must be an integer, got \"\"");
    assertThatThrownBy(() -> EnvOverrides.apply(new JsonObject(), Map.of("FERRY_ACCESS_LOG", "1")))
        .hasMessage("FERRY_ACCESS_LOG: must be a boolean, got \"1\"");
  }

  @Test
  void outOfRangeEnvironmentValueIsReportedOnTheConfigPath() {
    JsonObject json = EnvOverrides.apply(new JsonObject(), Map.of("FERRY_LISTEN_PORT", "70000"));

    assertThatThrownBy(() -> FerryOptions.fromJson(json))
        .hasMessage("listen.port: must be between 0 and 65535, got 70000");
  }

  @Test
  void emptyUpstreamsVariableMeansNoUpstreams() {
    JsonObject file = new JsonObject().put("upstreams", new JsonArray().add("a:1"));

    assertThat(EnvOverrides.apply(file, Map.of("FERRY_UPSTREAMS", "")).getJsonArray("upstreams")).isEmpty();
  }
}
