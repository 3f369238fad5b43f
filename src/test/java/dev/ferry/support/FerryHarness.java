package dev.ferry.support;

import dev.ferry.Ferry;
import dev.ferry.config.FerryOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Ferry started for one test: loopback only, ephemeral ports, one listener by default, short timeouts; the
 * access log captured. {@link #assertReleasedCleanly()} is the end-of-test check every scenario runs.
 */
public final class FerryHarness implements AutoCloseable {

  private final Ferry ferry;
  private final AccessLogCapture access;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
    .connectTimeout(Duration.ofSeconds(5)).build();

  private FerryHarness(Ferry ferry, AccessLogCapture access) {
    this.ferry = ferry;
    this.access = access;
  }

  /** The admin token of {@link #options}: a deployment with the admin Secret has one (mutations need it). */
  public static final String ADMIN_TOKEN = "test-admin-token";

  /**
   * A configuration for tests: 127.0.0.1, port 0 everywhere, 1 instance, timeouts short enough for tests, and
   * {@link #ADMIN_TOKEN} as the admin token (which {@link #admin} sends; {@code set("admin.token", null)} for none).
   */
  public static TestConfig options(UpstreamAddress... upstreams) {
    return new TestConfig()
      .set("listen.host", "127.0.0.1").set("listen.port", 0)
      .set("admin.host", "127.0.0.1").set("admin.port", 0).set("admin.token", ADMIN_TOKEN)
      .set("echo.host", "127.0.0.1").set("echo.port", 0)
      .set("instances", 1)
      .set("upstreams", List.of(upstreams))
      .set("connect.timeout", "2s")
      .set("close.flush-timeout", "2s")
      .set("registry.release-timeout", "10s")
      .set("registry.watchdog-interval", "200ms")
      .set("shutdown.drain-timeout", "2s");
  }

  public static FerryHarness start(TestConfig config) {
    return start(config.options(), null, null);
  }

  public static FerryHarness start(FerryOptions options) {
    return start(options, null, null);
  }

  /**
   * Starts Ferry the way {@code Main} does with {@code --config}: from {@code path}, watching it every
   * {@code scanPeriod} for changes of the routes' pools.
   */
  public static FerryHarness startFromFile(String path, Duration scanPeriod) {
    return start(dev.ferry.config.ConfigLoader.loadBlocking(path, java.util.Map.of()), path, scanPeriod);
  }

  private static FerryHarness start(FerryOptions options, String path, Duration scanPeriod) {
    AccessLogCapture access = new AccessLogCapture();
    try {
      Ferry ferry = (path == null ? Ferry.start(options) : Ferry.start(options, path, scanPeriod))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return new FerryHarness(ferry, access);
    } catch (Exception e) {
      access.close();
      throw new AssertionError("Ferry did not start: " + e, e);
    }
  }

  public Ferry ferry() {
    return ferry;
  }

  public FerryMetrics metrics() {
    return ferry.metrics();
  }

  public int port() {
    return ferry.proxyPort();
  }

  public Peer connect() throws IOException {
    return Peer.connect(port());
  }

  /** A client of route {@code name}. */
  public Peer connect(String route) throws IOException {
    return Peer.connect(ferry.proxyPort(route));
  }

  public AccessLogCapture access() {
    return access;
  }

  /**
   * The connection of client {@code peer} ended for {@code reason} by {@code side}: exactly one access-log line says
   * so, with the close metric counted.
   */
  public JsonObject assertClosedFor(Peer client, CloseReason reason, Side side) {
    JsonObject line = access.awaitOne(client.localPort());
    assertThat(line.getString("reason")).as("close reason of " + line).isEqualTo(reason.label());
    assertThat(line.getString("side")).as("close side of " + line).isEqualTo(side.label());
    assertThat(metrics().closedTotal(reason, side)).as("closed{reason=%s,side=%s}", reason, side).isPositive();
    return line;
  }

  /**
   * Every connection released, every buffer back, no leak, no detected double free: what must hold after any
   * scenario, happy or not.
   */
  public void assertReleasedCleanly() {
    FerryMetrics m = metrics();
    Await.equal("ferry_connections_open", 0L, m::connectionsOpen);
    Await.equal("ferry_connections_closing", 0L, m::connectionsClosing);
    Await.equal("ferry_buffers_held", 0L, m::buffersHeld);
    Await.equal("ferry_buffer_bytes_held", 0L, m::bytesHeld);
    Await.equal("ferry_buffer_bytes_queued", 0L, m::bytesQueued);
    assertThat(m.doubleFreeDetectedTotal()).as("ferry_double_free_detected_total").isZero();
    assertThat(m.leaksTotal()).as("ferry_leaks_detected_total").isZero();
    assertThat(m.openedTotal()).as("opened = closed + open").isEqualTo(m.closedTotal() + m.connectionsOpen());
  }

  /** An admin request as the operator sends it: with {@code Authorization: Bearer <admin.token>} when one is set. */
  public HttpResponse<String> admin(String method, String path) throws IOException, InterruptedException {
    String token = ferry.options().admin().token();
    return adminAs(method, path, token == null ? null : "Bearer " + token);
  }

  /** An admin request with this {@code Authorization} header (null: none). */
  public HttpResponse<String> adminAs(String method, String path, String authorization)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ferry.adminPort() + path))
      .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    HttpRequest req = b.build();
    try {
      return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).get(20, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IOException("admin " + method + " " + path + " did not answer within 20 s", e);
    }
  }

  /** Shuts Ferry down (drain included) and waits for it. */
  public void shutdown() {
    try {
      ferry.shutdown().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("Ferry did not shut down: " + e, e);
    }
  }

  @Override
  public void close() {
    try {
      shutdown();
    } finally {
      access.close();
    }
  }
}
