package dev.ferry.admin;

import dev.ferry.support.Await;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.AdminCloseCause;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The admin listener bounds its own connections (admin.request-timeout, admin.idle-timeout, admin.max-connections),
 * so a slowloris on :9900 cannot hold the descriptors the proxy needs, while Prometheus and the kubelet still get
 * answers.
 */
class AdminConnectionBoundsTest {

  private static final Duration REQUEST_TIMEOUT = Duration.ofMillis(300);
  private static final Duration IDLE_TIMEOUT = Duration.ofMillis(500);
  private static final String HALF_A_HEADER = "GET /metrics HTTP/1.1\r\nHost: ferry\r\nAccept: text/pl";

  private static FerryHarness start(int maxConnections, Duration requestTimeout, Duration idleTimeout) {
    return FerryHarness.start(FerryHarness.options().set("admin.max-connections", maxConnections)
      .set("admin.request-timeout", requestTimeout).set("admin.idle-timeout", idleTimeout));
  }

  private static long closed(FerryHarness ferry, AdminCloseCause cause) {
    return ferry.metrics().adminConnectionsClosedTotal(cause);
  }

  @Test
  void closesAClientThatSentHalfARequestHeaderAfterTheRequestTimeout() throws Exception {
    try (FerryHarness ferry = start(8, REQUEST_TIMEOUT, Duration.ofSeconds(30))) {
      Peer slow = Peer.connect(ferry.ferry().adminPort());
      long start = System.nanoTime();
      slow.write(HALF_A_HEADER);
      slow.awaitClosedByPeer();
      Duration held = Duration.ofNanos(System.nanoTime() - start);
      assertThat(held).as("time until the half request was closed").isBetween(REQUEST_TIMEOUT.minusMillis(50),
        Duration.ofSeconds(5));
      Await.equal("ferry_admin_connections_closed_total{cause=request_timeout}", 1L,
        () -> closed(ferry, AdminCloseCause.REQUEST_TIMEOUT));
      assertThat(closed(ferry, AdminCloseCause.IDLE_TIMEOUT)).isZero();
      assertThat(closed(ferry, AdminCloseCause.MAX_CONNECTIONS)).isZero();
    }
  }

  @Test
  void keepsAKeepAliveConnectionForItsNextRequestsAndClosesItOnceSilentForTheIdleTimeout() throws Exception {
    try (FerryHarness ferry = start(8, REQUEST_TIMEOUT, IDLE_TIMEOUT)) {
      Peer client = Peer.connect(ferry.ferry().adminPort());
      for (int i = 0; i < 3; i++) {
        client.write(RawHttp.request("GET", "/health/live"));
        assertThat(RawHttp.read(client).status()).as("request %d on one keep-alive connection", i).isEqualTo(200);
      }
      long answered = System.nanoTime();
      client.awaitClosedByPeer();
      Duration silent = Duration.ofNanos(System.nanoTime() - answered);
      assertThat(silent).as("silence until the keep-alive connection was closed")
        .isBetween(IDLE_TIMEOUT.minusMillis(50), Duration.ofSeconds(5));
      Await.equal("ferry_admin_connections_closed_total{cause=idle_timeout}", 1L,
        () -> closed(ferry, AdminCloseCause.IDLE_TIMEOUT));
      assertThat(closed(ferry, AdminCloseCause.REQUEST_TIMEOUT)).as("each request arrived whole in time").isZero();
    }
  }

