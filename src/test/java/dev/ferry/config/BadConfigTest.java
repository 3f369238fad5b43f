package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BadConfigTest {

  private static final String DURATION = "must be a duration (integer milliseconds or a string like 250ms, 5s, 5m, 1h)";
  private static final String SIZE = "must be a size (integer bytes or a string like 64KiB, 1MiB)";
  private static final String SHARE = "; only routes with tls.mode passthrough may share an address (each taking "
      + "its own sni names), on the same host and a fixed port";

  private static Vertx vertx;

  @TempDir
  Path dir;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void closeVertx() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** Description, YAML text (null: no file is written), expected message ($FILE = the path). */
  public static Stream<Arguments> badConfigurations() {
    return Stream.of(
        bad("negative limits.max-connections", "limits:\n  max-connections: -1\n",
            "limits.max-connections: must be between 0 and 1000000, got -1"),
        bad("global buffer budget below the soft limit", "limits:\n  max-buffered-bytes: 32KiB\n",
            "limits.max-buffered-bytes: must not be less than buffer.soft-limit (65536), got 32768"),
        bad("admin.token of the wrong type", "admin:\n  token: 12345\n",
            "admin.token: must be a string, got 12345"),
        bad("unknown key under limits", "limits:\n  max-conections: 5\n",
            "limits.max-conections: unknown key"),
        bad("listen.port of the wrong type", "listen:\n  port: abc\n",
            "listen.port: must be an integer, got \"abc\""),
        bad("listen.port as a quoted number", "listen:\n  port: \"7000\"\n",
            "listen.port: must be an integer, got \"7000\""),
        bad("listen.port above 65535", "listen:\n  port: 70000\n",
            "listen.port: must be between 0 and 65535, got 70000"),
        bad("listen.port far above the int range", "listen:\n  port: 99999999999\n",
            "listen.port: must be between 0 and 65535, got 99999999999"),
        bad("negative admin.port", "admin:\n  port: -1\n",
            "admin.port: must be between 0 and 65535, got -1"),
        bad("listen.host not a string", "listen:\n  host: 1234\n",
            "listen.host: must be a string, got 1234"),
        bad("empty echo.host", "echo:\n  host: \"\"\n",
            "echo.host: must not be empty"),
        bad("section that is not a mapping", "listen: 7000\n",
            "listen: must be a mapping, got 7000"),
        bad("unknown top-level key", "listen:\n  port: 7000\nlisten-port: 7000\n",
            "listen-port: unknown key"),
        bad("unknown nested key", "listen:\n  hots: 127.0.0.1\n",
            "listen.hots: unknown key"),
        bad("negative instances", "instances: -1\n",
            "instances: must be between 0 and 256, got -1"),
        bad("splice without epoll", "transport: nio\nsplice: true\n",
            "splice: requires the epoll transport, but transport is nio"),
        bad("splice not a boolean", "splice: sometimes\n",
            "splice: must be a boolean, got \"sometimes\""),
        bad("upstream without port", "upstreams:\n  - \"localhost\"\n",
            "upstreams[0]: missing port, expected \"host:port\", got \"localhost\""),
        bad("upstream with port 0", "upstreams:\n  - \"a:1\"\n  - \"b:0\"\n",
            "upstreams[1]: port must be between 1 and 65535, got \"b:0\""),
        bad("upstream with empty host", "upstreams:\n  - \":80\"\n",
            "upstreams[0]: missing host, expected \"host:port\", got \":80\""),
        bad("unbracketed IPv6 upstream", "upstreams:\n  - \"::1:80\"\n",
            "upstreams[0]: IPv6 address must be in brackets, e.g. \"[::1]:7000\", got \"::1:80\""),
        bad("upstream entry not a string", "upstreams:\n  - 80\n",
            "upstreams[0]: must be a \"host:port\" string or a mapping with address and weight, got 80"),
        bad("duplicate upstream", "upstreams:\n  - \"a:1\"\n  - \"b:2\"\n  - \"A:1\"\n",
            "upstreams[2]: duplicate of upstreams[0], got \"A:1\""),
        bad("upstreams not a list", "upstreams: \"a:1,b:2\"\n",
            "upstreams: must be a list of \"host:port\" strings or {address, weight} mappings, got \"a:1,b:2\""),
        bad("no upstreams and echo disabled", "upstreams: []\necho:\n  enabled: false\n",
            "upstreams: must not be empty when echo.enabled is false"),
        bad("echo.enabled not a boolean", "echo:\n  enabled: \"yes\"\n",
            "echo.enabled: must be a boolean, got \"yes\""),
        bad("negative connect.timeout", "connect:\n  timeout: -1s\n",
            "connect.timeout: must not be negative, got -1s"),
        bad("negative connect.timeout in milliseconds", "connect:\n  timeout: -250\n",
            "connect.timeout: must not be negative, got -250"),
        bad("zero connect.timeout", "connect:\n  timeout: 0\n",
            "connect.timeout: must be greater than 0, got 0s"),
        bad("malformed duration", "connect:\n  timeout: 5 parsecs\n",
            "connect.timeout: " + DURATION + ", got \"5 parsecs\""),
        bad("duration without unit given as string", "connect:\n  timeout: \"5000\"\n",
            "connect.timeout: " + DURATION + ", got \"5000\""),
        bad("float idle-timeout", "idle-timeout: 1.5\n",
            "idle-timeout: " + DURATION + ", got 1.5"),
        bad("connect.attempts as a float", "connect:\n  attempts: 3.0\n",
            "connect.attempts: must be an integer, got 3.0"),
        bad("connect.attempts above 100", "connect:\n  attempts: 101\n",
            "connect.attempts: must be between 1 and 100, got 101"),
        bad("buffer.soft-limit below 1 KiB", "buffer:\n  soft-limit: 512\n",
            "buffer.soft-limit: must be between 1024 and 1073741824, got 512"),
        bad("buffer.hard-limit above 1 GiB", "buffer:\n  hard-limit: 2GiB\n",
            "buffer.hard-limit: must be between 1024 and 1073741824, got 2GiB"),
        bad("malformed size", "buffer:\n  soft-limit: 64kb\n",
            "buffer.soft-limit: " + SIZE + ", got \"64kb\""),
        bad("buffer.hard-limit below soft-limit", "buffer:\n  soft-limit: 64KiB\n  hard-limit: 32KiB\n",
            "buffer.hard-limit: must not be less than buffer.soft-limit (65536), got 32768"),
        bad("registry.shards 0", "registry:\n  shards: 0\n",
            "registry.shards: must be between 1 and 64, got 0"),
        bad("duplicate route names", "routes:\n  - {name: db, listen: {port: 7100}, upstreams: [\"a:1\"]}\n"
            + "  - {name: db, listen: {port: 7200}, upstreams: [\"b:1\"]}\n",
            "routes[1].name: duplicate of routes[0].name, got \"db\""),
        bad("two routes on one port", "routes:\n  - {name: a, listen: {port: 7100}, upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {port: 7100}, upstreams: [\"b:1\"]}\n",
            "routes[1].listen: the same address as routes[0].listen (0.0.0.0:7100), got 0.0.0.0:7100" + SHARE),
        bad("two routes on one address, one of them not passthrough", "routes:\n"
            + "  - {name: a, listen: {port: 7100}, tls: {mode: passthrough}, sni: [a.example], upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {port: 7100}, upstreams: [\"b:1\"]}\n",
            "routes[1].listen: the same address as routes[0].listen (0.0.0.0:7100), got 0.0.0.0:7100" + SHARE),
        bad("passthrough routes on one port but different hosts", "routes:\n"
            + "  - {name: a, listen: {port: 7100}, tls: {mode: passthrough}, sni: [a.example], upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {host: 127.0.0.1, port: 7100}, tls: {mode: passthrough}, upstreams: [\"b:1\"]}\n",
            "routes[1].listen: the same address as routes[0].listen (0.0.0.0:7100), got 127.0.0.1:7100" + SHARE),
        bad("overlapping sni names on one address", "tls:\n  mode: passthrough\nroutes:\n"
            + "  - {name: a, listen: {port: 7100}, sni: [a.example, \"*.b.example\"], upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {port: 7100}, sni: [\"*.B.example\"], upstreams: [\"b:1\"]}\n",
            "routes[1].sni[0]: also routes[0].sni[1] on 0.0.0.0:7100, got \"*.b.example\""),
        bad("two default routes on one address", "tls:\n  mode: passthrough\nroutes:\n"
            + "  - {name: a, listen: {port: 7100}, upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {port: 7100}, sni: [\"*\"], upstreams: [\"b:1\"]}\n",
            "routes[1].sni: a second default route for 0.0.0.0:7100 (routes[0] has no sni or \"*\"): give each "
            + "route of a shared address its own names"),
        bad("routes sharing an address disagree on the PROXY protocol", "tls:\n  mode: passthrough\nroutes:\n"
            + "  - {name: a, listen: {port: 7100}, upstreams: [\"a:1\"]}\n"
            + "  - {name: b, listen: {port: 7100}, sni: [b.example], proxy-protocol: {accept: v2},\n"
            + "     upstreams: [\"b:1\"]}\n",
            "routes[1].proxy-protocol.accept: must equal routes[0].proxy-protocol.accept (off) on the shared address "
            + "0.0.0.0:7100, got v2"),
        bad("sni on a route that does not pass TLS through", "sni: [a.example]\n",
            "sni: only a route with tls.mode passthrough chooses by server name, got tls.mode off"),
        bad("an sni name that is no DNS name", "tls:\n  mode: passthrough\nsni: [\"a..example\"]\n",
            "sni[0]: must be a DNS name, a wildcard like \"*.example.com\" or \"*\", got \"a..example\""),
        bad("unknown proxy-protocol mode", "proxy-protocol:\n  accept: v3\n",
            "proxy-protocol.accept: must be one of off, v1, v2, any, got \"v3\""),
        bad("proxy-protocol.send any", "proxy-protocol:\n  send: any\n",
            "proxy-protocol.send: must be one of off, v1, v2, got \"any\""),
        bad("proxy-protocol.accept true", "proxy-protocol:\n  accept: true\n",
            "proxy-protocol.accept: must be one of off, v1, v2, any, got true"),
        bad("zero header-timeout", "proxy-protocol:\n  header-timeout: 0\n",
            "proxy-protocol.header-timeout: must be greater than 0, got 0s"),
        bad("unknown tls mode", "tls:\n  mode: on\n", "tls.mode: must be one of off, terminate, passthrough, got true"),
        bad("terminate without a certificate", "tls:\n  mode: terminate\n",
            "tls.certificate: must be set (a PEM file)"),
        bad("missing key file", "tls:\n  mode: terminate\n  certificate: $FILE\n  key: /nonexistent/tls.key\n",
            "tls.key: cannot read /nonexistent/tls.key: no such file"),
        bad("a certificate on a passthrough route", "tls:\n  mode: passthrough\n  certificate: $FILE\n",
            "tls.certificate: is only used with mode terminate, got mode passthrough"),
        bad("TLS 1.1", "tls:\n  protocols: [TLSv1.2, TLSv1.1]\n",
            "tls.protocols[1]: must be TLSv1.3 or TLSv1.2, got \"TLSv1.1\""),
        bad("no TLS protocol", "tls:\n  protocols: []\n",
            "tls.protocols: must name TLSv1.3, TLSv1.2 or both, got none"),
        bad("unknown tls provider", "tls:\n  provider: conscrypt\n",
            "tls.provider: must be one of auto, openssl, jdk, got \"conscrypt\""),
        bad("splice on a route that terminates TLS", "splice: true\ntls:\n  mode: terminate\n  certificate: $FILE\n"
            + "  key: $FILE\n",
            "splice: cannot be true on a route whose bytes pass through a TLS engine (tls.mode terminate): splice(2) "
            + "would move them past it"),
        bad("splice on a route with upstream TLS", "routes:\n  - {name: a, listen: {port: 7100}, splice: true, "
            + "upstream-tls: {enabled: true}, upstreams: [\"a:1\"]}\n",
            "routes[0].splice: cannot be true on a route whose bytes pass through a TLS engine (upstream-tls.enabled): "
            + "splice(2) would move them past it"),
        bad("missing upstream CA file", "upstream-tls:\n  enabled: true\n  ca: /nonexistent/ca.pem\n",
            "upstream-tls.ca: cannot read /nonexistent/ca.pem: no such file"),
        bad("upstream server-name that is no name", "upstream-tls:\n  server-name: \"a b\"\n",
            "upstream-tls.server-name: must be a DNS name (letters, digits, '-' and dots), got \"a b\""),
        bad("unknown balancing algorithm", "balance: fastest\n",
            "balance: must be one of round-robin, least-connections, random-two, source-hash, got \"fastest\""),
        bad("weight 0", "upstreams:\n  - {address: \"a:1\", weight: 0}\n",
            "upstreams[0].weight: must be between 1 and 256, got 0; to send an upstream no new clients, drain it instead"),
        bad("rise 0 in a route", "routes:\n  - name: db\n    listen: {port: 7100}\n    upstreams: [\"a:1\"]\n"
            + "    health: {active: {enabled: true, rise: 0}}\n",
            "routes[0].health.active.rise: must be between 1 and 100, got 0"),
        bad("a route with no upstream and no echo", "echo:\n  enabled: false\nroutes:\n"
            + "  - {name: a, listen: {port: 7100}, upstreams: [\"a:1\"]}\n  - {name: b, listen: {port: 7200}}\n",
            "routes[1].upstreams: must not be empty when echo.enabled is false"),
        bad("listen at the top with routes", "listen:\n  port: 7000\nroutes:\n  - {name: a, listen: {port: 7100}}\n",
            "listen: is each route's own when routes are given: set it in every route"),
        bad("upstreams at the top with routes", "upstreams: [\"a:1\"]\nroutes:\n  - {name: a, listen: {port: 7100}}\n",
            "upstreams: is each route's own when routes are given: set it in every route"),
        bad("a route without a name", "routes:\n  - {listen: {port: 7100}}\n", "routes[0].name: must be set"),
        bad("a route name that is no label", "routes:\n  - {name: \"Postgres DB\", listen: {port: 7100}}\n",
            "routes[0].name: must be 1 to 63 lowercase letters, digits and '-', not starting or ending with '-', "
            + "got \"Postgres DB\""),
        bad("an unknown key in a route", "routes:\n  - {name: a, listen: {port: 7100}, upstream: [\"a:1\"]}\n",
            "routes[0].upstream: unknown key"),
        bad("routes not a list", "routes: {name: a}\n", "routes: must be a list of route mappings, got a mapping"),
        bad("a route not a mapping", "routes: [\"a\"]\n", "routes[0]: must be a mapping, got \"a\""),
        bad("admin max-connections 0", "admin:\n  max-connections: 0\n",
            "admin.max-connections: must be between 1 and 10000, got 0"),
        bad("half-close not a boolean", "close:\n  half-close: maybe\n",
            "close.half-close: must be a boolean, got \"maybe\""),
        bad("half-closed-timeout zero", "close:\n  half-closed-timeout: 0\n",
            "close.half-closed-timeout: must be greater than 0, got 0s"),
        bad("half-closed-timeout negative", "close:\n  half-closed-timeout: -5s\n",
            "close.half-closed-timeout: must not be negative, got -5s"),
        bad("half-closed-timeout not a duration", "close:\n  half-closed-timeout: soon\n",
            "close.half-closed-timeout: must be a duration (integer milliseconds or a string like 250ms, 5s, 5m, 1h), got \"soon\""),
        bad("release-timeout equal to flush-timeout", "registry:\n  release-timeout: 5s\n",
            "registry.release-timeout: must be greater than close.flush-timeout (5s), got 5s"),
        bad("release-timeout below flush-timeout", "close:\n  flush-timeout: 1m\nregistry:\n  release-timeout: 30s\n",
            "registry.release-timeout: must be greater than close.flush-timeout (1m), got 30s"),
        bad("unknown transport", "transport: kqueue\n",
            "transport: must be one of auto, epoll, nio, got \"kqueue\""),
        bad("first problem wins", "listen:\n  port: abc\n  backlog: 0\n",
            "listen.port: must be an integer, got \"abc\""),
        bad("invalid YAML", "listen: [unclosed",
            "config: $FILE is not valid YAML: expected ',' or ']', but got <stream end> (line 1, column 18)"),
        bad("top level a list", "- listen\n- admin\n",
            "config: $FILE must be a mapping at the top level"),
        bad("top level a scalar", "just text\n",
            "config: $FILE must be a mapping at the top level"),
        bad("missing file", null,
            "config: cannot read $FILE: no such file"));
  }

  private static Arguments bad(String description, String yaml, String message) {
    return Arguments.of(description, yaml, message);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badConfigurations")
  void rejectsBadConfigurationWithPreciseMessage(String description, String yaml, String message) throws Exception {
    Path file = dir.resolve("ferry.yaml");
    if (yaml != null) {
      Files.writeString(file, yaml.replace("$FILE", file.toString()));
    }

    Throwable failure = failure(ConfigLoader.load(vertx, file.toString(), Map.of()));

    assertThat(failure)
        .isInstanceOf(ConfigException.class)
        .hasMessage(message.replace("$FILE", file.toString()));
  }

  @Test
  void rejectsNonIntegerEnvironmentValueNamingTheVariable() throws Exception {
    Throwable failure = failure(ConfigLoader.load(vertx, null, Map.of("FERRY_LISTEN_PORT", "abc")));

    assertThat(failure).isInstanceOf(ConfigException.class)
        .hasMessage("FERRY_LISTEN_PORT: must be an integer, got \"abc\"");
    assertThat(((ConfigException) failure).key()).isEqualTo("FERRY_LISTEN_PORT");
    assertThat(((ConfigException) failure).reason()).isEqualTo("must be an integer, got \"abc\"");
  }

  @Test
  void rejectsNonBooleanEnvironmentValueNamingTheVariable() throws Exception {
    Throwable failure = failure(ConfigLoader.load(vertx, null, Map.of("FERRY_ECHO_ENABLED", "yes")));

    assertThat(failure).isInstanceOf(ConfigException.class)
        .hasMessage("FERRY_ECHO_ENABLED: must be a boolean, got \"yes\"");
  }

  @Test
  void rejectsDuplicateUpstreamFromEnvironmentNamingTheEntry() throws Exception {
    Throwable failure = failure(ConfigLoader.load(vertx, null, Map.of("FERRY_UPSTREAMS", "a:1,a:1")));

    assertThat(failure).isInstanceOf(ConfigException.class)
        .hasMessage("upstreams[1]: duplicate of upstreams[0], got \"a:1\"");
  }

  @Test
  void environmentOverridesTheFile() throws Exception {
    Path file = write("listen:\n  host: 127.0.0.1\n  port: 7100\n");

    FerryOptions options = succeeded(ConfigLoader.load(vertx, file.toString(), Map.of("FERRY_LISTEN_PORT", "8080")));

    assertThat(options.routes().get(0).listen().port()).isEqualTo(8080);
    assertThat(options.routes().get(0).listen().host()).isEqualTo("127.0.0.1");
  }

  @Test
  void environmentCanEmptyTheUpstreamsOfTheFile() throws Exception {
    Path file = write("upstreams:\n  - \"a:1\"\n");

    FerryOptions options = succeeded(ConfigLoader.load(vertx, file.toString(), Map.of("FERRY_UPSTREAMS", "")));

    assertThat(options.routes().get(0).pool().upstreams()).isEmpty();
  }

  @Test
  void ignoresUnrelatedFerryVariablesInjectedByKubernetes() throws Exception {
    Map<String, String> env = Map.of(
        "FERRY_SERVICE_HOST", "10.96.0.12",
        "FERRY_SERVICE_PORT", "7000",
        "FERRY_PORT", "tcp://10.96.0.12:7000",
        "FERRY_PORT_7000_TCP_ADDR", "10.96.0.12");

    FerryOptions options = succeeded(ConfigLoader.load(vertx, null, env));

    assertThat(options).isEqualTo(FerryOptions.defaults());
  }

  @Test
  void usesFerryConfigVariableWhenPathIsNull() throws Exception {
    Path file = write("listen:\n  port: 7100\n");

    FerryOptions options = succeeded(ConfigLoader.load(vertx, null, Map.of("FERRY_CONFIG", file.toString())));

    assertThat(options.routes().get(0).listen().port()).isEqualTo(7100);
  }

  @Test
  void explicitPathWinsOverFerryConfigVariable() throws Exception {
    Path file = write("listen:\n  port: 7100\n");
    Path missing = dir.resolve("missing.yaml");

    FerryOptions options = succeeded(ConfigLoader.load(vertx, file.toString(), Map.of("FERRY_CONFIG", missing.toString())));

    assertThat(options.routes().get(0).listen().port()).isEqualTo(7100);
  }

  @Test
  void reportsMissingFileNamedByFerryConfig() throws Exception {
    Path missing = dir.resolve("missing.yaml");

    Throwable failure = failure(ConfigLoader.load(vertx, null, Map.of("FERRY_CONFIG", missing.toString())));

    assertThat(failure).isInstanceOf(ConfigException.class)
        .hasMessage("config: cannot read " + missing + ": no such file");
  }

  @Test
  void reportsDirectoryAsUnreadable() throws Exception {
    Throwable failure = failure(ConfigLoader.load(vertx, dir.toString(), Map.of()));

    assertThat(failure).isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("config: cannot read " + dir + ": ");
  }

  @Test
  void fileWithOnlyCommentsGivesDefaults() throws Exception {
    Path file = write("# nothing configured yet\n");

    assertThat(succeeded(ConfigLoader.load(vertx, file.toString(), Map.of()))).isEqualTo(FerryOptions.defaults());
  }

  @Test
  void emptyFileGivesDefaults() throws Exception {
    Path file = write("");

    assertThat(succeeded(ConfigLoader.load(vertx, file.toString(), Map.of()))).isEqualTo(FerryOptions.defaults());
  }

  @Test
  void loadBlockingThrowsTheConfigExceptionUnwrapped() throws Exception {
    Path file = write("listen:\n  port: 70000\n");

    assertThatThrownBy(() -> ConfigLoader.loadBlocking(file.toString(), Map.of()))
        .isExactlyInstanceOf(ConfigException.class)
        .hasMessage("listen.port: must be between 0 and 65535, got 70000")
        .satisfies(e -> assertThat(((ConfigException) e).key()).isEqualTo("listen.port"))
        .satisfies(e -> assertThat(((ConfigException) e).reason()).isEqualTo("must be between 0 and 65535, got 70000"));
  }

  @Test
  void loadBlockingReturnsTheOptions() throws Exception {
    Path file = write("listen:\n  port: 7100\n");

    FerryOptions options = ConfigLoader.loadBlocking(file.toString(), Map.of("FERRY_ADMIN_PORT", "9901"));

    assertThat(options.routes().get(0).listen().port()).isEqualTo(7100);
    assertThat(options.admin().port()).isEqualTo(9901);
  }

  private Path write(String yaml) throws Exception {
    Path file = dir.resolve("ferry.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  private static FerryOptions succeeded(Future<FerryOptions> future) throws Exception {
    return future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static Throwable failure(Future<?> future) throws Exception {
    try {
      Object value = future.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      throw new AssertionError("expected the load to fail, got " + value);
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }
}
