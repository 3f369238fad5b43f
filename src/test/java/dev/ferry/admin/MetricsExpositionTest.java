package dev.ferry.admin;

import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What Prometheus scrapes: every documented name, labels from enums only, series that appear only when due. */
class MetricsExpositionTest {

  static final List<String> ALWAYS = List.of(
    "ferry_connections_opened_total", "ferry_connections_open ", "ferry_connections_closing ",
    "ferry_double_free_detected_total{kind=\"buffer\"} 0.0", "ferry_double_free_detected_total{kind=\"release\"} 0.0",
    "ferry_leaks_detected_total{kind=\"buffer\"} 0.0", "ferry_leaks_detected_total{kind=\"release\"} 0.0",
    "ferry_leaks_detected_total{kind=\"connection\"} 0.0",
    "ferry_buffers_held ", "ferry_buffer_bytes_held ", "ferry_buffer_bytes_queued ",
    "ferry_bytes_total{direction=\"upstream\"}", "ferry_bytes_total{direction=\"downstream\"}",
    "ferry_connection_duration_seconds_bucket", "ferry_upstream_connect_seconds_bucket",
    "process_cpu_usage", "jvm_memory_used_bytes");

  @Test
  void exposesEveryFerryMetricAndAddsCloseSeriesOnlyWhenTheyHappen() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options())) {
      String before = scrape(ferry);
      assertThat(before).contains(ALWAYS);
      assertThat(before).doesNotContain("ferry_connections_closed_total{");
      assertThat(before).doesNotContain("ferry_double_free_prevented_total{");
      assertThat(before).doesNotContain("ferry_double_free_detected_total{kind=\"connection\"}");

      Peer client = ferry.connect();
      client.write("12345");
      client.readExactly(5);
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();

      String after = scrape(ferry);
      // The proxied sockets are Netty channels, not Vert.x net sockets: no Vert.x net-client series at all (only the
      // embedded echo upstream is a Vert.x net server).
      assertThat(after).doesNotContain("vertx_net_client_");
      // Vert.x's event-bus meters are off (a meter lookup per lifecycle message); Ferry counts its own lifecycle.
      assertThat(after).doesNotContain("vertx_eventbus_");
      assertThat(after)
        .contains("ferry_connections_opened_total 1.0")
        .contains("ferry_connections_open 0.0")
        .contains("ferry_buffers_held 0.0")
        .contains("ferry_connections_closed_total{reason=\"PEER_CLOSED\",side=\"client\"} 1.0")
        .contains("ferry_connection_duration_seconds_count 1")
        .doesNotContain("ferry_connections_closed_total{reason=\"ADMIN_KILL\"");
      // Byte counters are flushed from the connection at its release: exact.
      assertThat(after).contains("ferry_bytes_total{direction=\"upstream\"} 5.0")
        .contains("ferry_bytes_total{direction=\"downstream\"} 5.0");
      // No label carries a peer address or a connection id.
      assertThat(after.lines().filter(l -> l.startsWith("ferry_")))
        .noneMatch(l -> l.contains("127.0.0.1") || l.contains("id="));
    }
  }

  private static String scrape(FerryHarness ferry) throws Exception {
    HttpResponse<String> res = ferry.admin("GET", "/metrics");
    assertThat(res.statusCode()).isEqualTo(200);
    return res.body();
  }
}