  @Test
  void closesTheConnectionOverMaxConnectionsAtOnceWhileTheOthersStillGetAnswers() throws Exception {
    try (FerryHarness ferry = start(4, Duration.ofSeconds(30), Duration.ofSeconds(30))) {
      int port = ferry.ferry().adminPort();
      List<Peer> admitted = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        admitted.add(Peer.connect(port));
      }
      // Accepted in order on the admin's one event loop: the fifth is the one over the cap.
      Peer over = Peer.connect(port);
      long start = System.nanoTime();
      over.awaitClosedByPeer();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("time until the fifth was closed")
        .isLessThan(Duration.ofSeconds(5));
      Await.equal("ferry_admin_connections_closed_total{cause=max_connections}", 1L,
        () -> closed(ferry, AdminCloseCause.MAX_CONNECTIONS));

      for (Peer p : admitted) {
        p.write(RawHttp.request("GET", "/health/ready"));
        assertThat(RawHttp.read(p).status()).isEqualTo(200);
      }
      // One of them scrapes, as Prometheus does: on its kept-alive connection, the whole exposition.
      admitted.get(0).write(RawHttp.request("GET", "/metrics"));
      RawHttp.Response scrape = RawHttp.read(admitted.get(0));
      assertThat(scrape.status()).isEqualTo(200);
      assertThat(scrape.body()).contains("ferry_admin_connections_closed_total{cause=\"max_connections\"} 1.0");
      for (Peer p : admitted) {
        p.close();
      }
      assertThat(closed(ferry, AdminCloseCause.REQUEST_TIMEOUT) + closed(ferry, AdminCloseCause.IDLE_TIMEOUT))
        .isZero();
    }
  }

  @Test
  void refusesAnOversizedRequestLineWith414AndOversizedHeadersWith431() throws Exception {
    try (FerryHarness ferry = start(8, Duration.ofSeconds(30), Duration.ofSeconds(30))) {
      int port = ferry.ferry().adminPort();
      RawHttp.Response line = RawHttp.exchange(port, RawHttp.request("GET", "/metrics?" + "x".repeat(5000)));
      assertThat(line.status()).isEqualTo(414);
      RawHttp.Response headers = RawHttp.exchange(port, RawHttp.request("GET", "/metrics", "X-Big: " + "y".repeat(9000)));
      assertThat(headers.status()).isEqualTo(431);
      assertThat(line.body() + headers.body()).doesNotContain("Exception");
    }
  }

  /**
   * The slowloris that held 300 admin connections for more than a minute: now at most max-connections of them are
   * held, each for at most the request timeout, and a Prometheus-style scrape gets through afterwards.
   */
  @Test
  void aSlowlorisHoldsAtMostMaxConnectionsForAtMostTheRequestTimeoutThenAScrapeGetsThrough() throws Exception {
    try (FerryHarness ferry = start(4, REQUEST_TIMEOUT, IDLE_TIMEOUT)) {
      int port = ferry.ferry().adminPort();
      List<Peer> slow = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        Peer p = Peer.connect(port);
        slow.add(p);
        try {
          p.write(HALF_A_HEADER);
        } catch (java.io.IOException closedAlready) {
          // closed at once, over the cap: what the loop below checks
        }
      }
      long start = System.nanoTime();
      for (Peer p : slow) {
        p.awaitClosedByPeer();
        p.close();
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("until every slow client was closed")
        .isLessThan(Duration.ofSeconds(5));
      Await.equal("closed at once, over the cap", 8L, () -> closed(ferry, AdminCloseCause.MAX_CONNECTIONS));
      Await.equal("closed after the request timeout", 4L, () -> closed(ferry, AdminCloseCause.REQUEST_TIMEOUT));

      HttpClient prometheus = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5)).build();
      HttpRequest scrape = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
        .header("Accept", "text/plain;version=0.0.4").timeout(Duration.ofSeconds(10)).GET().build();
      // The slow clients' close handlers may still be on their way: the scrape goes through once they have run.
      Await.until("a scrape answers 200", () -> {
        try {
          return prometheus.send(scrape, HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
        } catch (java.io.IOException e) {
          return false;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      });
      HttpResponse<String> res = prometheus.send(scrape, HttpResponse.BodyHandlers.ofString());
      assertThat(res.statusCode()).isEqualTo(200);
      assertThat(res.body()).contains("ferry_admin_connections_closed_total{cause=\"request_timeout\"} 4.0")
        .contains("ferry_admin_connections_closed_total{cause=\"max_connections\"} 8.0")
        .contains("ferry_admin_connections_closed_total{cause=\"idle_timeout\"} 0.0");
    }
  }
}
