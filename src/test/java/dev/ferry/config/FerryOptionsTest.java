package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class FerryOptionsTest {

  private static Vertx vertx;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void defaultsAreTheDocumentedValues() {
    FerryOptions options = new FerryOptions();

    assertThat(options.listenHost()).isEqualTo("0.0.0.0");
    assertThat(options.listenPort()).isEqualTo(7000);
    assertThat(options.listenBacklog()).isEqualTo(1024);
    assertThat(options.adminHost()).isEqualTo("0.0.0.0");
    assertThat(options.adminPort()).isEqualTo(9900);
    assertThat(options.instances()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(options.transport()).isEqualTo(TransportMode.AUTO);
    assertThat(options.upstreams()).isEmpty();
    assertThat(options.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(options.connectAttempts()).isEqualTo(3);
    assertThat(options.idleTimeout()).isEqualTo(Duration.ofMinutes(5));
    assertThat(options.bufferSoftLimit()).isEqualTo(65536);
    assertThat(options.bufferHardLimit()).isEqualTo(1048576);
    assertThat(options.closeFlushTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(options.registryShards()).isEqualTo(1);
    assertThat(options.releaseTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(options.watchdogInterval()).isEqualTo(Duration.ofSeconds(1));
    assertThat(options.drainTimeout()).isEqualTo(Duration.ofSeconds(20));
    assertThat(options.echoEnabled()).isTrue();
    assertThat(options.echoHost()).isEqualTo("127.0.0.1");
    assertThat(options.echoPort()).isEqualTo(7001);
    assertThat(options.accessLog()).isTrue();
  }

  @Test
  void defaultsAreValid() {
    assertThat(new FerryOptions().validate()).isEqualTo(new FerryOptions());
  }

  @Test
  void emptyJsonGivesDefaults() {
    assertThat(new FerryOptions(new JsonObject())).isEqualTo(new FerryOptions());
  }

  @Test
  void nullValuesKeepDefaults() {
    JsonObject json = new JsonObject()
        .putNull("listen")
        .put("admin", new JsonObject().putNull("port"))
        .putNull("upstreams")
        .putNull("idle-timeout");

    assertThat(new FerryOptions(json)).isEqualTo(new FerryOptions());
  }

  @Test
  void defaultsRoundTripThroughJson() {
    FerryOptions defaults = new FerryOptions();

    assertThat(new FerryOptions(defaults.toJson())).isEqualTo(defaults);
  }

  @Test
  void customizedOptionsRoundTripThroughJson() {
    FerryOptions options = customized();

    FerryOptions copy = new FerryOptions(options.toJson());

    assertThat(copy).isEqualTo(options);
    assertThat(copy.hashCode()).isEqualTo(options.hashCode());
    assertThat(copy.toJson()).isEqualTo(options.toJson());
  }

  @Test
  void toJsonWritesDurationsAsStringsAndSizesAsIntegers() {
    JsonObject json = customized().toJson();

    assertThat(json.getJsonObject("connect").getValue("timeout")).isEqualTo("250ms");
    assertThat(json.getValue("idle-timeout")).isEqualTo("0s");
    assertThat(json.getJsonObject("close").getValue("flush-timeout")).isEqualTo("90s");
    assertThat(json.getJsonObject("registry").getValue("release-timeout")).isEqualTo("2m");
    assertThat(json.getJsonObject("shutdown").getValue("drain-timeout")).isEqualTo("1h");
    assertThat(json.getJsonObject("buffer").getValue("soft-limit")).isEqualTo(4096);
    assertThat(json.getJsonObject("buffer").getValue("hard-limit")).isEqualTo(8 * 1024 * 1024);
    assertThat(json.getValue("upstreams")).isEqualTo(new JsonArray().add("backend-1:8080").add("[::1]:9000"));
    assertThat(json.getValue("transport")).isEqualTo("nio");
  }

  @Test
  void copyConstructorCopiesEveryField() {
    FerryOptions options = customized();

    assertThat(new FerryOptions(options)).isEqualTo(options).isNotSameAs(options);
  }

  @Test
  void optionsDifferingInOneFieldAreNotEqual() {
    assertThat(new FerryOptions().setAccessLog(false)).isNotEqualTo(new FerryOptions());
    assertThat(new FerryOptions().setWatchdogInterval(Duration.ofMillis(1001))).isNotEqualTo(new FerryOptions());
  }

  @Test
  void shippedConfFileLoadsAsDefaults() throws Exception {
    FerryOptions loaded = ConfigLoader.load(vertx, Path.of("conf/ferry.yaml").toString(), Map.of())
        .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);

    assertThat(loaded).isEqualTo(new FerryOptions());
  }

  @Test
  void instancesZeroMeansAvailableProcessors() {
    FerryOptions options = new FerryOptions(new JsonObject().put("instances", 0));

    assertThat(options.instances()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(options.toJson().getValue("instances")).isEqualTo(0);
  }

  @Test
  void explicitInstancesAreKept() {
    assertThat(new FerryOptions(new JsonObject().put("instances", 256)).instances()).isEqualTo(256);
  }

  @Test
  void readsDurationsInEveryUnitAndAsMilliseconds() {
    JsonObject json = new JsonObject()
        .put("connect", new JsonObject().put("timeout", "250ms"))
        .put("idle-timeout", 1500)
        .put("close", new JsonObject().put("flush-timeout", "2s"))
        .put("registry", new JsonObject().put("release-timeout", "3m"))
        .put("shutdown", new JsonObject().put("drain-timeout", "1h"));

    FerryOptions options = new FerryOptions(json);

    assertThat(options.connectTimeout()).isEqualTo(Duration.ofMillis(250));
    assertThat(options.idleTimeout()).isEqualTo(Duration.ofMillis(1500));
    assertThat(options.closeFlushTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(options.releaseTimeout()).isEqualTo(Duration.ofMinutes(3));
    assertThat(options.drainTimeout()).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void readsSizesWithBinarySuffixes() {
    JsonObject json = new JsonObject()
        .put("buffer", new JsonObject().put("soft-limit", "64KiB").put("hard-limit", "2MiB"));

    FerryOptions options = new FerryOptions(json);

    assertThat(options.bufferSoftLimit()).isEqualTo(65536);
    assertThat(options.bufferHardLimit()).isEqualTo(2 * 1024 * 1024);
  }

  @Test
  void readsUpstreamsInOrderIncludingIpv6() {
    JsonObject json = new JsonObject().put("upstreams", new JsonArray().add("b:2").add("10.0.0.1:80").add("[::1]:9000"));

    assertThat(new FerryOptions(json).upstreams()).containsExactly(
        new UpstreamAddress("b", 2), new UpstreamAddress("10.0.0.1", 80), new UpstreamAddress("::1", 9000));
  }

  @Test
  void acceptsEmptyUpstreamsWhenEchoIsEnabled() {
    assertThat(new FerryOptions(new JsonObject().put("upstreams", new JsonArray())).upstreams()).isEmpty();
  }

  @Test
  void acceptsZeroIdleTimeout() {
    assertThat(new FerryOptions(new JsonObject().put("idle-timeout", "0s")).idleTimeout()).isZero();
  }

  @Test
  void settersRejectOutOfRangeValuesWithKeyAndReason() {
    FerryOptions options = new FerryOptions();

    assertThatThrownBy(() -> options.setListenPort(70000))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("listen.port: must be between 0 and 65535, got 70000");
    assertThatThrownBy(() -> options.setInstances(-1))
        .hasMessage("instances: must be between 0 and 256, got -1");
    assertThatThrownBy(() -> options.setConnectTimeout(Duration.ZERO))
        .hasMessage("connect.timeout: must be greater than 0, got 0s");
    assertThatThrownBy(() -> options.setIdleTimeout(Duration.ofSeconds(-1)))
        .hasMessage("idle-timeout: must not be negative, got -1s");
    assertThatThrownBy(() -> options.setDrainTimeout(Duration.ofNanos(1500)))
        .hasMessage("shutdown.drain-timeout: must be a whole number of milliseconds, got PT0.0000015S");
    assertThatThrownBy(() -> options.setBufferSoftLimit(1023))
        .hasMessage("buffer.soft-limit: must be between 1024 and 1073741824, got 1023");
    assertThatThrownBy(() -> options.setListenHost(" "))
        .hasMessage("listen.host: must not be empty");
    assertThatThrownBy(() -> options.setTransport(null))
        .hasMessage("transport: must not be null");
    assertThatThrownBy(() -> options.setUpstreams(List.of(new UpstreamAddress("a", 1), new UpstreamAddress("a", 1))))
        .hasMessage("upstreams[1]: duplicate of upstreams[0], got \"a:1\"");
    assertThat(options).isEqualTo(new FerryOptions());
  }

  @Test
  void validateReportsCrossFieldProblems() {
    assertThatThrownBy(() -> new FerryOptions().setEchoEnabled(false).validate())
        .isInstanceOf(ConfigException.class)
        .hasMessage("upstreams: must not be empty when echo.enabled is false");
    assertThatThrownBy(() -> new FerryOptions().setBufferHardLimit(4096).validate())
        .hasMessage("buffer.hard-limit: must not be less than buffer.soft-limit (65536), got 4096");
    assertThatThrownBy(() -> new FerryOptions().setReleaseTimeout(Duration.ofMillis(5000)).validate())
        .hasMessage("registry.release-timeout: must be greater than close.flush-timeout (5s), got 5s");
  }

  @Test
  void upstreamsListIsUnmodifiable() {
    FerryOptions options = customized();

    assertThatThrownBy(() -> options.upstreams().add(new UpstreamAddress("c", 3)))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  private static FerryOptions customized() {
    return new FerryOptions()
        .setListenHost("127.0.0.1")
        .setListenPort(0)
        .setListenBacklog(128)
        .setAdminHost("::1")
        .setAdminPort(0)
        .setInstances(2)
        .setTransport(TransportMode.NIO)
        .setUpstreams(List.of(UpstreamAddress.parse("backend-1:8080"), UpstreamAddress.parse("[::1]:9000")))
        .setConnectTimeout(Duration.ofMillis(250))
        .setConnectAttempts(7)
        .setIdleTimeout(Duration.ZERO)
        .setBufferSoftLimit(4096)
        .setBufferHardLimit(8 * 1024 * 1024)
        .setCloseFlushTimeout(Duration.ofSeconds(90))
        .setRegistryShards(8)
        .setReleaseTimeout(Duration.ofMinutes(2))
        .setWatchdogInterval(Duration.ofMillis(100))
        .setDrainTimeout(Duration.ofHours(1))
        .setEchoEnabled(false)
        .setEchoHost("localhost")
        .setEchoPort(0)
        .setAccessLog(false);
  }
}
