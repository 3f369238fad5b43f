package dev.ferry.k8s;

import dev.ferry.config.FerryOptions;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.Ports;
import dev.ferry.support.TestConfig;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real Prometheus (Debian's /usr/bin/prometheus, a child process on 127.0.0.1) scrapes two real Ferrys every
 * second with Ferry's alerting rules loaded: one proxying to its echo upstream, one whose only upstream refuses.
 * After normal, reset, refused and doubly-closed connections, Prometheus holds the exact counters, every dashboard
 * query evaluates, the connect-failure alert goes pending, and the leak and double-free alerts stay silent.
 * {@code promtool check metrics} judges the exposition itself.
 */
class PrometheusEndToEndTest {

  private static final Logger log = LoggerFactory.getLogger(PrometheusEndToEndTest.class);

  /** Micrometer's own JVM/process binder names that promtool's lint dislikes; none of them is Ferry's. */
  private static final Set<String> KNOWN_FOREIGN_LINT = Set.of(
    "jvm_compilation_time_ms_total metric names should not contain abbreviated units",
    "process_cpu_time_ns_total metric names should not contain abbreviated units",
    "system_cpu_count non-histogram and non-summary metrics should not have \"_count\" suffix");

  private static final Duration WAIT = Duration.ofSeconds(45);

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void prometheusScrapesExactCountersAndRaisesNoLeakOrDoubleFreeAlertOnAHealthyRun(@TempDir Path dir) throws Exception {
    Path prometheusBin = Tools.require(Tools.PROMETHEUS);
    Path promtool = Tools.require(Tools.PROMTOOL);
    Process prometheus = null;
    try (FerryHarness echo = FerryHarness.start(FerryHarness.options());
         FerryHarness refusing = FerryHarness.start(refusingOptions())) {
      Manifests k8s = Manifests.load();
      Path rules = Rules.writePlain(k8s, dir.resolve("ferry-rules.yaml"));
      int ruleGroups = Rules.groups(k8s).size();
      int port = Ports.freeLoopbackPort();
      Path config = dir.resolve("prometheus.yml");
      Files.writeString(config, """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        rule_files: ["%s"]
        scrape_configs:
          - job_name: ferry
            static_configs:
              - targets: ["127.0.0.1:%d", "127.0.0.1:%d"]
        """.formatted(rules, echo.ferry().adminPort(), refusing.ferry().adminPort()));
      Path logFile = dir.resolve("prometheus.log");
      prometheus = new ProcessBuilder(prometheusBin.toString(), "--config.file=" + config,
        "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
        .redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
      String api = "http://127.0.0.1:" + port;
      Process p = prometheus;
      awaitTrue("Prometheus ready on " + port, () -> {
        if (!p.isAlive()) {
          throw new AssertionError("prometheus exited " + p.exitValue() + ":\n" + Files.readString(logFile));
        }
        return get(api + "/-/ready").statusCode() == 200;
      });
      awaitValue(api, "count(up{job=\"ferry\"} == 1)", 2);

      // Traffic: 2 normal exchanges, 1 client reset, 1 prevented double free on the echo Ferry;
      // 2 refused connects on the other, the second after Prometheus saw the first (so rate() sees an increase).
      Traffic.echoOnce(echo);
      Traffic.echoOnce(echo);
      Traffic.clientReset(echo);
      Traffic.preventedDoubleFree(echo);
      refusedConnect(refusing);
      awaitValue(api, "sum(ferry_connections_closed_total{reason=\"CONNECT_FAILED\"})", 1);
      refusedConnect(refusing);

      awaitValue(api, "sum(ferry_connections_opened_total{job=\"ferry\"})", 6);
      awaitValue(api, "sum(ferry_connections_closed_total{reason=\"PEER_CLOSED\",side=\"client\"})", 2);
      awaitValue(api, "sum(ferry_connections_closed_total{reason=\"PEER_RESET\",side=\"client\"})", 1);
      awaitValue(api, "sum(ferry_connections_closed_total{reason=\"ADMIN_KILL\",side=\"proxy\"})", 1);
      awaitValue(api, "sum(ferry_connections_closed_total{reason=\"CONNECT_FAILED\",side=\"upstream\"})", 2);
      // A reset or a kill can race a second close request of its own: compare with Ferry's own count.
      echo.assertReleasedCleanly();
      refusing.assertReleasedCleanly();
      long prevented = echo.metrics().preventedTotal() + refusing.metrics().preventedTotal();
      assertThat(prevented).isPositive();
      awaitValue(api, "sum(ferry_double_free_prevented_total)", prevented);
      awaitValue(api, "sum(ferry_bytes_total{direction=\"upstream\"})", 5 + 5 + 1 + 1);
      awaitValue(api, "sum(ferry_connections_open) + sum(ferry_connections_closing) + sum(ferry_buffers_held)", 0);
      awaitValue(api, "sum(ferry_leaks_detected_total) + sum(ferry_double_free_detected_total)", 0);
      awaitValue(api, "sum(ferry_connection_duration_seconds_count)", 6);
      Instant seen = Instant.now();

      // The rules ran over this data: the refused connects make FerryUpstreamConnectFailures pending (it needs
      // 5 minutes to fire), and every group evaluated after the data arrived, healthily.
      awaitTrue("FerryUpstreamConnectFailures pending", () -> alerts(api).stream()
        .anyMatch(a -> a.getJsonObject("labels").getString("alertname").equals("FerryUpstreamConnectFailures")));
      awaitTrue("every rule group evaluated after " + seen, () -> {
        JsonArray groups = json(api + "/api/v1/rules").getJsonObject("data").getJsonArray("groups");
        return groups.size() == ruleGroups && groups.stream().map(JsonObject.class::cast)
          .allMatch(g -> Instant.parse(g.getString("lastEvaluation")).isAfter(seen));
      });
      JsonArray groups = json(api + "/api/v1/rules").getJsonObject("data").getJsonArray("groups");
      groups.stream().map(JsonObject.class::cast).flatMap(g -> g.getJsonArray("rules").stream())
        .map(JsonObject.class::cast)
        .forEach(r -> assertThat(r.getString("health")).as("health of rule %s: %s", r.getString("name"),
          r.getString("lastError")).isEqualTo("ok"));
      for (JsonObject alert : alerts(api)) {
        assertThat(alert.getJsonObject("labels").getString("alertname"))
          .as("alert on a healthy run: %s", alert)
          .isNotIn("FerryLeakDetected", "FerryDoubleFreeDetected", "FerryConnectionsStuckClosing", "FerryTargetDown",
            "FerryFileDescriptorsNearLimit");
      }

      // Every dashboard query is valid PromQL that Prometheus evaluates.
      for (String expr : Dashboard.expressions()) {
        JsonObject r = json(api + "/api/v1/query?query=" + enc(Dashboard.forPrometheus(expr)));
        assertThat(r.getString("status")).as("dashboard query %s: %s", expr, r).isEqualTo("success");
      }

      // promtool's lint of the exposition: nothing about Ferry's own metrics.
      String exposition = echo.admin("GET", "/metrics").body();
      Tools.Result lint = Tools.run(List.of(promtool.toString(), "check", "metrics"), exposition, Duration.ofSeconds(30));
      List<String> problems = lint.output().lines().map(String::trim).filter(l -> !l.isEmpty()).toList();
      log.info("conn=- promtool check metrics (exit {}): {}", lint.exit(), problems);
      assertThat(problems).as("promtool check metrics on Ferry's /metrics").noneMatch(l -> l.startsWith("ferry_"));
      assertThat(KNOWN_FOREIGN_LINT).as("promtool check metrics on Ferry's /metrics").containsAll(problems);

      echo.assertReleasedCleanly();
      refusing.assertReleasedCleanly();
    } finally {
      if (prometheus != null) {
        prometheus.destroy();
        if (!prometheus.waitFor(20, TimeUnit.SECONDS)) {
          prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static TestConfig refusingOptions() throws IOException {
    return FerryHarness.options(Backend.refusingAddress()).set("connect.attempts", 1);
  }

  private static void refusedConnect(FerryHarness ferry) throws IOException {
    try (Peer client = ferry.connect()) {
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.CONNECT_FAILED, Side.UPSTREAM);
    }
  }

  private void awaitValue(String api, String query, double expected) {
    List<String> last = new ArrayList<>();
    try {
      awaitTrue(query + " == " + expected, () -> {
        JsonArray result = json(api + "/api/v1/query?query=" + enc(query)).getJsonObject("data").getJsonArray("result");
        last.clear();
        last.add(result.encode());
        return result.size() == 1 && Double.parseDouble(result.getJsonObject(0).getJsonArray("value").getString(1)) == expected;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last answer " + last, e);
    }
  }

  private List<JsonObject> alerts(String api) throws Exception {
    return json(api + "/api/v1/alerts").getJsonObject("data").getJsonArray("alerts").stream()
      .map(JsonObject.class::cast).toList();
  }

  private JsonObject json(String url) throws Exception {
    return new JsonObject(get(url).body());
  }

  private HttpResponse<String> get(String url) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
      HttpResponse.BodyHandlers.ofString());
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** A condition that may throw while its subject starts (connection refused): polled until true or WAIT. */
  @FunctionalInterface
  private interface Check {
    boolean test() throws Exception;
  }

  private static void awaitTrue(String what, Check check) {
    Await.until(what, WAIT, () -> {
      try {
        if (check.test()) {
          return true;
        }
        Peer.nap(Duration.ofMillis(100));
        return false;
      } catch (AssertionError e) {
        throw e;
      } catch (Exception e) {
        Peer.nap(Duration.ofMillis(50));
        return false;
      }
    });
  }
}
