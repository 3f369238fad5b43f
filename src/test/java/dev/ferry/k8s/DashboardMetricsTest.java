package dev.ferry.k8s;

import dev.ferry.support.FerryHarness;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every PromQL expression of the Grafana dashboard reads only metrics that a running Ferry exports, after traffic
 * that creates the lazily registered series (closes by reason, prevented double frees).
 */
class DashboardMetricsTest {

  @Test
  void everyDashboardQueryReadsOnlyMetricsFerryExports() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options())) {
      Traffic.echoOnce(ferry);
      Traffic.preventedDoubleFree(ferry);
      Set<String> exported = Traffic.exportedNames(ferry.admin("GET", "/metrics").body());
      ferry.assertReleasedCleanly();

      List<String> expressions = Dashboard.expressions();
      assertThat(expressions).hasSizeGreaterThan(10);
      Set<String> used = new TreeSet<>();
      for (String expr : expressions) {
        Set<String> names = Dashboard.metricNames(expr);
        assertThat(names).as("metrics in %s", expr).isNotEmpty();
        assertThat(exported).as("metrics Ferry exports, for %s", expr).containsAll(names);
        used.addAll(names);
      }
      // What the dashboard promises to show.
      assertThat(used).contains("ferry_connections_open", "ferry_connections_opened_total",
        "ferry_connections_closed_total", "ferry_double_free_prevented_total", "ferry_double_free_detected_total",
        "ferry_leaks_detected_total", "ferry_buffers_held", "ferry_buffer_bytes_held", "ferry_buffer_bytes_queued",
        "ferry_connection_duration_seconds_bucket", "ferry_upstream_connect_seconds_bucket", "ferry_bytes_total",
        "jvm_memory_used_bytes");
      // Ferry's proxied sockets are not Vert.x sockets and Vert.x's event-bus meters are off: nothing may read them.
      assertThat(used).noneMatch(n -> n.startsWith("vertx_net_") || n.startsWith("vertx_eventbus_"));
    }
  }

  @Test
  void metricNameExtractionSkipsFunctionsLabelsAndGrouping() {
    assertThat(Dashboard.metricNames(
      "histogram_quantile(0.99, sum by (le, outcome) (rate(ferry_upstream_connect_seconds_bucket{job=~\"$job\"}[$__rate_interval])))"))
      .containsExactly("ferry_upstream_connect_seconds_bucket");
    assertThat(Dashboard.metricNames("sum(a_total) / sum without (x) (b{c=\"d\"} offset 5m) > bool 0.5"))
      .containsExactly("a_total", "b");
  }
}
