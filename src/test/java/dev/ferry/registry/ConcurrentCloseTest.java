package dev.ferry.registry;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The IOCP lesson itself: many close requests for one connection, from many threads at once, end in exactly one
 * release; all the others are counted as prevented double frees. And the alarms: a release that runs twice is a
 * detected double free, a release never acknowledged is a leak; neither crashes anything.
 */
class ConcurrentCloseTest {

  private static final CloseReason[] REASONS = {CloseReason.PEER_RESET, CloseReason.IO_ERROR,
    CloseReason.WRITE_FAILED, CloseReason.IDLE_TIMEOUT};

  /** The registry id of the (only) open connection, from the admin API. */
  private static long onlyConnectionId(FerryHarness ferry) throws Exception {
    HttpResponse<String> res = ferry.admin("GET", "/connections");
    assertThat(res.statusCode()).isEqualTo(200);
    return new JsonObject(res.body()).getJsonArray("connections").getJsonObject(0).getLong("id");
  }

  @Test
  void manySimultaneousCloseRequestsReleaseOnceAndCountTheRestAsPrevented() throws Exception {
    int threads = 8;
    int perThread = 100;
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address()).set("registry.shards", 2))) {
      Peer client = ferry.connect();
      Peer upstream = backend.awaitAccepted(1);
      Await.until("the connection is registered", () -> ferry.metrics().connectionsOpen() == 1);
      long id = onlyConnectionId(ferry);
      String address = Addresses.registry(Addresses.shardOf(id, 2));

      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CyclicBarrier start = new CyclicBarrier(threads);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        CloseReason reason = REASONS[t % REASONS.length];
        done.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < perThread; i++) {
            ferry.ferry().vertx().eventBus().send(address, new CloseRequest(id, reason, Side.PROXY, "stress"));
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();

      client.awaitClosedByPeer();
      upstream.awaitClosedByPeer();
      JsonObject line = ferry.access().awaitOne(client.localPort());
      CloseReason winner = CloseReason.valueOf(line.getString("reason"));
      assertThat(winner).isIn((Object[]) REASONS);
      ferry.assertReleasedCleanly();
      Await.equal("prevented double frees", (long) threads * perThread - 1, () -> ferry.metrics().preventedTotal());
      assertThat(ferry.metrics().closedTotal()).isEqualTo(1);
      assertThat(ferry.access().forClientPort(client.localPort())).hasSize(1);
    }
  }

  @Test
  void countsAReleaseOrderedTwiceAsADetectedDoubleFreeAndKeepsServing() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options())) {
      Peer client = ferry.connect();
      client.write("a");
      client.readExactly(1);
      long id = onlyConnectionId(ferry);
      // Test-only seam: impersonate a broken registry that orders the same release twice, back to back.
      ReleaseOrder order = new ReleaseOrder(id, CloseReason.ADMIN_KILL, Side.PROXY);
      ferry.ferry().vertx().eventBus().send(Addresses.listener(0), order);
      ferry.ferry().vertx().eventBus().send(Addresses.listener(0), order);

      client.awaitClosedByPeer();
      // Detected twice: the owner refuses the second order, and the registry, which never ordered this release,
      // refuses the acknowledgement.
      Await.equal("detected double frees", 2L, () -> ferry.metrics().doubleFreeDetectedTotal());
      assertThat(ferry.metrics().buffersHeld()).isZero();

      Peer next = ferry.connect();
      next.write("still serving");
      assertThat(next.readExactlyText(13)).isEqualTo("still serving");
      next.close();
      ferry.access().awaitOne(next.localPort());
    }
  }

  @Test
  void countsAReleaseNeverAcknowledgedAsALeak() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options()
      .set("registry.release-timeout", java.time.Duration.ofMillis(2500)).set("registry.watchdog-interval", java.time.Duration.ofMillis(100)))) {
      // Test-only seam: a connection the registry believes in, owned by a listener address nobody consumes.
      ConnectionInfo ghost = new ConnectionInfo(999_999, "default", "127.0.0.1:1", System.currentTimeMillis(), System.nanoTime());
      String shard = Addresses.registry(0);
      ferry.ferry().vertx().eventBus().send(shard, new ConnectionOpened(ghost, "ferry.listener.nobody"));
      ferry.ferry().vertx().eventBus().send(shard, new CloseRequest(999_999, CloseReason.IO_ERROR, Side.PROXY, "t"));

      Await.equal("stuck-release leaks", 1L, () -> ferry.metrics().leaksTotal(LeakKind.RELEASE));
      assertThat(ferry.metrics().connectionsClosing()).isEqualTo(1);
      // Counted once, however long it stays stuck.
      Peer.nap(java.time.Duration.ofMillis(300));
      assertThat(ferry.metrics().leaksTotal(LeakKind.RELEASE)).isEqualTo(1);
    }
  }
}
