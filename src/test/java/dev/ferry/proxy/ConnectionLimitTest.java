package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Over a limit, a client is closed at once with LIMIT, counted, and costs nothing else (no upstream, no buffer). */
class ConnectionLimitTest {

  private static Peer connectFrom(String localIp, int port) throws IOException {
    Socket s = new Socket();
    s.bind(new InetSocketAddress(InetAddress.getByName(localIp), 0));
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    return new Peer(s);
  }

  @Test
  void closesClientsOverMaxConnectionsWithLimitAndAdmitsAgainWhenOneLeaves() throws Exception {
    try (Backend backend = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(2))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("limits.max-connections", 2))) {
      Peer a = ferry.connect();
      Peer b = ferry.connect();
      a.write("a1");
      b.write("b1");
      assertThat(a.readExactlyText(2)).isEqualTo("a1");
      assertThat(b.readExactlyText(2)).isEqualTo("b1");

      Peer refused = ferry.connect();
      refused.write("no room");
      refused.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(refused, CloseReason.LIMIT, Side.PROXY);
      assertThat(line.getString("detail")).contains("limits.max-connections (2)");
      assertThat(line.getString("upstream")).as("no upstream used").isNull();
      assertThat(backend.accepted()).hasSize(2);

      a.close();
      ferry.assertClosedFor(a, CloseReason.PEER_CLOSED, Side.CLIENT);
      Peer c = ferry.connect();
      c.write("c1");
      assertThat(c.readExactlyText(2)).isEqualTo("c1");
      b.close();
      c.close();
      ferry.assertClosedFor(c, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal(CloseReason.LIMIT, Side.PROXY)).isEqualTo(1);
    }
  }

  @Test
  void limitsConnectionsPerSourceAddress() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("limits.max-connections-per-source", 1))) {
      Peer first = connectFrom("127.0.0.1", ferry.port());
      first.write("x");
      assertThat(first.readExactlyText(1)).isEqualTo("x");

      Peer sameSource = connectFrom("127.0.0.1", ferry.port());
      sameSource.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(sameSource, CloseReason.LIMIT, Side.PROXY);
      assertThat(line.getString("detail")).contains("limits.max-connections-per-source (1) for 127.0.0.1");

      Peer otherSource = connectFrom("127.0.0.2", ferry.port());
      otherSource.write("y");
      assertThat(otherSource.readExactlyText(1)).isEqualTo("y");

      first.close();
      otherSource.close();
      ferry.assertClosedFor(otherSource, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * A flood of clients sending as fast as they can to an upstream that never reads: each connection alone could
   * queue its 256 KiB soft limit (2 MiB for eight; the budget may not be below one soft limit), but together they
   * stay under the 256 KiB global budget plus one read each.
   */
  @Test
  void keepsTheTotalQueuedUnderTheGlobalBudgetWhenManyClientsFloodASilentUpstream() throws Exception {
    int clients = 8;
    int budget = 256 * 1024;
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("buffer.soft-limit", budget).set("buffer.hard-limit", 4 * 1024 * 1024).set("limits.max-buffered-bytes", budget))) {
      byte[] chunk = new byte[128 * 1024];
      List<Peer> peers = new ArrayList<>();
      List<CompletableFuture<Void>> writers = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        Peer p = ferry.connect();
        peers.add(p);
        writers.add(CompletableFuture.runAsync(() -> {
          try {
            for (int n = 0; n < 1024; n++) {
              p.write(chunk);
            }
          } catch (IOException closed) {
            // the test resets the client
          }
        }));
      }
      backend.awaitAccepted(clients);
      Await.until("Ferry queues toward the silent upstream", () -> ferry.metrics().bytesQueued() > budget / 2);
      long max = 0;
      for (int i = 0; i < 100; i++) {
        max = Math.max(max, ferry.metrics().bytesQueued());
        Peer.nap(java.time.Duration.ofMillis(10));
      }
      assertThat(max).isLessThanOrEqualTo(budget + clients * 64 * 1024L);
      assertThat(ferry.metrics().closedTotal()).isZero();

      for (Peer p : peers) {
        p.reset();
      }
      CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).join();
      for (Peer upstream : backend.accepted()) {
        upstream.awaitClosedByPeer();
      }
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal(CloseReason.PEER_RESET, Side.CLIENT)).isEqualTo(clients);
    }
  }
}
