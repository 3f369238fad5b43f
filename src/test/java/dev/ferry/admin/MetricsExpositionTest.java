package dev.ferry.admin;

import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.AcceptErrorCause;
import dev.ferry.vocabulary.AdminCloseCause;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What Prometheus scrapes: every documented series exists at 0 on a fresh Ferry, every label value of it (so an alert's
 * {@code increase()} sees the first event and a dashboard never shows "no data"), and labels come from enums and
 * configured names only.
 */
class MetricsExpositionTest {

  static final List<String> ALWAYS = List.of(
    "ferry_connections_open ", "ferry_connections_closing ",
    "ferry_buffers_held ", "ferry_buffer_bytes_held ", "ferry_buffer_bytes_queued ",
    "ferry_connection_duration_seconds_bucket{route=\"default\",", "ferry_upstream_connect_seconds_bucket{",
    "process_cpu_usage", "jvm_memory_used_bytes", "process_files_open_files ", "process_files_max_files ");

  /** Every series a rule or a dashboard may read, at 0, for a Ferry whose one route is {@code default}. */
  static List<String> zeroSeries(String upstream) {
    List<String> series = new ArrayList<>();
    series.add("ferry_connections_opened_total{route=\"default\"} 0.0");
    for (CloseReason reason : CloseReason.values()) {
      for (Side side : Side.values()) {
        series.add("ferry_connections_closed_total{reason=\"" + reason.label() + "\",route=\"default\",side=\""
          + side.label() + "\"} 0.0");
      }
      series.add("ferry_double_free_prevented_total{reason=\"" + reason.label() + "\"} 0.0");
    }
    for (String kind : List.of("buffer", "release")) {
      series.add("ferry_double_free_detected_total{kind=\"" + kind + "\"} 0.0");
    }
    for (LeakKind kind : LeakKind.values()) {
      series.add("ferry_leaks_detected_total{kind=\"" + kind.label() + "\"} 0.0");
    }
    for (Direction d : Direction.values()) {
      series.add("ferry_bytes_total{direction=\"" + d.label() + "\",route=\"default\"} 0.0");
      series.add("ferry_splice_started_total{direction=\"" + d.label() + "\",route=\"default\"} 0.0");
    }
    series.add("ferry_connection_duration_seconds_count{route=\"default\"} 0");
    for (String outcome : List.of("success", "failure")) {
      series.add("ferry_upstream_connect_seconds_count{outcome=\"" + outcome + "\",route=\"default\"} 0");
      series.add("ferry_upstream_connect_total{outcome=\"" + outcome + "\",route=\"default\",upstream=\""
        + upstream + "\"} 0.0");
    }
    series.add("ferry_upstream_up{route=\"default\",upstream=\"" + upstream + "\"} 1.0");
    series.add("ferry_upstream_draining{route=\"default\",upstream=\"" + upstream + "\"} 0.0");
    series.add("ferry_upstream_active_connections{route=\"default\",upstream=\"" + upstream + "\"} 0.0");
    series.add("ferry_upstream_ejections_total{route=\"default\",upstream=\"" + upstream + "\"} 0.0");
    for (String result : List.of("passed", "connect_failed", "timeout", "unexpected_reply", "io_error")) {
      series.add("ferry_health_checks_total{result=\"" + result + "\",route=\"default\",upstream=\"" + upstream
        + "\"} 0.0");
    }
    series.add("ferry_route_panic{route=\"default\"} 0.0");
    series.add("ferry_route_panic_entries_total{route=\"default\"} 0.0");
    for (AcceptErrorCause cause : AcceptErrorCause.values()) {
      series.add("ferry_accept_errors_total{cause=\"" + cause.label() + "\"} 0.0");
    }
    for (AdminCloseCause cause : AdminCloseCause.values()) {
      series.add("ferry_admin_connections_closed_total{cause=\"" + cause.label() + "\"} 0.0");
    }
    return series;
  }

  @Test
  void everySeriesExistsAtZeroOnAFreshFerryAndCountsFromThere() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options())) {
      String upstream = "127.0.0.1:" + ferry.ferry().echoPort();
      String before = scrape(ferry);
      assertThat(before).contains(ALWAYS).contains(zeroSeries(upstream));

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
        .contains("ferry_connections_opened_total{route=\"default\"} 1.0")
        .contains("ferry_connections_open 0.0")
        .contains("ferry_buffers_held 0.0")
        .contains("ferry_connections_closed_total{reason=\"PEER_CLOSED\",route=\"default\",side=\"client\"} 1.0")
        .contains("ferry_connections_closed_total{reason=\"ADMIN_KILL\",route=\"default\",side=\"proxy\"} 0.0")
        .contains("ferry_connection_duration_seconds_count{route=\"default\"} 1")
        .contains("ferry_upstream_connect_total{outcome=\"success\",route=\"default\",upstream=\"" + upstream
          + "\"} 1.0");
      // Byte counters are flushed from the connection at its release: exact.
      assertThat(after).contains("ferry_bytes_total{direction=\"upstream\",route=\"default\"} 5.0")
        .contains("ferry_bytes_total{direction=\"downstream\",route=\"default\"} 5.0");
      // No label carries the client's address or a connection id.
      assertThat(after.lines().filter(l -> l.startsWith("ferry_")))
        .noneMatch(l -> l.contains(":" + client.localPort() + "\"") || l.contains("id="));
    }
  }

  private static String scrape(FerryHarness ferry) throws Exception {
    HttpResponse<String> res = ferry.admin("GET", "/metrics");
    assertThat(res.statusCode()).isEqualTo(200);
    return res.body();
  }
}
