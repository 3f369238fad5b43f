package dev.ferry.proxy;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.support.Backend;
import dev.ferry.support.Blackhole;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Round-robin over several upstreams, the next one on a failed connect, and the end when all fail. */
class UpstreamSelectionTest {

  @Test
  void spreadsConnectionsRoundRobinOverUpstreams() throws Exception {
    try (Backend a = new Backend(Backend.HOLD); Backend b = new Backend(Backend.HOLD); Backend c = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(a.address(), b.address(), c.address()))) {
      List<Peer> clients = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        Peer client = ferry.connect();
        clients.add(client);
        client.write("x");
        int accepted = i + 1;
        dev.ferry.support.Await.until(accepted + " upstream connections",
          () -> a.accepted().size() + b.accepted().size() + c.accepted().size() == accepted);
      }
      assertThat(List.of(a.accepted().size(), b.accepted().size(), c.accepted().size())).containsExactly(2, 2, 2);
      for (Peer client : clients) {
        client.close();
      }
      // Each upstream sees the client's FIN, then closes its own side: the connection ends in order.
      for (Backend backend : List.of(a, b, c)) {
        for (Peer upstream : backend.accepted()) {
          upstream.awaitClosedByPeer();
          upstream.close();
        }
      }
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal(CloseReason.PEER_CLOSED, Side.CLIENT)).isEqualTo(6);
    }
  }

  @Test
  void triesTheNextUpstreamWhenOneRefuses() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    try (Backend healthy = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(5))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(refusing, healthy.address()))) {
      Peer client = ferry.connect();
      client.write("hello");
      assertThat(client.readExactlyText(5)).isEqualTo("hello");
      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getString("upstream")).isEqualTo(healthy.address().toString());
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void forwardsBytesSentWhileConnectingInOrderOnceAnUpstreamAnswers() throws Exception {
    byte[] early = new byte[200_000];
    new java.util.Random(7).nextBytes(early);
    try (Blackhole silent = new Blackhole();
         Backend echo = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(early.length + 4))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(silent.address(), echo.address())
           .set("connect.timeout", Duration.ofMillis(500)).set("connect.attempts", 2))) {
      Peer client = ferry.connect();
      // The first attempt hangs for 500 ms: everything below is sent while no upstream exists.
      client.write(early);
      client.write("tail");
      byte[] back = client.readExactly(early.length + 4);
      assertThat(java.util.Arrays.copyOf(back, early.length)).isEqualTo(early);
      assertThat(new String(back, early.length, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("tail");
      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getDouble("connect_ms")).isGreaterThanOrEqualTo(500.0);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void resolvesUpstreamHostnamesAtConnectTime() throws Exception {
    try (Backend named = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(4))))) {
      UpstreamAddress byName = new UpstreamAddress("localhost", named.address().port());
      try (FerryHarness ferry = FerryHarness.start(FerryHarness.options(byName))) {
        Peer client = ferry.connect();
        client.write("name");
        assertThat(client.readExactlyText(4)).isEqualTo("name");
        client.close();
        JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
        assertThat(line.getString("upstream")).isEqualTo("localhost:" + named.address().port());
        ferry.assertReleasedCleanly();
      }
    }
  }

  @Test
  void closesClientWhenEveryUpstreamRefuses() throws Exception {
    UpstreamAddress first = Backend.refusingAddress();
    UpstreamAddress second = Backend.refusingAddress();
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options(first, second).set("connect.attempts", 3))) {
      Peer client = ferry.connect();
      // Bytes sent before the upstream exists are held by Vert.x for the paused client; the release drains them.
      client.write("lost with the connection");
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.CONNECT_FAILED, Side.UPSTREAM);
      assertThat(line.getString("detail")).startsWith("attempt 3 to ");
      assertThat(line.getString("upstream")).isNull();
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void closesClientWithConnectTimeoutWhenTheUpstreamNeverAnswers() throws Exception {
    try (Blackhole silent = new Blackhole();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(silent.address())
           .set("connect.timeout", Duration.ofMillis(300)).set("connect.attempts", 2))) {
      Peer client = ferry.connect();
      client.write("waiting");
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.CONNECT_TIMEOUT, Side.UPSTREAM);
      ferry.assertReleasedCleanly();
    }
  }
}
