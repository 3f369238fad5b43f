package dev.ferry.k8s;

import dev.ferry.Ferry;
import dev.ferry.config.ConfigLoader;
import dev.ferry.config.FerryOptions;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.support.AccessLogCapture;
import dev.ferry.support.Await;
import dev.ferry.support.Peer;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Ferry started from a config file with its reload watcher (what {@code Main} does with {@code --config}), with
 * the same end-of-test release check as {@link dev.ferry.support.FerryHarness#assertReleasedCleanly()}.
 */
final class ReloadingFerry implements AutoCloseable {

  final Ferry ferry;
  final AccessLogCapture access;

  private ReloadingFerry(Ferry ferry, AccessLogCapture access) {
    this.ferry = ferry;
    this.access = access;
  }

  static ReloadingFerry start(String path, Duration scanPeriod) throws Exception {
    FerryOptions options = ConfigLoader.loadBlocking(path, Map.of());
    AccessLogCapture access = new AccessLogCapture();
    try {
      Ferry ferry = Ferry.start(options, path, scanPeriod).toCompletionStage().toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
      return new ReloadingFerry(ferry, access);
    } catch (Exception e) {
      access.close();
      throw e;
    }
  }

  Peer connect() throws IOException {
    return Peer.connect(ferry.proxyPort());
  }

  FerryMetrics metrics() {
    return ferry.metrics();
  }

  void assertReleasedCleanly() {
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

  @Override
  public void close() {
    try {
      ferry.shutdown().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("Ferry did not shut down: " + e, e);
    } finally {
      access.close();
    }
  }
}
