package dev.ferry.proxy;

import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Several routes in one Ferry, as HAProxy frontends or nginx server blocks: each its own port, pool, limits and
 * timeouts, and its own metrics, served by the same listeners.
 */
class RoutesTest {

  private static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  private static Backend echo() throws IOException {
    return new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(PING.length))));
  }

  private static void exchange(Peer client) throws IOException {
    client.write(PING);
    assertThat(client.readExactly(PING.length)).isEqualTo(PING);
  }

  private static long opened(FerryHarness ferry, String route) {
    return (long) ferry.metrics().registry().find(MetricNames.CONNECTIONS_OPENED).tag(MetricNames.TAG_ROUTE, route)
      .counters().stream().mapToDouble(Counter::count).sum();
  }

  @Test
  void twoRoutesProxyToTheirOwnPoolsAndCountSeparately() throws Exception {
    try (Backend a = echo(); Backend b1 = echo(); Backend b2 = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("instances", 2)
           .route("alpha", a.address())
           .route("beta", b1.address(), b2.address()).routeSet("beta", "balance", "least-connections"))) {
      assertThat(ferry.ferry().proxyPort("alpha")).isPositive().isNotEqualTo(ferry.ferry().proxyPort("beta"));
      for (int i = 0; i < 3; i++) {
        try (Peer client = ferry.connect("alpha")) {
          exchange(client);
          client.close();
          JsonObject line = ferry.access().awaitOne(client.localPort());
          assertThat(line.getString("route")).isEqualTo("alpha");
          assertThat(line.getString("upstream")).isEqualTo(a.address().toString());
        }
      }
      for (int i = 0; i < 4; i++) {
        try (Peer client = ferry.connect("beta")) {
          exchange(client);
          client.close();
          assertThat(ferry.access().awaitOne(client.localPort()).getString("route")).isEqualTo("beta");
        }
      }
      assertThat(a.accepted()).hasSize(3);
      assertThat(b1.accepted().size() + b2.accepted().size()).isEqualTo(4);
      assertThat(opened(ferry, "alpha")).isEqualTo(3);
      assertThat(opened(ferry, "beta")).isEqualTo(4);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void eachRouteKeepsItsOwnLimitsAndTimeouts() throws Exception {
    try (Backend a = new Backend(Backend.HOLD); Backend b = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("idle-timeout", "5m")
           .route("quick", a.address()).routeSet("quick", "idle-timeout", "300ms")
           .route("small", b.address()).routeSet("small", "limits.max-connections", 1))) {
      Peer idle = ferry.connect("quick");
      Peer first = ferry.connect("small");
      b.awaitAccepted(1);
      Peer second = ferry.connect("small");
      second.awaitClosedByPeer();
      JsonObject refused = ferry.assertClosedFor(second, CloseReason.LIMIT, Side.PROXY);
      assertThat(refused.getString("detail")).isEqualTo("over routes[small].limits.max-connections (1)");

      idle.awaitClosedByPeer();
      ferry.assertClosedFor(idle, CloseReason.IDLE_TIMEOUT, Side.PROXY);
      assertThat(ferry.access().forClientPort(first.localPort())).as("the other route's idle timeout is 5m")
        .isEmpty();
      first.close();
      b.awaitAccepted(1).awaitClosedByPeer();
      b.awaitAccepted(1).close();
      ferry.assertClosedFor(first, CloseReason.PEER_CLOSED, Side.CLIENT);
      a.awaitAccepted(1).close();
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * A Redis-like upstream: answers a check's {@code PING} with {@code +PONG} while healthy ({@code -ERR} otherwise),
   * and echoes a client's ping, counting the clients it served.
   */
  private static final class Redis implements Backend.Behaviour {
    final AtomicBoolean healthy = new AtomicBoolean(true);
    final java.util.concurrent.atomic.AtomicInteger clients = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void serve(Peer peer) throws IOException {
      byte[] first = peer.readExactly(PING.length);
      if (new String(first, StandardCharsets.US_ASCII).equals("PING\r")) {
        peer.readExactly(1);
        peer.write(healthy.get() ? "+PONG\r\n" : "-ERR loading\r\n");
      } else {
        clients.incrementAndGet();
        peer.write(first);
        peer.readToEnd(java.time.Duration.ZERO);
      }
      peer.close();
    }
  }

  /** HAProxy's {@code tcp-check send PING / expect +PONG}: an upstream that answers wrong gets no more clients. */
  @Test
  void activeChecksTakeAnUpstreamThatAnswersWrongOutOfItsRouteAndRiseBringsItBack() throws Exception {
    Redis sickOne = new Redis();
    Redis fineOne = new Redis();
    try (Backend sick = new Backend(sickOne); Backend fine = new Backend(fineOne);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options()
           .route("redis", sick.address(), fine.address())
           .routeSet("redis", "health.active.enabled", true).routeSet("redis", "health.active.interval", "100ms")
           .routeSet("redis", "health.active.rise", 2).routeSet("redis", "health.active.fall", 2)
           .routeSet("redis", "health.active.send", "PING\\r\\n").routeSet("redis", "health.active.expect", "+PONG"))) {
      Gauge sickUp = ferry.metrics().registry().find(MetricNames.UPSTREAM_UP)
        .tag(MetricNames.TAG_UPSTREAM, sick.address().toString()).gauge();
      Await.until("both upstreams pass their checks", () -> checks(ferry, sick, "passed") > 0
        && checks(ferry, fine, "passed") > 0);
      sickOne.healthy.set(false);
      Await.until("the sick upstream is down after fall checks", () -> sickUp.value() == 0.0);
      assertThat(checks(ferry, sick, "unexpected_reply")).isGreaterThanOrEqualTo(2);

      for (int i = 0; i < 10; i++) {
        try (Peer client = ferry.connect("redis")) {
          exchange(client);
          client.finish();
          client.awaitClosedByPeer();
        }
      }
      assertThat(sickOne.clients.get()).as("clients sent to the down upstream").isZero();
      assertThat(fineOne.clients.get()).isEqualTo(10);

      sickOne.healthy.set(true);
      Await.until("rise checks bring it back", () -> sickUp.value() == 1.0);
      Await.until("every client released", () -> ferry.metrics().closedTotal() == 10);
      ferry.assertReleasedCleanly();
    }
  }

  private static long checks(FerryHarness ferry, Backend upstream, String result) {
    return (long) ferry.metrics().registry().find(MetricNames.HEALTH_CHECKS)
      .tag(MetricNames.TAG_UPSTREAM, upstream.address().toString()).tag(MetricNames.TAG_RESULT, result)
      .counters().stream().mapToDouble(Counter::count).sum();
  }
}
